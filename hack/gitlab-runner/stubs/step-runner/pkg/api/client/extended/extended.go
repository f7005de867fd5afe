// Package extended is a stand-in for step-runner's client: it cannot run
// steps.
package extended

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	"gitlab.com/gitlab-org/step-runner/pkg/api/client"
)

// ErrStandIn is returned by every call.
var ErrStandIn = errors.New("step-runner: CI Steps are not available in this gitlab-runner build (step-runner stand-in)")

// Dialer opens the connection to a step-runner.
type Dialer interface {
	Dial() (*grpc.ClientConn, error)
}

// FollowOutput receives a job's logs.
type FollowOutput struct {
	Logs io.Writer
}

// Client would talk to a step-runner.
type Client struct{}

// New always fails.
func New(Dialer) (*Client, error) { return nil, ErrStandIn }

// RunAndFollow always fails.
func (*Client) RunAndFollow(context.Context, *client.RunRequest, *FollowOutput) (client.Status, error) {
	return client.Status{}, ErrStandIn
}

// Cancel always fails.
func (*Client) Cancel(context.Context, string) error { return ErrStandIn }

// CloseConn does nothing.
func (*Client) CloseConn() error { return nil }
