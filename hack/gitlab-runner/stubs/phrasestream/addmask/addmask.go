// Package addmask is a stand-in for phrasestream's addmask, which
// gitlab-runner's helper uses only in `proxy-exec` (the runner's
// proxy_exec setting, off by default) to mask values a job adds at run
// time. This build cannot: New refuses, so proxy-exec fails naming the
// stand-in.
package addmask

import (
	"errors"
	"io"
)

// ErrStandIn is returned by New.
var ErrStandIn = errors.New("addmask: run-time masking is not available in this gitlab-runner build (phrasestream stand-in)")

// AddMask would mask the phrases a job adds while it runs.
type AddMask struct{}

// New always fails.
func New(store any, outputs ...io.Writer) (*AddMask, error) { return nil, ErrStandIn }

// Get returns the masked writer for output n; unreachable, as New fails.
func (*AddMask) Get(n int) io.Writer { return io.Discard }

// Close does nothing.
func (*AddMask) Close() error { return nil }
