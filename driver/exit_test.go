package driver

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	is "gotest.tools/v3/assert/cmp"
)

func TestExitCode(t *testing.T) {
	defaults := RunnerEnv{BuildFailureExitCode: 1, SystemFailureExitCode: 2}
	custom := RunnerEnv{BuildFailureExitCode: 11, SystemFailureExitCode: 12}

	tests := []struct {
		name       string
		err        error
		env        RunnerEnv
		wantCode   int
		wantBuild  int    // code in BUILD_EXIT_CODE_FILE; 0 means no file
		wantStderr string // exact stderr
	}{
		{name: "nil is success", err: nil, env: defaults, wantCode: 0},
		{name: "nil is success with custom codes", err: nil, env: custom, wantCode: 0},
		{
			name: "build failure", err: &BuildFailure{Code: 3}, env: defaults,
			wantCode: 1, wantBuild: 3,
		},
		{
			name: "wrapped build failure", err: fmt.Errorf("run step_script: %w", &BuildFailure{Code: 42}), env: defaults,
			wantCode: 1, wantBuild: 42,
		},
		{
			name: "build failure with custom codes", err: &BuildFailure{Code: 137}, env: custom,
			wantCode: 11, wantBuild: 137,
		},
		{
			name: "system failure", err: errors.New("create pod ci/runner-x: forbidden"), env: defaults,
			wantCode: 2, wantStderr: "ERROR: k8sdrv: create pod ci/runner-x: forbidden\n",
		},
		{
			name: "system failure with custom codes", err: errors.New("boom"), env: custom,
			wantCode: 12, wantStderr: "ERROR: k8sdrv: boom\n",
		},
		{
			name: "several problems, one line each",
			err:  errors.Join(errors.New("config.toml:3: cpu_limit: bad"), errors.New("config.toml:9: namespace: bad"), errors.New("K8SDRV_HOST: host: bad")),
			env:  defaults, wantCode: 2,
			wantStderr: "ERROR: k8sdrv: config.toml:3: cpu_limit: bad\nERROR: k8sdrv: config.toml:9: namespace: bad\nERROR: k8sdrv: K8SDRV_HOST: host: bad\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.env.BuildExitCodeFile = filepath.Join(t.TempDir(), "build-exit-code")
			var stderr bytes.Buffer

			code := ExitCode(tc.err, tc.env, NewLogger(&stderr, false))

			assert.Equal(t, code, tc.wantCode)
			assert.Equal(t, stderr.String(), tc.wantStderr)
			data, err := os.ReadFile(tc.env.BuildExitCodeFile)
			if tc.wantBuild == 0 {
				assert.Assert(t, errors.Is(err, os.ErrNotExist), "BUILD_EXIT_CODE_FILE written: %q", data)
				return
			}
			assert.NilError(t, err)
			first, _, _ := strings.Cut(string(data), "\n")
			got, err := strconv.Atoi(first)
			assert.NilError(t, err, "first line of BUILD_EXIT_CODE_FILE: %q", data)
			assert.Equal(t, got, tc.wantBuild)
		})
	}
}

func TestExitCodeBuildFailureWithoutExitCodeFile(t *testing.T) {
	var stderr bytes.Buffer
	env := RunnerEnv{BuildFailureExitCode: 11, SystemFailureExitCode: 12}

	code := ExitCode(&BuildFailure{Code: 5}, env, NewLogger(&stderr, false))

	assert.Equal(t, code, 11)
	assert.Equal(t, stderr.String(), "")
}

func TestExitCodeUnwritableExitCodeFileIsSystemFailure(t *testing.T) {
	var stderr bytes.Buffer
	env := RunnerEnv{
		BuildFailureExitCode:  11,
		SystemFailureExitCode: 12,
		BuildExitCodeFile:     filepath.Join(t.TempDir(), "missing-dir", "build-exit-code"),
	}

	code := ExitCode(&BuildFailure{Code: 5}, env, NewLogger(&stderr, false))

	assert.Equal(t, code, 12)
	assert.Check(t, is.Contains(stderr.String(), "BUILD_EXIT_CODE_FILE"))
	assert.Check(t, is.Equal(strings.Count(stderr.String(), "\n"), 1))
	assert.Check(t, strings.HasSuffix(stderr.String(), "\n"))
}

// TestExitCodeRefusedJobVariable: a job variable the operator's settings
// refuse fails the job as a build failure (no prepare retries), with its
// one line and no exit-code file.
func TestExitCodeRefusedJobVariable(t *testing.T) {
	dir := t.TempDir()
	env := RunnerEnv{BuildFailureExitCode: 1, SystemFailureExitCode: 2, BuildExitCodeFile: filepath.Join(dir, "code")}
	_, err := config.ForJob(&config.Config{Overwrites: config.Overwrites{NamespaceOverwriteAllowed: "ci-.*"}}, &job.Job{Variables: map[string]string{"KUBERNETES_NAMESPACE_OVERWRITE": "prod"}}, nil)
	var stderr bytes.Buffer
	assert.Equal(t, ExitCode(fmt.Errorf("prepare: %w", err), env, NewLogger(&stderr, false)), 1)
	assert.Equal(t, stderr.String(), "ERROR: k8sdrv: prepare: KUBERNETES_NAMESPACE_OVERWRITE=\"prod\" is not allowed: it must match namespace_overwrite_allowed \"ci-.*\" (the whole value)\n")
	_, statErr := os.Stat(env.BuildExitCodeFile)
	assert.Assert(t, os.IsNotExist(statErr))
}
