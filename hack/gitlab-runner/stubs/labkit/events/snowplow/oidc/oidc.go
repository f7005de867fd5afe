// Package oidc is a stand-in for labkit's cloud OIDC token source.
package oidc

import (
	"errors"

	"golang.org/x/oauth2"
)

// Option configures the source.
type Option func()

// WithSkipIfUnsupportedCloud is accepted and ignored.
func WithSkipIfUnsupportedCloud(bool) Option { return func() {} }

// NewSource returns a source that never yields a token.
func NewSource(...Option) oauth2.TokenSource { return source{} }

type source struct{}

func (source) Token() (*oauth2.Token, error) {
	return nil, errors.New("oidc: not available in this gitlab-runner build (labkit stand-in)")
}
