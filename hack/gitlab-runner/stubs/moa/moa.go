// Package moa is a stand-in for GitLab's moa expression language: templates
// cannot be parsed with it, so job inputs cannot be interpolated.
package moa

import (
	"errors"
	"strings"

	"gitlab.com/gitlab-org/moa/ast"
)

// ErrStandIn is returned by everything that would need the real moa.
var ErrStandIn = errors.New("moa: expressions are not available in this gitlab-runner build (moa stand-in)")

// ParseTemplate always fails.
func ParseTemplate(string) (ast.Expr, error) { return nil, ErrStandIn }

// EscapeTemplate escapes the template opener so the text stays literal.
func EscapeTemplate(s string) string { return strings.ReplaceAll(s, "${{", "$${{") }
