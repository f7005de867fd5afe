package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/driver"
)

// make man runs TestManPage with -update-man.
var updateMan = flag.Bool("update-man", false, "rewrite docs/k8sdrv.1")

const manPage = "../../docs/k8sdrv.1"

// testApp is the command tree as `k8sdrv` runs it (help command and
// --version included).
func testApp(stdout io.Writer) *cli.App {
	app := newApp(driver.RunnerEnv{}, nil, stdout, driver.NewScrubWriter(io.Discard), zerolog.Nop())
	app.Setup()
	return app
}

// runOK runs k8sdrv with args and returns what it printed on stdout.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"k8sdrv"}, args...), os.Environ(), &stdout, &stderr)
	assert.Equal(t, code, 0, "k8sdrv %v: %s", args, stderr.String())
	return stdout.String()
}

// TestEveryCommandHelpHasAnExample: `k8sdrv <command> --help` shows at
// least one example that runs that command.
func TestEveryCommandHelpHasAnExample(t *testing.T) {
	for _, cmd := range testApp(io.Discard).VisibleCommands() {
		if cmd.Name == "help" {
			continue // urfave/cli's own
		}
		t.Run(cmd.Name, func(t *testing.T) {
			help := runOK(t, cmd.Name, "--help")
			_, examples, ok := strings.Cut(help, "Example")
			assert.Assert(t, ok, "no example in:\n%s", help)
			runs := regexp.MustCompile(`(?m)^\s+(\S+=\S+ )*(source <\()?k8sdrv( --config \S+)? ` + cmd.Name + `\b`)
			assert.Assert(t, runs.MatchString(examples), "no example runs %q:\n%s", cmd.Name, help)
		})
	}
}

// TestCompletionScripts: both scripts name every command and every flag,
// and the bash script, run in bash, completes them.
func TestCompletionScripts(t *testing.T) {
	app := testApp(io.Discard)
	for _, shell := range shells {
		script := runOK(t, "completion", shell)
		for _, cmd := range app.VisibleCommands() {
			assert.Check(t, strings.Contains(script, cmd.Name), "%s script lacks command %s", shell, cmd.Name)
			for _, f := range cmd.VisibleFlags() {
				assert.Check(t, strings.Contains(script, dashed(f.Names()[0])), "%s script lacks %s %s", shell, cmd.Name, f.Names()[0])
			}
		}
		checkShellSyntax(t, shell, script)
	}

	bash := runOK(t, "completion", "bash")
	var names []string
	for _, cmd := range app.VisibleCommands() {
		names = append(names, cmd.Name)
	}
	for line, want := range map[string]string{
		"k8sdrv ''":                     strings.Join(names, " "),
		"k8sdrv --config f.toml g":      "gc",
		"k8sdrv -c f.toml prepare --d":  "--dry-run",
		"k8sdrv gc --all":               "--all-runners",
		"k8sdrv completion ''":          "bash zsh",
		"k8sdrv gc --runner ''":         "",
		"k8sdrv --version --config x r": "run",
	} {
		assert.Equal(t, completeBash(t, bash, line), want, line)
	}
}

// completeBash runs the completion function as bash would for the words of
// line, the cursor on the last one.
func completeBash(t *testing.T, script, line string) string {
	t.Helper()
	prog := script + "\nCOMP_WORDS=(" + line + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _k8sdrv; echo \"${COMPREPLY[*]}\"\n"
	out, err := exec.Command("bash", "-c", prog).CombinedOutput()
	assert.NilError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// checkShellSyntax parses the script with its shell, and shellchecks the
// bash one, where those programs are installed (make lint needs shellcheck).
func checkShellSyntax(t *testing.T, shell, script string) {
	t.Helper()
	if _, err := exec.LookPath(shell); err == nil {
		cmd := exec.Command(shell, "-n")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NilError(t, err, "%s -n: %s", shell, out)
	}
	if _, err := exec.LookPath("shellcheck"); err == nil && shell == "bash" {
		cmd := exec.Command("shellcheck", "-")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NilError(t, err, "shellcheck: %s", out)
	}
}

// TestVersion: `k8sdrv version` and `--version` print the same facts, the
// client-go version read from the binary's build information.
func TestVersion(t *testing.T) {
	out := runOK(t, "version")
	assert.Equal(t, runOK(t, "--version"), out)
	assert.Check(t, strings.HasPrefix(out, "k8sdrv "+version+"\n"), out)
	gomod, err := os.ReadFile("../../go.mod")
	assert.NilError(t, err)
	clientGo := regexp.MustCompile(`(?m)^\s+k8s.io/client-go (\S+)$`).FindSubmatch(gomod)
	assert.Assert(t, clientGo != nil)
	for _, want := range []string{
		"client-go: " + string(clientGo[1]),
		"go:        " + runtime.Version(),
		"platform:  " + runtime.GOOS + "/" + runtime.GOARCH,
		"commit:    ",
		"date:      ",
	} {
		assert.Check(t, strings.Contains(out, "\n  "+want), "%q not in\n%s", want, out)
	}
}

// TestManPage: docs/k8sdrv.1 is the man page of the current command tree;
// `make man` rewrites it.
func TestManPage(t *testing.T) {
	app := testApp(io.Discard)
	// urfave/cli's help command is one value shared by every app; once a
	// `k8sdrv help` has run (TestRunExitCodes), it lists itself as its own
	// subcommand (and --help as a flag): ToMan would follow that loop
	// forever, so the page is made from a copy as it was before any run.
	for i, cmd := range app.Commands {
		if cmd.Name == "help" {
			flat := *cmd
			flat.Subcommands, flat.Flags = nil, nil
			app.Commands[i] = &flat
		}
	}
	man, err := app.ToManWithSection(1)
	assert.NilError(t, err)
	if *updateMan {
		assert.NilError(t, os.WriteFile(manPage, []byte(man), 0o644))
	}
	have, err := os.ReadFile(manPage)
	assert.NilError(t, err)
	assert.Equal(t, string(have), man, "docs/k8sdrv.1 is out of date: run make man")
}
