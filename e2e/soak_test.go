package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// soakKinds are the jobs of the soak, each as gitlab-runner drives it, with
// what its result must be.
var soakKinds = []struct {
	name string
	run  func(t *testing.T, j *job, rng *rand.Rand)
}{
	{"success", func(t *testing.T, j *job, _ *rand.Rand) {
		assert.Equal(t, j.call("prepare").code, 0)
		for _, stage := range []string{"prepare_script", "get_sources", "build_script", "after_script"} {
			r := j.run(stage, "echo "+stage+" of "+j.id+"\n")
			assert.Equal(t, r.code, 0, r.stderr)
			assert.Equal(t, r.stdout, stage+" of "+j.id+"\n")
		}
		assert.Equal(t, j.call("cleanup").code, 0)
	}},
	{"failure", func(t *testing.T, j *job, _ *rand.Rand) {
		assert.Equal(t, j.call("prepare").code, 0)
		r := j.run("build_script", "echo failing\nexit 3\n")
		assert.Equal(t, r.code, 1, r.stderr)
		assert.Equal(t, j.buildExitCode(), "3")
		assert.Equal(t, r.stdout, "failing\n")
		r = j.run("after_script", "echo after\n")
		assert.Equal(t, r.code, 0, r.stderr)
		assert.Equal(t, j.call("cleanup").code, 0)
	}},
	{"cancel", func(t *testing.T, j *job, _ *rand.Rand) {
		assert.Equal(t, j.call("prepare").code, 0)
		script := j.stageScript("build_script", "echo started\nsleep 60\necho never\n")
		cmd := j.command(context.Background(), "run", script, "build_script")
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		assert.NilError(t, cmd.Start())
		waitFor(t, 30*time.Second, func() bool { return strings.Contains(stdout.String(), "started") })
		assert.NilError(t, cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, exitCode(cmd.Wait()), 1, stderr.String())
		assert.Equal(t, j.buildExitCode(), "143")
		assert.Assert(t, !strings.Contains(stdout.String(), "never"))
		assert.Equal(t, j.call("cleanup").code, 0)
	}},
	{"killed", func(t *testing.T, j *job, rng *rand.Rand) {
		// SIGKILL of k8sdrv at a random moment of a random call; the
		// runner's later cleanup must leave nothing.
		calls := [][]string{{"prepare"}, {"run"}, {"cleanup"}}
		call := calls[rng.IntN(len(calls))]
		if call[0] != "prepare" {
			assert.Equal(t, j.call("prepare").code, 0)
		}
		if call[0] == "run" {
			call = []string{"run", j.stageScript("build_script", "echo started\nsleep 30\n"), "build_script"}
		}
		cmd := j.command(context.Background(), call...)
		assert.NilError(t, cmd.Start())
		time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		time.Sleep(300 * time.Millisecond) // a request the killed call sent may still land
		r := j.call("cleanup")
		assert.Equal(t, r.code, 0, r.stderr)
	}},
}

// TestIntegrationSoak runs many jobs, two at a time, each a success, a
// failure, a cancel or a kill at a random moment: every result must be
// right and no pod may be left (each job checks its own labels when it
// ends). make test runs 100 jobs, make soak 1,000 (a fifth of that on the
// real node).
func TestIntegrationSoak(t *testing.T) {
	skipShort(t)
	jobs := sized(100, 1000)
	if !kwok { // real containers start in seconds, not milliseconds
		jobs = sized(20, 200)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var ok [4]atomic.Int64
	t.Run("jobs", func(t *testing.T) {
		for i := range jobs {
			kind := i % len(soakKinds)
			t.Run(fmt.Sprintf("%d-%s", i, soakKinds[kind].name), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				j := newJob(t, jobOptions{})
				soakKinds[kind].run(t, j, rng)
				if !t.Failed() {
					ok[kind].Add(1)
				}
			})
		}
	})
	var counts []string
	total := int64(0)
	for k, kind := range soakKinds {
		counts = append(counts, fmt.Sprintf("%s %d/%d", kind.name, ok[k].Load(), (jobs-k+len(soakKinds)-1)/len(soakKinds)))
		total += ok[k].Load()
	}
	t.Logf("soak: %d of %d jobs right with nothing left (%s)", total, jobs, strings.Join(counts, ", "))
	assert.Equal(t, total, int64(jobs))
}
