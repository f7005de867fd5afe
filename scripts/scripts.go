// Package scripts holds the POSIX sh programs that k8sdrv runs inside job
// containers. They are plain files, checked with shellcheck, embedded here.
package scripts

import (
	_ "embed"
	"strings"
)

// Stage starts a CI stage detached in a container and streams its log; see
// the header of stage.sh for its modes and protocol.
//
//go:embed stage.sh
var stage string

// Stage is stage.sh without its comments: it travels in every exec request.
var Stage = compact(stage)

// Supervise runs a stage's script and records its exit code; stage.sh
// starts it detached.
//
//go:embed supervise.sh
var supervise string

// Supervise is supervise.sh without its comments: stage.sh receives it as
// an argument when it starts a stage.
var Supervise = compact(supervise)

// Keepalive is the command of the build and helper containers.
//
//go:embed keepalive.sh
var keepalive string

// Keepalive is keepalive.sh without its comments: it appears in every pod spec.
var Keepalive = compact(keepalive)

// compact drops comment lines and blank lines; the scripts put no '#' at
// the start of a line inside a string, so this never changes behaviour.
func compact(script string) string {
	var b strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
