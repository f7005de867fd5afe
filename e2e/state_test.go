package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

const stateFile = "k8sdrv-state.json"

// TestIntegrationStaleStateOfAnotherJob: a state file that another job
// left in a reused TMPDIR names that job's pod. run must not exec into it,
// and cleanup must not delete it.
func TestIntegrationStaleStateOfAnotherJob(t *testing.T) {
	other := newJob(t, jobOptions{})
	assert.Equal(t, other.call("prepare").code, 0)
	otherPods := other.pods()
	assert.Equal(t, len(otherPods), 1)

	j := newJob(t, jobOptions{})
	state, err := os.ReadFile(filepath.Join(other.tmp, stateFile))
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(j.tmp, stateFile), state, 0o600))

	marker := filepath.Join(t.TempDir(), "ran")
	r := j.run("build_script", "touch "+marker+"\n")
	assert.Equal(t, r.code, 2, r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "is stale: it belongs to job "+other.id), r.stderr)
	_, err = os.Stat(marker)
	assert.Assert(t, os.IsNotExist(err), "the stage ran in the other job's pod")

	r = j.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.DeepEqual(t, other.pods(), otherPods)

	assert.Equal(t, other.call("cleanup").code, 0)
}

// TestIntegrationCleanupWithADamagedState: cleanup finds the job's pod by
// its labels when the state file is unreadable.
func TestIntegrationCleanupWithADamagedState(t *testing.T) {
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)
	assert.NilError(t, os.WriteFile(filepath.Join(j.tmp, stateFile), []byte(`{"namespace": "def`), 0o600))
	r := j.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "is damaged"), r.stderr)
	assert.DeepEqual(t, j.pods(), []string(nil))
}

// TestIntegrationSupervisorKilled: a stage whose supervisor dies before it
// writes the exit code is a system failure at once, not a wait for the
// job's timeout.
func TestIntegrationSupervisorKilled(t *testing.T) {
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)
	start := time.Now()
	r := j.run("build_script", "echo before\nkill -KILL $PPID\n")
	assert.Equal(t, r.code, 2, r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "ended without writing the exit code"), r.stderr)
	assert.Assert(t, time.Since(start) < 30*time.Second)
	assert.Equal(t, j.call("cleanup").code, 0)
}
