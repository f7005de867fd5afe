// Package expression is a stand-in for step-runner's expression evaluator.
package expression

import (
	"gitlab.com/gitlab-org/moa"
	"gitlab.com/gitlab-org/moa/ast"
	"gitlab.com/gitlab-org/moa/value"
)

// Sensitive marks a value that must not be shown.
const Sensitive uint16 = 1

// Input is a named input value.
type Input struct {
	Key   string
	Value value.Value
}

// Evaluator would evaluate expressions.
type Evaluator struct{}

// NewEvaluator returns an evaluator whose Eval always fails.
func NewEvaluator(value.Value) (*Evaluator, error) { return &Evaluator{}, nil }

// Eval always fails.
func (*Evaluator) Eval(string, ast.Expr) (value.Value, error) { return value.Null(), moa.ErrStandIn }
