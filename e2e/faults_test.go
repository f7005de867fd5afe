package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// soak is true under make soak (K8SDRV_E2E_SOAK=1): the fault scenarios run
// at their full size (100 stages, a 10-minute silence, 1,000 jobs) instead
// of the short versions make test runs.
func soak() bool { return os.Getenv("K8SDRV_E2E_SOAK") != "" }

// sized returns full under make soak and short otherwise.
func sized[T any](short, full T) T {
	if soak() {
		return full
	}
	return short
}

// stageCase is one stage of the random-cuts scenario: what its script
// prints and how it ends.
type stageCase struct {
	name   string
	script string
	output []byte
	code   int // the job's exit code; 0 is success
}

// mixedStage returns the i-th stage of the random-cuts scenario: output of
// a few bytes to a MiB, text or binary (every byte value), ending 0, 1, 3
// or killed by SIGKILL (137). Every stage pauses (pause) mid-output, so
// that a cut lands while it runs.
func mixedStage(i int, rng *rand.Rand) stageCase {
	const pause = "sleep 0.3\n"
	var out []byte
	var script string
	switch i % 4 {
	case 0: // a short line
		out = []byte(fmt.Sprintf("stage %d\n", i))
		script = "printf 'stage '\n" + pause + fmt.Sprintf("echo %d\n", i)
	case 1: // 8 KiB of numbered lines
		var b strings.Builder
		for n := 1; b.Len() < 8<<10; n++ {
			fmt.Fprintf(&b, "%d line %d of stage %d\n", n, n, i)
		}
		out = []byte(b.String())
		lines := strings.Count(b.String(), "\n")
		loop := "while [ $n -le %d ]; do echo \"$n line $n of stage %d\"; n=$((n+1)); done\n"
		script = "n=1\n" + fmt.Sprintf(loop, lines/2, i) + pause + fmt.Sprintf(loop, lines, i)
	case 2: // binary: random bytes with every value, no trailing newline
		size := 64<<10 + rng.IntN(192<<10)
		out = make([]byte, size)
		for k := range out {
			out[k] = byte(rng.Uint32())
		}
		for v := range 256 {
			out[v] = byte(v)
		}
		half := size / 2
		script = "base64 -d <<'EOF'\n" + wrap(base64.StdEncoding.EncodeToString(out[:half]), 76) + "EOF\n" + pause +
			"base64 -d <<'EOF'\n" + wrap(base64.StdEncoding.EncodeToString(out[half:]), 76) + "EOF\n"
	case 3: // 1 MiB in bursts with pauses
		line := strings.Repeat("y", 1023) + "\n"
		out = []byte(strings.Repeat(line, 1024))
		script = "l=" + strings.Repeat("y", 1023) + "\nfor k in 1 2 3 4 5 6 7 8; do n=0; while [ $n -lt 128 ]; do echo \"$l\"; n=$((n+1)); done; sleep 0.05; done\n"
	}
	codes := []int{0, 1, 3, 137}
	c := codes[(i/4+i)%4]
	switch c {
	case 0:
	case 137:
		script += "kill -KILL $$\n"
	default:
		script += "exit " + strconv.Itoa(c) + "\n"
	}
	return stageCase{name: fmt.Sprintf("stage %d (kind %d, exit %d, %d bytes)", i, i%4, c, len(out)), script: script, output: out, code: c}
}

// wrap breaks s into lines of width characters.
func wrap(s string, width int) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + "\n")
		s = s[width:]
	}
	return b.String() + s + "\n"
}

// TestIntegrationStagesUnderRandomCuts runs many stages of one job (mixed
// output sizes, binary output, exit codes 0/1/3/137), cutting every API
// connection at a random moment while each runs: every stage's output must
// arrive byte-exact and every exit code must be right.
func TestIntegrationStagesUnderRandomCuts(t *testing.T) {
	skipShort(t)
	stages := sized(16, 100)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	proxy := newCutProxy(t, apiServerAddress(t))
	j := newJob(t, jobOptions{})
	j.kubeconfig = proxy.kubeconfigVia(t)
	assert.Equal(t, j.call("prepare").code, 0)

	// Each stage is cut at a random moment of its first 400 ms.
	var cuts, hit atomic.Int64
	cutRNG := rand.New(rand.NewPCG(seed, 2))
	exact := 0
	for i := range stages {
		sc := mixedStage(i, rng)
		timer := time.AfterFunc(time.Duration(50+cutRNG.IntN(350))*time.Millisecond, func() {
			if n := proxy.cut(); n > 0 {
				cuts.Add(int64(n))
				hit.Add(1)
			}
		})
		r := j.run("build_script", sc.script)
		timer.Stop()
		wantCall, wantBuild := 0, ""
		if sc.code != 0 {
			wantCall, wantBuild = 1, strconv.Itoa(sc.code)
		}
		out := []byte(r.stdout)
		if sc.code == 137 {
			// The supervisor's /bin/sh reports the kill after the
			// script's output, in its own words (dash: "Killed").
			if rest, found := bytes.CutPrefix(out, sc.output); found && bytes.Count(rest, []byte("\n")) == 1 && bytes.Contains(rest, []byte("Killed")) {
				out = sc.output
			}
		}
		ok := r.code == wantCall && j.buildExitCode() == wantBuild && bytes.Equal(out, sc.output)
		if ok {
			exact++
		} else {
			t.Errorf("%s: exit %d (want %d), build exit code %q (want %q), %d bytes (want %d), same bytes %v; stderr:\n%s",
				sc.name, r.code, wantCall, j.buildExitCode(), wantBuild, len(r.stdout), len(sc.output), bytes.Equal(out, sc.output), r.stderr)
		}
		_ = os.Remove(filepath.Join(j.tmp, "build-exit-code"))
	}
	t.Logf("random cuts: %d of %d stages byte-exact with the right exit code; %d stages cut mid-run (%d connections)", exact, stages, hit.Load(), cuts.Load())
	assert.Assert(t, hit.Load() >= int64(stages/2), "only %d stages were cut while they ran", hit.Load())
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationSilentStageBehindIdleClosingProxy: a stage that prints
// nothing for longer than a proxy lets a connection sit idle (the proxy
// closes it) still ends with its exact output and exit code: no false
// failure, no false success.
func TestIntegrationSilentStageBehindIdleClosingProxy(t *testing.T) {
	skipShort(t)
	silence := sized(20*time.Second, 10*time.Minute)
	idle := sized(3*time.Second, 60*time.Second)
	proxy := newIdleProxy(t, apiServerAddress(t), idle)
	j := newJob(t, jobOptions{})
	j.kubeconfig = proxy.kubeconfigVia(t)
	assert.Equal(t, j.call("prepare").code, 0)

	script := fmt.Sprintf("echo before\nsleep %d\necho after\nexit 3\n", int(silence.Seconds()))
	r := j.run("build_script", script)
	t.Logf("silent %s behind a proxy closing connections idle for %s: %d idle connections closed; stderr:\n%s",
		silence, idle, proxy.idleCuts.Load(), r.stderr)
	assert.Equal(t, r.code, 1, r.stderr)
	assert.Equal(t, j.buildExitCode(), "3")
	assert.Equal(t, r.stdout, "before\nafter\n")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// restartCluster is the KWOK cluster of the API server restart tests, so
// that no other test runs against an API server that restarts; named after
// the suite's own cluster (CLUSTER_NAME), so that two suites on one machine
// never share it.
var restartCluster = cmp.Or(os.Getenv("CLUSTER_NAME"), "k8sdrv") + "-restart"

// ownCluster brings up a KWOK cluster of the test's own and points the
// harness at it until the test ends, when the cluster is deleted; env
// (NAME=value, e.g. NODES=100) is added to hack/cluster/up.sh's.
func ownCluster(t *testing.T, name string, env ...string) {
	t.Helper()
	requireKWOK(t, "starts a KWOK cluster of its own")
	path, err := clusterUp(append([]string{"CLUSTER_NAME=" + name}, env...)...)
	assert.NilError(t, err)
	rc, client, err := connect(path)
	assert.NilError(t, err)
	oldConfig, oldRest, oldKube := kubeconfig, restConfig, kube
	kubeconfig, restConfig, kube = path, rc, client
	t.Cleanup(func() {
		kubeconfig, restConfig, kube = oldConfig, oldRest, oldKube
		cmd := exec.Command("../hack/cluster/down.sh")
		cmd.Env = append(os.Environ(), "CLUSTER_NAME="+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("hack/cluster/down.sh: %v\n%s", err, out)
		}
	})
}

// restartAPIServer restarts the kube-apiserver of cluster name: every
// connection is cut and nothing listens for a couple of seconds.
func restartAPIServer(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command("../hack/cluster/restart-apiserver.sh")
	cmd.Env = append(os.Environ(), "CLUSTER_NAME="+name)
	out, err := cmd.CombinedOutput()
	assert.NilError(t, err, string(out))
}

// TestIntegrationAPIServerRestartMidStage restarts the API server while a
// stage prints: the stage's output arrives byte-exact and its exit code is
// right.
func TestIntegrationAPIServerRestartMidStage(t *testing.T) {
	ownCluster(t, restartCluster)
	rounds := sized(2, 10)
	for round := 1; round <= rounds; round++ {
		j := newJob(t, jobOptions{pollTimeout: 300})
		assert.Equal(t, j.call("prepare").code, 0)
		var want strings.Builder
		for i := 1; i <= 60; i++ {
			fmt.Fprintf(&want, "line %d\n", i)
		}
		script := j.stageScript("build_script", "for i in $(seq 1 60); do echo \"line $i\"; sleep 0.1; done\nexit 4\n")
		cmd := j.command(context.Background(), "run", script, "build_script")
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		assert.NilError(t, cmd.Start())
		waitFor(t, 20*time.Second, func() bool { return strings.Contains(stdout.String(), "line 5\n") })
		restartAPIServer(t, restartCluster)
		err := cmd.Wait()
		t.Logf("round %d: stderr:\n%s", round, stderr.String())
		assert.Equal(t, exitCode(err), 1, stderr.String())
		assert.Equal(t, j.buildExitCode(), "4")
		assert.Equal(t, stdout.String(), want.String())
		assert.Equal(t, j.call("cleanup").code, 0)
	}
	t.Logf("API server restarted mid-stage: %d of %d rounds byte-exact with the right exit code", rounds, rounds)
}

// TestIntegrationAPIServerRestartMidPrepare restarts the API server while
// prepare runs, at a different moment each round (before or after the
// pod's create): prepare still ends with one running pod, and the job runs.
func TestIntegrationAPIServerRestartMidPrepare(t *testing.T) {
	ownCluster(t, restartCluster)
	rounds := sized(2, 10)
	for round := 1; round <= rounds; round++ {
		j := newJob(t, jobOptions{pollTimeout: 300})
		cmd := j.command(context.Background(), "prepare")
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		assert.NilError(t, cmd.Start())
		time.Sleep(time.Duration(round-1) * 300 * time.Millisecond) // before the create, then during the wait
		restartAPIServer(t, restartCluster)
		err := cmd.Wait()
		t.Logf("round %d: stderr:\n%s", round, stderr.String())
		assert.Equal(t, exitCode(err), 0, stderr.String())
		assert.Equal(t, len(j.pods()), 1, "pods of the job: %v", j.pods())
		r := j.run("build_script", "echo ok\n")
		assert.Equal(t, r.code, 0, r.stderr)
		assert.Equal(t, r.stdout, "ok\n")
		assert.Equal(t, j.call("cleanup").code, 0)
	}
	t.Logf("API server restarted mid-prepare: %d of %d rounds prepared one pod and ran", rounds, rounds)
}
