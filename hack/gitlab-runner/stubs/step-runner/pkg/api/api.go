// Package api is a stand-in for step-runner's socket helpers.
package api

import (
	"net"
	"os"
	"path/filepath"
)

// DefaultSocketPath is where a step-runner would listen.
func DefaultSocketPath() string { return filepath.Join(os.TempDir(), "step-runner.sock") }

// SocketAddr is the unix address of path.
func SocketAddr(path string) *net.UnixAddr { return &net.UnixAddr{Name: path, Net: "unix"} }
