// Package driver implements k8sdrv's four Custom-executor stages (config,
// prepare, run, cleanup) on top of the operator configuration, the job input,
// the pod builder and the attach package.
package driver

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/kelseyhightower/envconfig"
)

// RunnerEnv is what gitlab-runner sets for every call of the driver.
type RunnerEnv struct {
	// TmpDir is the per-job directory shared by all calls of one attempt.
	TmpDir string `envconfig:"TMPDIR"`
	// The exit codes are read by LoadRunnerEnv itself, to name the
	// variable and its value in one line when one is wrong.
	BuildFailureExitCode  int    `ignored:"true"`
	SystemFailureExitCode int    `ignored:"true"`
	BuildExitCodeFile     string `envconfig:"BUILD_EXIT_CODE_FILE"`
	JobResponseFile       string `envconfig:"JOB_RESPONSE_FILE"`
}

// LoadRunnerEnv reads RunnerEnv from the process environment. An exit
// code outside 1..255 could make a failure look like success (0, or 256,
// which the shell sees as 0): it is an error, as is one that is no number,
// and the default stands in for it so that the error itself still exits
// non-zero. An unset one takes the default (a person debugging by hand
// sets neither).
func LoadRunnerEnv() (RunnerEnv, error) {
	defaults := RunnerEnv{BuildFailureExitCode: 1, SystemFailureExitCode: 2}
	var env RunnerEnv
	if err := envconfig.Process("", &env); err != nil {
		return defaults, fmt.Errorf("runner environment: %w", err)
	}
	var errs []error
	env.BuildFailureExitCode = exitCodeVar("BUILD_FAILURE_EXIT_CODE", defaults.BuildFailureExitCode, &errs)
	env.SystemFailureExitCode = exitCodeVar("SYSTEM_FAILURE_EXIT_CODE", defaults.SystemFailureExitCode, &errs)
	return env, errors.Join(errs...)
}

// exitCodeVar reads the exit code in variable name: fallback when it is
// unset, and fallback with an error added to errs when it is no exit code.
func exitCodeVar(name string, fallback int, errs *[]error) int {
	value, ok := os.LookupEnv(name)
	if !ok {
		return fallback
	}
	code, err := strconv.Atoi(value)
	switch {
	case err != nil:
		*errs = append(*errs, fmt.Errorf("runner environment: %s=%q: want an exit code from 1 to 255", name, value))
	case code < 1 || code > 255:
		*errs = append(*errs, fmt.Errorf("runner environment: %s=%d: want an exit code from 1 to 255", name, code))
	default:
		return code
	}
	return fallback
}
