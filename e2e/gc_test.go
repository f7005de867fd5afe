package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestIntegrationGCCollectsTheJobsOfACrashedRunner: a runner that died
// mid-job never calls cleanup. `k8sdrv gc` lists the pod once the job's
// timeout has passed, deletes it with --delete, and leaves alone the pod
// of a job that is still within its timeout.
func TestIntegrationGCCollectsTheJobsOfACrashedRunner(t *testing.T) {
	// A runner of its own, so that no other test's pod is in scope.
	runner := "gc" + strconv.Itoa(os.Getpid())
	over := newJob(t, jobOptions{})
	over.env["CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN"] = runner
	over.env["CUSTOM_ENV_CI_JOB_TIMEOUT"] = "3"
	live := newJob(t, jobOptions{})
	live.env["CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN"] = runner
	for _, j := range []*job{over, live} {
		r := j.call("prepare")
		assert.Equal(t, r.code, 0, r.stderr)
	}
	overPod, livePod := over.pods(), live.pods()
	assert.Equal(t, len(overPod), 1)

	time.Sleep(5 * time.Second) // past the first job's activeDeadlineSeconds (4 s)
	r := live.call("gc", "--runner", runner, "--grace", "0s")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, is.Contains(r.stdout, "would delete pod "+overPod[0]+" (job "+over.id+"): "))
	assert.Assert(t, !strings.Contains(r.stdout, livePod[0]), r.stdout)
	assert.DeepEqual(t, over.pods(), overPod)

	r = live.call("gc", "--runner", runner, "--grace", "0s", "--delete")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, is.Contains(r.stdout, "deleted pod "+overPod[0]))
	assert.DeepEqual(t, over.pods(), []string(nil))
	assert.DeepEqual(t, live.pods(), livePod)
	assert.Equal(t, live.call("cleanup").code, 0)
}
