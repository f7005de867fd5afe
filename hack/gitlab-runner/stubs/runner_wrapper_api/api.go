// Package api is a stand-in for the runner wrapper's gRPC API types.
package api

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"
)

// Status is the wrapped process's status.
type Status int

// Statuses.
const (
	StatusUnknown Status = iota
	StatusRunning
	StatusInShutdown
	StatusStopped
)

func (s Status) String() string {
	return [...]string{"unknown", "running", "in_shutdown", "stopped"}[s]
}

// ErrProcessNotInitialized: no process is running yet.
var ErrProcessNotInitialized = errors.New("process not initialized")

// ShutdownCallbackDef describes a callback request.
type ShutdownCallbackDef interface {
	URL() string
	Method() string
}

// InitGracefulShutdownRequest asks for a graceful shutdown.
type InitGracefulShutdownRequest interface {
	ShutdownCallbackDef() ShutdownCallbackDef
}

// ShutdownCallback runs after shutdown.
type ShutdownCallback interface {
	Run(ctx context.Context)
}

// NewShutdownCallback returns a callback that only logs.
func NewShutdownCallback(log logrus.FieldLogger, def ShutdownCallbackDef) ShutdownCallback {
	return callback{log: log}
}

type callback struct{ log logrus.FieldLogger }

func (c callback) Run(context.Context) {
	c.log.Warn("shutdown callbacks are not available in this gitlab-runner build (runner_wrapper/api stand-in)")
}
