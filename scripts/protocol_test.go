package scripts

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// TestScriptsSpeakTheProtocol holds the scripts, as they travel (without
// comments), to the words of protocol.go: k8sdrv and the scripts ship
// together, but nothing else would notice one side renaming a word.
func TestScriptsSpeakTheProtocol(t *testing.T) {
	all := embedded(t)
	stage, supervise := all["stage.sh"], all["supervise.sh"]

	t.Run("modes", func(t *testing.T) {
		// The arms of stage.sh's `case $mode in`.
		assert.DeepEqual(t, words(`(?m)^\s*([a-z][a-z-]*)\) `, stage), sorted(ModeStart, ModeFollow, ModeSignal))
	})
	t.Run("protocol lines", func(t *testing.T) {
		for name, script := range all {
			want := []string(nil)
			switch name {
			case "stage.sh":
				want = sorted(StatusLine, ErrorLine)
			case "waitports.sh":
				want = sorted(ReadyLine, ErrorLine)
			}
			assert.DeepEqual(t, words(`'(k8sdrv-[a-z]+) `, script), want)
			// k8sdrv reads protocol lines from stderr only.
			for _, line := range regexp.MustCompile(`'k8sdrv-[a-z]+ [^']*'[^;\n]*`).FindAllString(script, -1) {
				assert.Assert(t, strings.HasSuffix(line, ">&2"), "%s: protocol line not on stderr: %s", name, line)
			}
		}
	})
	t.Run("failures", func(t *testing.T) {
		// Any other first word starts a diagnostic that k8sdrv shows as it is.
		diagnostics := []string{"cannot", "unknown"}
		want := sorted(append(diagnostics, FailNotStarted, FailIncompleteScript, FailAbandoned)...)
		assert.DeepEqual(t, words(`fail "([^" ]+)`, stage), want)
	})
	t.Run("stage files", func(t *testing.T) {
		// Every script calls the attempt's path $dir; its files are $dir.<name>.
		var used []string
		for name, script := range all {
			files := words(`\$dir\.([A-Za-z0-9_-]+)`, script)
			for _, f := range files {
				assert.Assert(t, slices.Contains(stageFiles, f), "%s: %s is not one of the stage files %v", name, f, stageFiles)
			}
			used = append(used, files...)
		}
		assert.DeepEqual(t, sorted(used...), sorted(stageFiles...))
	})
	t.Run("wake signal", func(t *testing.T) {
		assert.DeepEqual(t, words(`trap '[^']*' ([A-Z0-9]+)`, stage), []string{wakeSignal})
		assert.DeepEqual(t, words(`kill -([A-Z0-9]+) "\$f"`, supervise), []string{wakeSignal})
	})
}

// embedded returns every embedded script by file name, as it travels.
func embedded(t *testing.T) map[string]string {
	names, err := fs.Glob(files, "*.sh")
	assert.NilError(t, err)
	out := map[string]string{}
	for _, name := range names {
		out[name] = load(name)
	}
	assert.Assert(t, out["stage.sh"] != "" && out["supervise.sh"] != "")
	return out
}

// words returns the distinct first submatches of pattern in script, sorted.
func words(pattern, script string) []string {
	var out []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(script, -1) {
		out = append(out, m[1])
	}
	return sorted(out...)
}

func sorted(list ...string) []string {
	if len(list) == 0 {
		return nil
	}
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}
