package main

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

// TestRunExitCodes: the command line maps its outcomes to the runner's
// exit codes, with the runner's overrides honoured.
func TestRunExitCodes(t *testing.T) {
	t.Setenv("K8SDRV_CONFIG", "")
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("SYSTEM_FAILURE_EXIT_CODE", "12")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"k8sdrv", "--version"}, 0},
		{[]string{"k8sdrv", "help"}, 0},
		{[]string{"k8sdrv", "config"}, 0},
		{[]string{"k8sdrv", "run", "only-a-script"}, 12},
		{[]string{"k8sdrv", "run", "/dev/null", "build_script"}, 12}, // no prepare state
		{[]string{"k8sdrv", "--config", filepath.Join(t.TempDir(), "missing.toml"), "config"}, 12},
	} {
		assert.Equal(t, run(tc.args, os.Environ()), tc.want, "%v", tc.args)
	}
}

// TestRunBadRunnerEnvironment: an unparsable exit code from the runner is
// itself a system failure (with the default code), not a crash.
func TestRunBadRunnerEnvironment(t *testing.T) {
	t.Setenv("BUILD_FAILURE_EXIT_CODE", "one")
	assert.Equal(t, run([]string{"k8sdrv", "--version"}, os.Environ()), 2)
}
