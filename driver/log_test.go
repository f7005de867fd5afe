package driver

import (
	"bytes"
	"testing"

	"gotest.tools/v3/assert"
)

// TestLoggerLines: info lines are plain, warnings marked as GitLab Runner
// marks its own, debug lines only when asked for; never a timestamp.
func TestLoggerLines(t *testing.T) {
	for _, debug := range []bool{false, true} {
		var out bytes.Buffer
		log := NewLogger(&out, debug)
		log.Info().Msg("Created pod ci/p")
		log.Warn().Msg("KUBERNETES_CPU_LIMIT is ignored")
		log.Debug().Msg("list events: Forbidden")
		want := "Created pod ci/p\nWARNING: KUBERNETES_CPU_LIMIT is ignored\n"
		if debug {
			want += "DEBUG: list events: Forbidden\n"
		}
		assert.Equal(t, out.String(), want)
	}
}

// TestLoggerColours: with colour, warnings are yellow, errors bold red and
// the highlighted line bold green, as GitLab Runner colours its own lines
// in the job log, each ended by a reset; other info lines stay plain, and
// nothing is coloured without it.
func TestLoggerColours(t *testing.T) {
	style := &LogStyle{}
	var out bytes.Buffer
	log := NewStyledLogger(&out, false, style)
	lines := func() {
		log.Info().Msg("Created pod ci/p")
		log.Info().Bool(highlightField, true).Msg("Pod ci/p running after 1.2s")
		log.Warn().Msg("KUBERNETES_CPU_LIMIT is ignored")
		log.Error().Msg("k8sdrv: boom")
	}
	lines()
	assert.Equal(t, out.String(), "Created pod ci/p\nPod ci/p running after 1.2s\n"+
		"WARNING: KUBERNETES_CPU_LIMIT is ignored\nERROR: k8sdrv: boom\n")

	out.Reset()
	style.Colour = true
	lines()
	assert.Equal(t, out.String(), "Created pod ci/p\n"+
		"\x1b[32;1mPod ci/p running after 1.2s\x1b[0;m\n"+
		"\x1b[0;33mWARNING: KUBERNETES_CPU_LIMIT is ignored\x1b[0;m\n"+
		"\x1b[31;1mERROR: k8sdrv: boom\x1b[0;m\n")
}
