// Package runner is a stand-in for step-runner's builtin function types.
package runner

import (
	"context"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

// Kind is an input's type.
type Kind int

// Input kinds.
const (
	KindString Kind = iota
	KindBool
	KindList
)

// BuiltinResult is a builtin function's result.
type BuiltinResult struct{}

// BuiltinContext is what a builtin function sees.
type BuiltinContext interface {
	GetInput(name string, kind Kind) (*structpb.Value, error)
	GetJobVars() map[string]*structpb.Value
	GetEnvs() map[string]string
	GetEnvList() []string
	Pipe() (stdout, stderr io.Writer)
	WorkDir() string
	GracefulExitDelay() time.Duration
	ListenCancel(ctx context.Context) (context.Context, context.CancelFunc)
}

// BuiltinFunction is a function built into the step-runner.
type BuiltinFunction interface {
	Run(ctx context.Context, builtinCtx BuiltinContext) (BuiltinResult, error)
}
