package kubeapi

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"gotest.tools/v3/assert"
)

// TestEndedByTheRateLimitersRefusal: client-go's rate limiter refuses a
// wait that would pass the deadline before the context says it has ended;
// EndedBy reports the deadline, as the context's own error.
func TestEndedByTheRateLimitersRefusal(t *testing.T) {
	limiter := rate.NewLimiter(rate.Every(time.Hour), 1)
	assert.Assert(t, limiter.Allow()) // the next token is an hour away
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	waitErr := limiter.Wait(ctx)
	assert.ErrorContains(t, waitErr, "would exceed context deadline")
	assert.NilError(t, ctx.Err(), "the limiter refused before the deadline: the case EndedBy exists for")
	err := fmt.Errorf("client rate limiter Wait returned an error: %w", waitErr) // as client-go wraps it

	assert.Assert(t, errors.Is(EndedBy(ctx, err), context.DeadlineExceeded))
	assert.Assert(t, ctx.Err() != nil, "EndedBy returns once the context has ended")
}

func TestEndedBy(t *testing.T) {
	failed := errors.New(`Post "https://api/pods": connection refused`)
	assert.NilError(t, EndedBy(context.Background(), failed), "a live context ended nothing")
	// Without a deadline the limiter never says so; the text alone is not enough.
	assert.NilError(t, EndedBy(context.Background(), errors.New("would exceed context deadline")))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, EndedBy(ctx, failed), failed, "an ended context: the call's own error, which says what was cut")
}
