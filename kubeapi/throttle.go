package kubeapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/streaming/pkg/httpstream"
)

// An API server throttling its clients (API Priority and Fairness, or a
// proxy in front of it) answers 429 Too Many Requests with a Retry-After
// header. client-go's REST client waits it out and tries again, up to ten
// times, for every verb k8sdrv uses (create, get, list, watch, delete),
// without a word. An exec's upgrade (WebSocket or SPDY) is never tried
// again by client-go, and the WebSocket executor drops the header; the
// API server does not throttle exec (a long-running request), but a proxy
// may. This file lets k8sdrv see both.

// OnThrottled makes rc call notice, once, when the API server first
// answers a request 429; retryAfter is its Retry-After, 0 when it gave
// none.
func OnThrottled(rc *rest.Config, notice func(retryAfter time.Duration)) {
	var once sync.Once
	WrapTransport(rc, func(retryAfter time.Duration) {
		once.Do(func() { notice(retryAfter) })
	})
}

// WrapTransport makes every request of rc (and of exec streams made from
// it) call seen with the Retry-After of each 429 answer, keeping any
// wrapper rc already has.
func WrapTransport(rc *rest.Config, seen func(retryAfter time.Duration)) {
	inner := rc.WrapTransport
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if inner != nil {
			rt = inner(rt)
		}
		return &throttleWatch{next: rt, seen: seen}
	}
}

// throttleWatch passes requests on and reports the 429 answers.
type throttleWatch struct {
	next http.RoundTripper
	seen func(retryAfter time.Duration)
}

func (t *throttleWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if retryAfter, ok := Throttled(resp, err); ok {
		t.seen(retryAfter)
	}
	return resp, err
}

// WrappedRoundTripper lets client-go reach the transport underneath (its
// TLS configuration, idle connections).
func (t *throttleWatch) WrappedRoundTripper() http.RoundTripper { return t.next }

// Throttled reports whether a round trip was answered 429, and with which
// Retry-After (0 when unknown): a response, or the WebSocket upgrade
// failure that client-go makes of one, which keeps only the status line
// and the body.
func Throttled(resp *http.Response, err error) (time.Duration, bool) {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		seconds, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return time.Duration(max(seconds, 0)) * time.Second, true
	}
	var upgrade *httpstream.UpgradeFailureError
	if !errors.As(err, &upgrade) {
		return 0, false
	}
	var status apierrors.APIStatus
	if errors.As(upgrade.Cause, &status) {
		return RetryAfter(upgrade.Cause)
	}
	return 0, strings.Contains(upgrade.Cause.Error(), "(429 Too Many Requests)")
}

// RetryAfter reports whether err is the API server's 429, and the wait
// its Retry-After asked for (0 when it named none).
func RetryAfter(err error) (time.Duration, bool) {
	if !apierrors.IsTooManyRequests(err) {
		return 0, false
	}
	return SuggestedDelay(err), true
}

// SuggestedDelay is the wait an API error asks for: a 429's Retry-After, a
// Timeout's retryAfterSeconds (0 when it names none).
func SuggestedDelay(err error) time.Duration {
	seconds, _ := apierrors.SuggestsClientDelay(err)
	return time.Duration(max(seconds, 0)) * time.Second
}

// EndedBy is, when ctx ended the request that failed with err, the error
// to report (nil when it did not). client-go's rate limiter refuses a wait
// that would end past the context's deadline, and does so a moment before
// the context's own timer fires, with an error that does not wrap
// context.DeadlineExceeded; that refusal is the deadline too, reported as
// ctx.Err() once ctx has ended.
func EndedBy(ctx context.Context, err error) error {
	if err != nil && strings.Contains(err.Error(), "would exceed context deadline") {
		if _, ok := ctx.Deadline(); ok {
			<-ctx.Done()
			return ctx.Err()
		}
	}
	if ctx.Err() != nil {
		return err
	}
	return nil
}
