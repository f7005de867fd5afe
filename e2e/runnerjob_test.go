package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkRunnerJob: one CI job (an image, two services, a script of two
// lines, an after_script) through `gitlab-runner run-single` against the
// fake GitLab, from the runner's start to its exit, three ways on the same
// cluster:
//
//   - floor: the Custom executor with a driver that runs each stage script
//     with bash on this host (testdata/localshell-driver.sh), so no pod and
//     no service: what the runner itself costs;
//   - k8sdrv: the Custom executor with the k8sdrv binary under test;
//   - builtin: the runner's own Kubernetes executor, with its defaults (not
//     on KWOK: see builtinExecutor).
//
// Each iteration is a round of one job each way, in turn, so that the
// machine's noise hits all of them alike (go test would run sub-benchmarks,
// and -count's repetitions, one way after the other). It reports each
// way's mean job time as <way>-ms/job; ns/op is the round's sum. Every job
// must pass with the output of its script and after_script; after each,
// the benchmark waits (untimed) until the job's pods are gone.
func BenchmarkRunnerJob(b *testing.B) {
	skipShort(b)
	ways := []runnerWay{
		{name: "floor", executor: localShellExecutor},
		{name: "k8sdrv", executor: func(b *testing.B, root string) runnerExecutor { return k8sdrvExecutor(b, root) }},
	}
	if kwok {
		builtinSkipped.Do(func() { b.Log("builtin: not run on KWOK: " + builtinOnKWOK) })
	} else {
		helperDir := builtinHelperDir(b)
		ways = append(ways, runnerWay{name: "builtin", executor: func(b *testing.B, root string) runnerExecutor {
			return builtinExecutor(b, root, helperDir)
		}})
	}
	total := make([]time.Duration, len(ways))
	b.StopTimer() // runJobThrough times the runner alone
	for i := 0; i < b.N; i++ {
		// Each round starts with the next way, so that none always
		// follows the same one.
		first := int(runnerJobRounds.Add(1))
		for k := range ways {
			w := (first + k) % len(ways)
			job := benchmarkCIJob()
			// After a failure, k8sdrv's pods go with `k8sdrv cleanup`.
			b.Cleanup(func() { cleanupJobPods(b, job.id) })
			r := runJobThrough(b, job, ways[w].executor(b, b.TempDir()))
			assertRunnerJobPassed(b, r)
			total[w] += r.elapsed
			waitJobPodsGone(b, job.id)
		}
	}
	for w, way := range ways {
		b.ReportMetric(float64(total[w])/float64(time.Millisecond)/float64(b.N), way.name+"-ms/job")
	}
}

// runnerWay is one way BenchmarkRunnerJob runs its job: the executor of
// the runner's config, made in a directory of the job's own.
type runnerWay struct {
	name     string
	executor func(b *testing.B, root string) runnerExecutor
}

var (
	// runnerJobRounds counts BenchmarkRunnerJob's rounds across -count's runs.
	runnerJobRounds atomic.Int64
	// builtinSkipped says once per go test that builtin is not run.
	builtinSkipped sync.Once
)

// builtinOnKWOK says why the built-in Kubernetes executor cannot run on
// the local KWOK cluster.
const builtinOnKWOK = "it runs each stage by attaching to the build container's stdin, which KWOK never reads " +
	"(its attach at most follows a log file: the stage never runs, and the runner waits for it), " +
	"and keeps its scripts on an emptyDir volume that KWOK's exec, run on this host, does not see"

// benchmarkCIJob is the job BenchmarkRunnerJob runs; its output is
// computed by the shell, so the runner's echo of each command never
// matches it.
func benchmarkCIJob() ciJob {
	return ciJob{
		id:          newRunnerJobID(),
		token:       "job-token-bench-0001",
		image:       envOr("K8SDRV_E2E_IMAGE", "debian:bookworm"),
		services:    strings.Split(envOr("K8SDRV_E2E_SERVICE_IMAGES", "postgres:16,redis:7"), ","),
		script:      []string{`printf 'sum=%s\n' "$((20 + 22))"`, `printf 'status-%s\n' "$CI_JOB_STATUS"`},
		afterScript: []string{`printf 'after-%s\n' "$CI_JOB_STATUS"`},
	}
}

// assertRunnerJobPassed fails the benchmark unless the job passed having
// run its script and after_script: a failing job's time means nothing.
func assertRunnerJobPassed(b *testing.B, r runnerJobResult) {
	b.Helper()
	assert.DeepEqual(b, r.states, []string{"running", "success"})
	assertInOrder(b, r.trace, "sum=42\n", "status-running\n", "after-success\n", "Job succeeded")
	if b.Failed() {
		b.FailNow()
	}
}

// localShellExecutor is the Custom executor whose only driver call is
// run_exec: testdata/localshell-driver.sh.
func localShellExecutor(b *testing.B, root string) runnerExecutor {
	driver, err := filepath.Abs("testdata/localshell-driver.sh")
	assert.NilError(b, err)
	return runnerExecutor{toml: fmt.Sprintf(`  executor = "custom"
  builds_dir = %q
  cache_dir = %q
  [runners.custom]
    run_exec = %q
`, filepath.Join(root, "builds"), filepath.Join(root, "cache"), driver)}
}

// builtinExecutor is the runner's own Kubernetes executor on the e2e
// cluster (through KUBECONFIG), in the namespace and with the images and
// pull policy the e2e suite gives k8sdrv, every other setting at its
// default. helperDir is mounted at /usr/local/bin of its containers: see
// builtinHelperDir. It cannot run on KWOK (builtinOnKWOK).
func builtinExecutor(b *testing.B, root, helperDir string) runnerExecutor {
	pullPolicy := ""
	if p := os.Getenv("K8SDRV_E2E_PULL_POLICY"); p != "" {
		pullPolicy = fmt.Sprintf("pull_policy = [%q]", p)
	}
	return runnerExecutor{
		toml: fmt.Sprintf(`  executor = "kubernetes"
  builds_dir = %q
  [runners.kubernetes]
    namespace = "default"
    image = %q
    helper_image = %q
    poll_timeout = 60
    %s
    [[runners.kubernetes.volumes.host_path]]
      name = "gitlab-runner-helper"
      host_path = %q
      mount_path = "/usr/local/bin"
      read_only = true
`, "/builds", envOr("K8SDRV_E2E_IMAGE", "alpine:3"), envOr("K8SDRV_E2E_HELPER_IMAGE", "gitlab-runner-helper:local"),
			pullPolicy, helperDir),
		env: []string{"KUBECONFIG=" + kubeconfig},
	}
}

// builtinHelperDir returns a directory holding what the built-in executor
// runs in its helper container besides a shell: gitlab-runner-helper (the
// runner built by hack/gitlab-runner, which has the helper's read-logs and
// health-check commands) and gitlab-runner-build. GitLab's helper image has
// both; the real node's images are made locally and have neither.
func builtinHelperDir(b *testing.B) string {
	dir := b.TempDir()
	assert.NilError(b, os.Chmod(dir, 0o755))
	copyExecutable(b, gitlabRunnerBinary(b), filepath.Join(dir, "gitlab-runner-helper"))
	copyExecutable(b, "testdata/gitlab-runner-build.sh", filepath.Join(dir, "gitlab-runner-build"))
	return dir
}

func copyExecutable(b *testing.B, from, to string) {
	data, err := os.ReadFile(from)
	assert.NilError(b, err)
	assert.NilError(b, os.WriteFile(to, data, 0o755))
}

// waitJobPodsGone waits until no pod of the job is left, whichever
// executor made it (k8sdrv's or the runner's job-id label), deleted or
// terminating.
func waitJobPodsGone(b *testing.B, id int64) {
	b.Helper()
	selectors := []string{fmt.Sprintf("k8sdrv.io/job-id=%d", id), fmt.Sprintf("job.runner.gitlab.com/id=%d", id)}
	deadline := time.Now().Add(2 * time.Minute)
	for _, sel := range selectors {
		for {
			list, err := kube.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: sel})
			assert.NilError(b, err)
			if len(list.Items) == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("pod %s/%s of job %d still there after 2 minutes", list.Items[0].Namespace, list.Items[0].Name, id)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
