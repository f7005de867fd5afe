package driver

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// BuildFailure is the user's script exiting non-zero: the job fails, but
// nothing is wrong with the infrastructure.
type BuildFailure struct{ Code int }

func (b *BuildFailure) Error() string { return fmt.Sprintf("script exited with code %d", b.Code) }

// ExitCode is the one place where a stage's error becomes the process exit
// code. A build failure writes the script's code to BUILD_EXIT_CODE_FILE and
// exits with BUILD_FAILURE_EXIT_CODE; a refused job variable is printed and
// exits with BUILD_FAILURE_EXIT_CODE; any other error is printed and exits
// with SYSTEM_FAILURE_EXIT_CODE. Each line of an error is one problem (a
// configuration's problems come joined, each naming its file and key) and
// is logged as its own "ERROR: k8sdrv: " line, for people and scripts alike.
// A failed `k8sdrv doctor` exits with 1, outside any job.
func ExitCode(err error, env RunnerEnv, log zerolog.Logger) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, ErrDoctorFailed) {
		return 1 // its report has said what failed
	}
	var build *BuildFailure
	if errors.As(err, &build) {
		return buildExit(build.Code, env, log)
	}
	for line := range strings.Lines(err.Error()) {
		if line = strings.TrimSuffix(line, "\n"); line != "" {
			log.Error().Msg("k8sdrv: " + line)
		}
	}
	// A job variable the operator's settings refuse fails the job as the
	// job's own doing: retrying prepare could not help. So does a pod
	// that ended by the job's own doing (its script out of memory, its
	// timeout run out), with the script's code where it has one.
	var end *podEnd
	switch {
	case Refused(err):
		return env.BuildFailureExitCode
	case errors.As(err, &end) && end.build && end.code != 0:
		return buildExit(end.code, env, log)
	case errors.As(err, &end) && end.build:
		return env.BuildFailureExitCode
	}
	return env.SystemFailureExitCode
}

// buildExit writes code to BUILD_EXIT_CODE_FILE and returns
// BUILD_FAILURE_EXIT_CODE.
func buildExit(code int, env RunnerEnv, log zerolog.Logger) int {
	if env.BuildExitCodeFile != "" {
		if err := os.WriteFile(env.BuildExitCodeFile, []byte(strconv.Itoa(code)+"\n"), 0o600); err != nil {
			log.Error().Msgf("k8sdrv: write BUILD_EXIT_CODE_FILE: %v", err)
			return env.SystemFailureExitCode
		}
	}
	return env.BuildFailureExitCode
}
