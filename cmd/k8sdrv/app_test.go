package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
		// doctor's failed check is 1, whatever the runner's codes: it runs outside jobs.
		{[]string{"k8sdrv", "--config", filepath.Join(t.TempDir(), "missing.toml"), "doctor"}, 1},
		{[]string{"k8sdrv", "doctor", "--output", "yaml"}, 12},
	} {
		assert.Equal(t, run(tc.args, os.Environ(), io.Discard, io.Discard), tc.want, "%v", tc.args)
	}
}

// TestRunBadRunnerEnvironment: an unparsable exit code from the runner is
// itself a system failure (with the default code), not a crash.
func TestRunBadRunnerEnvironment(t *testing.T) {
	t.Setenv("BUILD_FAILURE_EXIT_CODE", "one")
	assert.Equal(t, run([]string{"k8sdrv", "--version"}, os.Environ(), io.Discard, io.Discard), 2)
}

// TestRunPrintsOneLinePerProblem: a configuration with several problems
// prints one line for each, naming the file, the line and the key, and
// nothing on stdout, where gitlab-runner expects config_exec's JSON.
func TestRunPrintsOneLinePerProblem(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("K8SDRV_CONFIG", "")
	path := filepath.Join(t.TempDir(), "config.toml")
	body := `[[runners]]
  url = "https://gitlab.example.com"
  executor = "custom"
  [runners.kubernetes]
    namespace = "CI"
    cpu_limit = "two"
    memry_limit = "1Gi"
    poll_timeout = -1
`
	assert.NilError(t, os.WriteFile(path, []byte(body), 0o600))
	var stdout, stderr bytes.Buffer
	plain := append(os.Environ(), "NO_COLOR=1")

	code := run([]string{"k8sdrv", "--config", path, "config"}, plain, &stdout, &stderr)

	assert.Equal(t, code, 2)
	assert.Equal(t, stdout.String(), "")
	assert.Equal(t, stderr.String(), "ERROR: k8sdrv: "+path+":7: runners.kubernetes.memry_limit: unknown key\n")

	// Unknown keys come alone; with the typo fixed, every invalid value.
	body = strings.Replace(body, "memry_limit", "memory_limit", 1)
	assert.NilError(t, os.WriteFile(path, []byte(body), 0o600))
	stderr.Reset()

	code = run([]string{"k8sdrv", "--config", path, "config"}, plain, &stdout, &stderr)

	assert.Equal(t, code, 2)
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	assert.Equal(t, len(lines), 3, stderr.String())
	for i, want := range []string{":5: runners.kubernetes.namespace: ", ":6: runners.kubernetes.cpu_limit: ", ":8: runners.kubernetes.poll_timeout: "} {
		assert.Check(t, strings.HasPrefix(lines[i], "ERROR: k8sdrv: "+path+want), lines[i])
	}
}

// TestRunColoursTheJobLog: the commands whose lines reach the job log
// (config, prepare, run) colour them as gitlab-runner colours its own
// (errors bold red); cleanup, whose lines go to the runner's own log, and
// any command under NO_COLOR print plain lines.
func TestRunColoursTheJobLog(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("K8SDRV_CONFIG", "")
	path := filepath.Join(t.TempDir(), "config.toml")
	assert.NilError(t, os.WriteFile(path, []byte("cpu_limit = \"two\"\n"), 0o600))
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NO_COLOR=") {
			environ = append(environ, kv)
		}
	}
	problem := "k8sdrv: " + path + ":1: cpu_limit: "
	for _, tc := range []struct {
		command string
		environ []string
		colour  bool
	}{
		{"config", environ, true},
		{"prepare", environ, true},
		{"cleanup", environ, false},
		{"config", slices.Concat(environ, []string{"NO_COLOR=1"}), false},
		{"config", slices.Concat(environ, []string{"NO_COLOR="}), true}, // set but empty: not asked for
	} {
		var stderr bytes.Buffer
		run([]string{"k8sdrv", "--config", path, tc.command}, tc.environ, io.Discard, &stderr)
		line := stderr.String()
		if tc.colour {
			assert.Check(t, strings.HasPrefix(line, "\x1b[31;1mERROR: "+problem), "%s: %q", tc.command, line)
			assert.Check(t, strings.HasSuffix(line, "\x1b[0;m\n"), "%s: %q", tc.command, line)
		} else {
			assert.Check(t, strings.HasPrefix(line, "ERROR: "+problem), "%s: %q", tc.command, line)
			assert.Check(t, !strings.Contains(line, "\x1b"), "%s: %q", tc.command, line)
		}
	}
}
