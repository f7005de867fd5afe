package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// The tests in this file run jobs through a real gitlab-runner (built from
// the Go module proxy by hack/gitlab-runner/build.sh) against a fake GitLab
// (coordinator_test.go): `gitlab-runner run-single` with the custom executor
// calls the k8sdrv binary under test for config, prepare, every stage and
// cleanup, exactly as in production.

// runnerToken is the runner's authentication token; its first characters
// after the prefix become CI_RUNNER_SHORT_TOKEN and so the pod's name.
const runnerToken = "glrt-k8sdrvE2Etoken0001"

var gitlabRunner struct {
	once sync.Once
	path string
	err  error
}

// gitlabRunnerBinary builds gitlab-runner, or finds it built: 2.5 to 4
// minutes the first time on a machine, then cached in ~/.cache/k8sdrv.
func gitlabRunnerBinary(t testing.TB) string {
	t.Helper()
	gitlabRunner.once.Do(func() {
		cmd := exec.Command("../hack/gitlab-runner/build.sh")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			gitlabRunner.err = fmt.Errorf("hack/gitlab-runner/build.sh: %w", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		gitlabRunner.path = lines[len(lines)-1]
	})
	assert.NilError(t, gitlabRunner.err)
	return gitlabRunner.path
}

// runnerJobResult is what one job looked like from the fake GitLab.
type runnerJobResult struct {
	trace   string   // the job log as GitLab stored it
	states  []string // every state the runner reported
	final   jobUpdate
	log     string        // gitlab-runner's own output
	elapsed time.Duration // from start to exit of gitlab-runner
}

// runThroughGitLabRunner hands job to `gitlab-runner run-single` with k8sdrv
// as its custom executor and waits until the runner has reported its final
// state and exited. setup, if any, configures the fake GitLab first.
func runThroughGitLabRunner(t *testing.T, job ciJob, setup ...func(*coordinator)) runnerJobResult {
	t.Helper()
	skipShort(t)
	t.Cleanup(func() { cleanupJobPods(t, job.id) })
	return runJobThrough(t, job, k8sdrvExecutor(t, t.TempDir()), setup...)
}

// runnerExecutor is how the runner runs a job: the executor's lines of the
// [[runners]] section, and what the runner's own environment must hold for
// it (the runner hands its environment to a custom executor's driver).
type runnerExecutor struct {
	toml string
	env  []string
}

// k8sdrvExecutor is the custom executor with the k8sdrv binary under test
// as config, prepare, run and cleanup; its config file goes into root.
func k8sdrvExecutor(t testing.TB, root string) runnerExecutor {
	k8sdrvConfig := filepath.Join(root, "k8sdrv.toml")
	writeFile(t, k8sdrvConfig, fmt.Sprintf(`image = %q
helper_image = %q
poll_timeout = 60
cleanup_resources_timeout = "30s"
reconnect_timeout = "60s"
%s`, envOr("K8SDRV_E2E_IMAGE", "alpine:3"), envOr("K8SDRV_E2E_HELPER_IMAGE", "gitlab-runner-helper:local"), clusterConfig(root)))
	return runnerExecutor{
		toml: fmt.Sprintf(`  executor = "custom"
  builds_dir = %q
  cache_dir = %q
  [runners.custom]
    config_exec = %[3]q
    config_args = ["config"]
    prepare_exec = %[3]q
    prepare_args = ["prepare"]
    run_exec = %[3]q
    run_args = ["run"]
    cleanup_exec = %[3]q
    cleanup_args = ["cleanup"]
`, filepath.Join(root, "builds"), filepath.Join(root, "cache"), binary),
		// That is how k8sdrv gets its config file and the cluster.
		env: []string{"K8SDRV_CONFIG=" + k8sdrvConfig, "KUBECONFIG=" + kubeconfig},
	}
}

// runJobThrough hands job to `gitlab-runner run-single` running it with
// executor, and waits until the runner has reported its final state and
// exited. setup, if any, configures the fake GitLab first.
func runJobThrough(t testing.TB, job ciJob, executor runnerExecutor, setup ...func(*coordinator)) runnerJobResult {
	t.Helper()
	skipShort(t)
	runner := gitlabRunnerBinary(t)
	coord := newCoordinator(t, runnerToken)
	for _, f := range setup {
		f(coord)
	}
	coord.addJob(job.payload(coord.URL()))

	root := t.TempDir()
	tmp := filepath.Join(root, "tmp")
	assert.NilError(t, os.MkdirAll(tmp, 0o700))
	runnerConfig := filepath.Join(root, "config.toml")
	writeFile(t, runnerConfig, fmt.Sprintf(`concurrent = 1

[[runners]]
  name = "k8sdrv-e2e"
  url = %q
  token = %q
%s`, coord.URL(), runnerToken, executor.toml))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, runner, "run-single", "--config", runnerConfig, "--runner", "k8sdrv-e2e",
		"--max-builds", "1", "--wait-timeout", "60")
	cmd.Dir = root
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TMPDIR=" + tmp,
	}, executor.env...)
	// On timeout: SIGTERM lets the runner cancel the job and call cleanup.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	timer := benchmarkTimer(t)
	start := time.Now()
	timer.StartTimer()
	err := cmd.Run()
	timer.StopTimer()
	elapsed := time.Since(start)
	t.Cleanup(func() {
		// Shown with -v or on failure (a benchmark's log is always shown).
		if _, bench := t.(*testing.B); bench && !t.Failed() {
			return
		}
		trace, _, _ := coord.snapshot(job.id)
		t.Logf("job trace:\n%s", trace)
		if t.Failed() {
			t.Logf("gitlab-runner output:\n%s", out.String())
		}
	})
	assert.NilError(t, err, "gitlab-runner run-single (ctx: %v)", ctx.Err())

	j := coord.job(job.id)
	assert.Assert(t, j != nil, "gitlab-runner never requested the job")
	select {
	case <-j.finished:
	default:
		t.Fatalf("gitlab-runner exited without reporting a final state")
	}
	trace, states, final := coord.snapshot(job.id)
	// The runner's checksum covers what it sent: GitLab got every byte.
	assert.Equal(t, final.Output.Bytesize, len(trace), "trace size the runner reported vs what GitLab stored")
	// The runner removes its per-job TMPDIR after cleanup.
	left, err := os.ReadDir(tmp)
	assert.NilError(t, err)
	assert.Equal(t, len(left), 0, "left in the runner's TMPDIR: %v", left)
	return runnerJobResult{trace: trace, states: states, final: final, log: out.String(), elapsed: elapsed}
}

// benchmarkTimer is the timer of a benchmark (a benchmark times the
// runner from its start to its exit), and does nothing for a test.
func benchmarkTimer(t testing.TB) stopwatch {
	if b, ok := t.(*testing.B); ok {
		return b
	}
	return noTimer{}
}

type stopwatch interface {
	StartTimer()
	StopTimer()
}

type noTimer struct{}

func (noTimer) StartTimer() {}
func (noTimer) StopTimer()  {}

// cleanupJobPods asserts that no pod of the job remains; after a failed
// test it first deletes them with `k8sdrv cleanup` (which finds them by
// their labels).
func cleanupJobPods(t testing.TB, id int64) {
	j := &job{t: t, id: strconv.FormatInt(id, 10)}
	if t.Failed() {
		tmp, err := os.MkdirTemp("", "k8sdrv-cleanup-")
		assert.NilError(t, err)
		defer os.RemoveAll(tmp)
		cmd := exec.Command(binary, "cleanup")
		cmd.Dir = tmp
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + cmd.Dir,
			"KUBECONFIG=" + kubeconfig, "BUILD_FAILURE_EXIT_CODE=1", "SYSTEM_FAILURE_EXIT_CODE=2",
			"CUSTOM_ENV_CI_JOB_ID=" + j.id, "CUSTOM_ENV_CI_PROJECT_ID=4242",
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("k8sdrv cleanup: %v\n%s", err, out)
		}
	}
	assert.DeepEqual(t, j.pods(), []string(nil))
}

// assertInOrder checks that text contains every one of wants, in order.
func assertInOrder(t testing.TB, text string, wants ...string) {
	t.Helper()
	rest := text
	for _, want := range wants {
		i := strings.Index(rest, want)
		if i < 0 {
			if strings.Contains(text, want) {
				t.Errorf("trace has %q, but not after %q", want, wants)
			} else {
				t.Errorf("trace lacks %q", want)
			}
			return
		}
		rest = rest[i+len(want):]
	}
}

// newRunnerJobID returns a job id no other test uses (pods carry it).
func newRunnerJobID() int64 {
	return time.Now().UnixNano()%1e9*100 + jobSeq.Add(1)
}

// TestIntegrationGitLabRunnerPassingJob: a job whose script prints known
// lines (stdout, stderr, no trailing newline, a masked variable) passes,
// with every line in the job log in order, and leaves no pod.
func TestIntegrationGitLabRunnerPassingJob(t *testing.T) {
	// Outputs are computed by the shell, so the runner's echo of each
	// command ("$ printf ...") never matches them.
	r := runThroughGitLabRunner(t, ciJob{
		id:    newRunnerJobID(),
		token: "job-token-passing-0001",
		image: envOr("K8SDRV_E2E_IMAGE", "debian:bookworm"),
		script: []string{
			`printf 'line-%s\n' one two`,
			`printf 'to-%s\n' stderr >&2`,
			`printf 'no-newline-%s' end`,
			`echo "secret=$MY_SECRET"`,
			`printf 'status-%s\n' "$CI_JOB_STATUS"`,
		},
		afterScript: []string{`printf 'after-%s\n' "$CI_JOB_STATUS"`},
		variables: []map[string]any{
			{"key": "MY_SECRET", "value": "s3cr3t-value-xyz", "public": false, "masked": true},
		},
	})

	assert.DeepEqual(t, r.states, []string{"running", "success"})
	assert.Equal(t, r.final.FailureReason, "")
	assert.Equal(t, r.final.ExitCode, 0)
	assertInOrder(t, r.trace,
		"Using Custom executor with driver k8sdrv",
		"Created pod default/runner-",
		"line-one\n", "line-two\n", "to-stderr\n", "no-newline-end", "secret=[MASKED]", "status-running\n",
		"after-success\n",
		"Job succeeded",
	)
	assert.Assert(t, !strings.Contains(r.trace, "s3cr3t-value-xyz"), "masked value in the trace")
}

// TestIntegrationGitLabRunnerScriptExitCode: a script that exits 3 fails the
// job as a script failure with exit code 3; the output before the exit is
// in the log, the rest of the script never runs, after_script still runs
// and sees the failure, and no pod is left.
func TestIntegrationGitLabRunnerScriptExitCode(t *testing.T) {
	r := runThroughGitLabRunner(t, ciJob{
		id:          newRunnerJobID(),
		token:       "job-token-exit3-0001",
		image:       envOr("K8SDRV_E2E_IMAGE", "debian:bookworm"),
		script:      []string{`printf 'before-%s\n' exit`, `exit 3`, `printf 'not-%s\n' reached`},
		afterScript: []string{`printf 'after-%s\n' "$CI_JOB_STATUS"`},
	})

	assert.DeepEqual(t, r.states, []string{"running", "failed"})
	assert.Equal(t, r.final.FailureReason, "script_failure")
	assert.Equal(t, r.final.ExitCode, 3)
	assertInOrder(t, r.trace,
		"before-exit\n",
		"Running after_script",
		"after-failed\n",
		// The custom executor's wording (executors/custom/command), from
		// the code k8sdrv wrote to BUILD_EXIT_CODE_FILE.
		"ERROR: Job failed: exit status 3",
	)
	assert.Assert(t, !strings.Contains(r.trace, "not-reached"), "the script went on after exit 3")
}

// TestIntegrationGitLabRunnerCancel: a job cancelled in GitLab while its
// script runs stops promptly (the runner sends SIGTERM to `k8sdrv run`,
// which stops the script in the container), after_script still runs and
// sees "canceled", the job ends as job_canceled, and nothing is left: no
// pod and, on KWOK, no process of the script.
func TestIntegrationGitLabRunnerCancel(t *testing.T) {
	id := newRunnerJobID()
	// A duration no other test or concurrent run uses (the process id of
	// this test in it), so that its process can be found on the machine.
	sleep := fmt.Sprintf("sleep 347.%d", os.Getpid())
	r := runThroughGitLabRunner(t, ciJob{
		id:          id,
		token:       "job-token-cancel-0001",
		image:       envOr("K8SDRV_E2E_IMAGE", "debian:bookworm"),
		script:      []string{`printf 'started-%s\n' sleeping`, sleep, `printf 'not-%s\n' reached`},
		afterScript: []string{`printf 'after-%s\n' "$CI_JOB_STATUS"`},
	}, func(c *coordinator) { c.cancelWhen(id, "started-sleeping\n") })

	assert.Equal(t, r.final.State, "failed")
	assert.Equal(t, r.final.FailureReason, "job_canceled")
	assertInOrder(t, r.trace,
		"started-sleeping\n",
		"Running after_script",
		"after-canceled\n",
		"ERROR: Job failed: canceled",
	)
	assert.Assert(t, !strings.Contains(r.trace, "not-reached"), "the script went on after the cancel")
	assert.Assert(t, r.elapsed < 60*time.Second, "cancelled job took %s", r.elapsed)
	if kwok {
		out, _ := exec.Command("pgrep", "-f", "-x", sleep).Output()
		assert.Equal(t, strings.TrimSpace(string(out)), "", "the script's %q still runs", sleep)
	}
}

// TestIntegrationGitLabRunnerMissingImage: an image that cannot be pulled
// fails prepare as a system failure naming the image; the runner retries
// prepare (calling cleanup after each attempt), then fails the job as
// runner_system_failure, and no pod is left.
func TestIntegrationGitLabRunnerMissingImage(t *testing.T) {
	image := "registry.example.com/group/doesnotexist:1.0"
	r := runThroughGitLabRunner(t, ciJob{
		id:     newRunnerJobID(),
		token:  "job-token-noimage-0001",
		image:  image,
		script: []string{`printf 'not-%s\n' reached`},
	})

	assert.Equal(t, r.final.State, "failed")
	assert.Equal(t, r.final.FailureReason, "runner_system_failure")
	assertInOrder(t, r.trace,
		`container build (image "`+image+`") cannot start: ErrImage`, // ErrImageNeverPull under pull_policy never
		"ERROR: Job failed (system failure)",
	)
	assert.Assert(t, !strings.Contains(r.trace, "not-reached"))
}
