package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// killRounds is how often each kill scenario runs in make test.
const killRounds = 3

// TestIntegrationKilledDriverLeavesNothing: gitlab-runner's host can die
// at any moment, taking k8sdrv with it (SIGKILL: no handler runs). Killed
// during prepare (before and after its pod exists), during a stage or
// during cleanup, a later cleanup leaves no pod of the job.
func TestIntegrationKilledDriverLeavesNothing(t *testing.T) {
	scenarios := []struct {
		name string
		// kill starts a call and SIGKILLs it at the scenario's moment.
		kill func(t *testing.T, j *job)
	}{
		{"prepare, before the pod exists", func(t *testing.T, j *job) {
			killWhen(t, j, func() bool { return true }, "prepare")
		}},
		{"prepare, once the pod exists", func(t *testing.T, j *job) {
			killWhen(t, j, func() bool { return len(j.pods()) > 0 }, "prepare")
		}},
		{"run, mid-stage", func(t *testing.T, j *job) {
			assert.Equal(t, j.call("prepare").code, 0)
			script := j.stageScript("build_script", "echo started\nsleep 30\n")
			cmd := j.command(context.Background(), "run", script, "build_script")
			var stdout syncBuffer
			cmd.Stdout = &stdout
			assert.NilError(t, cmd.Start())
			waitFor(t, 20*time.Second, func() bool { return strings.Contains(stdout.String(), "started") })
			assert.NilError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
		}},
		{"cleanup", func(t *testing.T, j *job) {
			assert.Equal(t, j.call("prepare").code, 0)
			killWhen(t, j, func() bool { return true }, "cleanup")
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for round := range killRounds {
				j := newJob(t, jobOptions{})
				sc.kill(t, j)
				// A request the killed call had sent may still land.
				time.Sleep(300 * time.Millisecond)
				r := j.call("cleanup")
				assert.Equal(t, r.code, 0, "round %d: %s", round, r.stderr)
				assert.DeepEqual(t, j.pods(), []string(nil))
			}
			t.Logf("%s: %d of %d rounds left nothing", sc.name, killRounds, killRounds)
		})
	}
}

// killWhen starts `k8sdrv args...` and SIGKILLs it as soon as ready says so.
func killWhen(t *testing.T, j *job, ready func() bool, args ...string) {
	t.Helper()
	cmd := j.command(context.Background(), args...)
	assert.NilError(t, cmd.Start())
	waitFor(t, 30*time.Second, ready)
	assert.NilError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

// TestIntegrationCleanupWithTheAPIServerUnreachable: cleanup keeps trying
// until cleanup_resources_timeout, then fails as a system failure with one
// line naming the pod; the runner (or gc) can clean up later.
func TestIntegrationCleanupWithTheAPIServerUnreachable(t *testing.T) {
	skipShort(t)
	proxy := newCutProxy(t, apiServerAddress(t))
	j := newJob(t, jobOptions{})
	direct := j.kubeconfig
	j.kubeconfig = proxy.kubeconfigVia(t)
	assert.Equal(t, j.call("prepare").code, 0)
	pods := j.pods()

	proxy.listener.Close() // from now on every connection is refused
	proxy.cut()
	j.env["K8SDRV_CLEANUP_RESOURCES_TIMEOUT"] = "3s"
	r := j.call("cleanup")
	assert.Equal(t, r.code, 2, r.stderr)
	assert.Equal(t, strings.Count(r.stderr, "\n"), 1, r.stderr)
	assert.Assert(t, is.Contains(r.stderr, "ERROR: k8sdrv: gave up at the cleanup deadline: delete pod "+pods[0]))
	assert.Assert(t, r.elapsed >= 3*time.Second && r.elapsed < 15*time.Second, "took %s", r.elapsed)
	assert.DeepEqual(t, j.pods(), pods)

	j.kubeconfig = direct // reachable again: the next cleanup finishes the job
	assert.Equal(t, j.call("cleanup").code, 0)
}
