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
