// Package driver implements k8sdrv's four Custom-executor stages (config,
// prepare, run, cleanup) on top of the operator configuration, the job input,
// the pod builder and the attach package.
package driver

import (
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

// LoadRunnerEnv reads RunnerEnv from the process environment.
func LoadRunnerEnv() (RunnerEnv, error) {
	var env RunnerEnv
	if err := envconfig.Process("", &env); err != nil {
		return RunnerEnv{BuildFailureExitCode: 1, SystemFailureExitCode: 2}, fmt.Errorf("runner environment: %w", err)
	}
	return env, nil
}
