// Package scripts holds the POSIX sh programs that k8sdrv runs inside job
// containers, and the words of the stage protocol they speak with k8sdrv
// (protocol.go). They are plain files, checked with shellcheck, embedded here.
package scripts

import (
	"embed"
	"strings"
)

//go:embed *.sh
var files embed.FS

// Stage starts a CI stage detached in a container and streams its log; see
// the header of stage.sh for its modes and protocol. It is stage.sh without
// its comments: it travels in every exec request.
var Stage = load("stage.sh")

// Supervise runs a stage's script and records its exit code; stage.sh
// starts it detached. It is supervise.sh without its comments: stage.sh
// receives it as an argument when it starts a stage.
var Supervise = load("supervise.sh")

// WaitPorts waits until the job's services listen on their TCP ports; see
// the header of waitports.sh. It is waitports.sh without its comments.
var WaitPorts = load("waitports.sh")

// Keepalive is the command of the build and helper containers. It is
// keepalive.sh without its comments: it appears in every pod spec.
var Keepalive = load("keepalive.sh")

// load returns the embedded script name without its comments.
func load(name string) string {
	script, err := files.ReadFile(name)
	if err != nil {
		panic(err) // a name that is not embedded: a programming error
	}
	return compact(string(script))
}

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
