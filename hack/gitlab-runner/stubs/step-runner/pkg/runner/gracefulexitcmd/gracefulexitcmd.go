// Package gracefulexitcmd is a stand-in for step-runner's command helper:
// a command that gets SIGTERM when ctx ends and SIGKILL delay later.
package gracefulexitcmd

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// Cmd is an exec.Cmd.
type Cmd = exec.Cmd

// New returns the command.
func New(ctx context.Context, delay time.Duration, name string, args ...string) *Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = delay
	return cmd
}
