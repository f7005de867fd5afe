package driver

import (
	"bytes"
	"testing"

	"gotest.tools/v3/assert"
)

// TestLoadRunnerEnvRefusesExitCodesThatLookLikeSuccess: 0 and 256 (which
// a shell sees as 0) would turn a failing call into a passing one.
func TestLoadRunnerEnvRefusesExitCodesThatLookLikeSuccess(t *testing.T) {
	for _, tc := range []struct {
		build, system string
		want          string
		wantBuild     int
		wantSystem    int
	}{
		{"1", "2", "", 1, 2},
		{"7", "9", "", 7, 9},
		{"1", "0", "SYSTEM_FAILURE_EXIT_CODE=0: want an exit code from 1 to 255", 1, 2},
		{"256", "2", "BUILD_FAILURE_EXIT_CODE=256: want an exit code from 1 to 255", 1, 2},
		{"-1", "300", "BUILD_FAILURE_EXIT_CODE=-1", 1, 2},
	} {
		t.Setenv("BUILD_FAILURE_EXIT_CODE", tc.build)
		t.Setenv("SYSTEM_FAILURE_EXIT_CODE", tc.system)
		env, err := LoadRunnerEnv()
		assert.Equal(t, env.BuildFailureExitCode, tc.wantBuild)
		assert.Equal(t, env.SystemFailureExitCode, tc.wantSystem)
		if tc.want == "" {
			assert.NilError(t, err)
			continue
		}
		assert.ErrorContains(t, err, tc.want)
		var stderr bytes.Buffer
		assert.Equal(t, ExitCode(err, env, NewLogger(&stderr, false)), 2, "the error itself is a system failure")
	}
}

// TestLoadRunnerEnvNamesEveryBadExitCode: a value that is no number is
// named with its variable in one line, and both variables are reported.
func TestLoadRunnerEnvNamesEveryBadExitCode(t *testing.T) {
	t.Setenv("BUILD_FAILURE_EXIT_CODE", "")
	t.Setenv("SYSTEM_FAILURE_EXIT_CODE", "two")
	env, err := LoadRunnerEnv()
	assert.Error(t, err, `runner environment: BUILD_FAILURE_EXIT_CODE="": want an exit code from 1 to 255
runner environment: SYSTEM_FAILURE_EXIT_CODE="two": want an exit code from 1 to 255`)
	assert.Equal(t, env.BuildFailureExitCode, 1)
	assert.Equal(t, env.SystemFailureExitCode, 2)
}
