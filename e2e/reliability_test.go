package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestIntegrationDroppedConnection cuts every connection between k8sdrv
// and the API server several times while a stage prints: the output must
// still arrive exactly once and in order, and the exit code must be right.
func TestIntegrationDroppedConnection(t *testing.T) {
	skipShort(t)
	proxy := newCutProxy(t, apiServerAddress(t))
	j := newJob(t, jobOptions{})
	j.kubeconfig = proxy.kubeconfigVia(t)
	assert.Equal(t, j.call("prepare").code, 0)

	const lines = 300
	var want strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&want, "line %d %s\n", i, strings.Repeat("x", 100))
	}
	script := j.stageScript("build_script", fmt.Sprintf(
		"for i in $(seq 1 %d); do echo \"line $i %s\"; sleep 0.01; done\nexit 5\n", lines, strings.Repeat("x", 100)))

	cmd := j.command(context.Background(), "run", script, "build_script")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	assert.NilError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	cuts := 0
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-ticker.C:
			cuts += proxy.cut()
		}
	}
	t.Logf("cut %d connections; stderr:\n%s", cuts, stderr.String())
	assert.Assert(t, cuts >= 3, "the stage ended before the connection was cut three times")
	assert.Equal(t, exitCode(waitErr), 1, stderr.String())
	assert.Equal(t, j.buildExitCode(), "5")
	assert.Equal(t, stdout.String(), want.String())
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationCancel: SIGTERM to `k8sdrv run` (the runner cancelling the
// job) stops the stage's processes in the container and ends the call.
func TestIntegrationCancel(t *testing.T) {
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)
	marker := fmt.Sprintf("31.%d", time.Now().UnixNano()%1e6)
	script := j.stageScript("build_script", "echo started\nsleep "+marker+"\necho never\n")

	cmd := j.command(context.Background(), "run", script, "build_script")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	assert.NilError(t, cmd.Start())
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(stdout.String(), "started") })
	assert.NilError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()

	assert.Equal(t, exitCode(err), 1, stderr.String())
	// bash may report the killed sleep ("Terminated"); the script never goes on.
	assert.Assert(t, strings.HasPrefix(stdout.String(), "started\n"))
	assert.Assert(t, !strings.Contains(stdout.String(), "never"))
	// TERM reaches the whole process group: the pipeline running the eval
	// dies of it and errexit ends bash with 128+15 before its trap runs.
	assert.Equal(t, j.buildExitCode(), "143")
	// On KWOK the "container" is the host, so the stage's process is visible
	// here; in a real container another stage looks for it.
	if kwok {
		out, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
		assert.Assert(t, is.Len(strings.TrimSpace(string(out)), 0), "stage process still running")
	} else {
		check := j.run("after_script", "for p in /proc/[0-9]*; do { tr '\\0' ' ' <$p/cmdline; } 2>/dev/null; echo; done | grep -c '[s]leep "+marker+"' || true\n")
		assert.Equal(t, check.stdout, "0\n", "stage process still running in the container")
	}
	assert.Equal(t, j.call("cleanup").code, 0)
}

func exitCode(err error) int {
	if exitErr, ok := err.(*exec.ExitError); ok {
		return exitErr.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
