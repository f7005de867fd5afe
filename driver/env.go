// Package driver implements k8sdrv's four Custom-executor stages (config,
// prepare, run, cleanup) on top of the operator configuration, the job input,
// the pod builder and the attach package.
package driver

import (
	"errors"
	"fmt"

	"github.com/kelseyhightower/envconfig"
)

// RunnerEnv is what gitlab-runner sets for every call of the driver.
type RunnerEnv struct {
	// TmpDir is the per-job directory shared by all calls of one attempt.
	TmpDir                string `envconfig:"TMPDIR"`
	BuildFailureExitCode  int    `envconfig:"BUILD_FAILURE_EXIT_CODE" default:"1"`
	SystemFailureExitCode int    `envconfig:"SYSTEM_FAILURE_EXIT_CODE" default:"2"`
	BuildExitCodeFile     string `envconfig:"BUILD_EXIT_CODE_FILE"`
	JobResponseFile       string `envconfig:"JOB_RESPONSE_FILE"`
}

// LoadRunnerEnv reads RunnerEnv from the process environment. An exit
// code outside 1..255 could make a failure look like success (0, or 256,
// which the shell sees as 0): it is an error, and the default stands in
// for it so that the error itself still exits non-zero.
func LoadRunnerEnv() (RunnerEnv, error) {
	defaults := RunnerEnv{BuildFailureExitCode: 1, SystemFailureExitCode: 2}
	var env RunnerEnv
	if err := envconfig.Process("", &env); err != nil {
		return defaults, fmt.Errorf("runner environment: %w", err)
	}
	var errs []error
	for _, c := range []struct {
		name     string
		code     *int
		fallback int
	}{
		{"BUILD_FAILURE_EXIT_CODE", &env.BuildFailureExitCode, defaults.BuildFailureExitCode},
		{"SYSTEM_FAILURE_EXIT_CODE", &env.SystemFailureExitCode, defaults.SystemFailureExitCode},
	} {
		if *c.code < 1 || *c.code > 255 {
			errs = append(errs, fmt.Errorf("runner environment: %s=%d: want an exit code from 1 to 255", c.name, *c.code))
			*c.code = c.fallback
		}
	}
	return env, errors.Join(errs...)
}
