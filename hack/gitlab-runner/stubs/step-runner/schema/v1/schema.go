// Package schema is a stand-in for step-runner's step schema: enough to
// decode and re-encode a job's `run:` steps.
package schema

// StepInputs are a step's inputs.
type StepInputs map[string]any

// Step is one step.
type Step struct {
	Name   *string           `json:"name,omitempty" yaml:"name,omitempty"`
	Step   string            `json:"step,omitempty" yaml:"step,omitempty"`
	Script string            `json:"script,omitempty" yaml:"script,omitempty"`
	Inputs StepInputs        `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	Env    map[string]string `json:"env,omitempty" yaml:"env,omitempty"`
	Run    []Step            `json:"run,omitempty" yaml:"run,omitempty"`
}
