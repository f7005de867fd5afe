// Package client is a stand-in for step-runner's client types.
package client

import "time"

// State is a job's state.
type State int

// States.
const (
	StateUnknown State = iota
	StateSuccess
	StateFailure
	StateCancelled
)

func (s State) String() string {
	return [...]string{"unknown", "success", "failure", "cancelled"}[s]
}

// ErrorKind classifies a failure.
type ErrorKind int

// Error kinds.
const (
	ErrorUnknown ErrorKind = iota
	ErrorInternal
	ErrorStepFailure
	ErrorCancelled
	ErrorTimeout
)

// Status is a finished job's status.
type Status struct {
	State     State
	ErrorKind ErrorKind
	Message   string
}

// Variable is a job variable.
type Variable struct {
	Key, Value   string
	File, Masked bool
}

// RunRequest asks a step-runner to run steps.
type RunRequest struct {
	Id        string
	Timeout   *time.Duration
	WorkDir   string
	BuildDir  string
	Env       map[string]string
	Steps     string
	Variables []Variable
}
