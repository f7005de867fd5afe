package attach

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// TestThrottledExecIsATooManyRequests: an exec upgrade answered 429 comes
// back as the API server's 429, whichever protocol got it: through
// WebSocket without falling back to SPDY (which would only ask again),
// its Retry-After lost on the way (client-go's WebSocket dialer keeps
// only the status line); through SPDY (after a WebSocket upgrade that
// failed otherwise) with its Retry-After.
func TestThrottledExecIsATooManyRequests(t *testing.T) {
	api := &upgradeRefuser{status: http.StatusTooManyRequests}
	err := execAgainst(t, api)
	retryAfter, throttled := kubeapi.RetryAfter(err)
	assert.Assert(t, throttled, "%v", err)
	assert.Equal(t, retryAfter, time.Duration(0))
	assert.DeepEqual(t, api.methods, []string{http.MethodGet})

	api = &upgradeRefuser{status: http.StatusBadRequest, spdyStatus: http.StatusTooManyRequests}
	err = execAgainst(t, api)
	retryAfter, throttled = kubeapi.RetryAfter(err)
	assert.Assert(t, throttled, "%v", err)
	assert.Equal(t, retryAfter, 3*time.Second)
	assert.DeepEqual(t, api.methods, []string{http.MethodGet, http.MethodPost})
}

// throttlingExecutor answers its first `throttled` execs 429, then runs
// them on the host.
type throttlingExecutor struct {
	throttled int32
	execs     atomic.Int32
}

func (e *throttlingExecutor) Exec(ctx context.Context, c string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if e.execs.Add(1) <= e.throttled {
		return kubeapi.Failed("exec in", "container build of pod", "ci", "p", apierrors.NewTooManyRequests("throttled", 0))
	}
	return localExecutor{}.Exec(ctx, c, command, stdin, stdout, stderr)
}

// TestStageWaitsOutAThrottledExec: execs answered 429 are tried again
// (after a second each, their Retry-After being unknown) in the same mode,
// without checking the pod, and the wait does not count as a broken
// connection: a reconnect timeout shorter than the wait does not end the
// stage. 401 and 403 still end it at once
// (TestStageFailsAtOnceWhenTheExecIsRefused).
func TestStageWaitsOutAThrottledExec(t *testing.T) {
	exec := &throttlingExecutor{throttled: 2}
	s, out := newStage(t, exec, "echo out\nexit 3\n")
	s.ReconnectTimeout = 100 * time.Millisecond
	s.Check = func(context.Context) error { return errors.New("the pod was checked") }
	code, err := s.Run(context.Background())
	assert.NilError(t, err)
	assert.Equal(t, code, 3)
	assert.Equal(t, out.String(), "out\n")
	assert.Equal(t, exec.execs.Load(), int32(3), "two throttled starts, then the one that ran")
}

// TestThrottledUpgrade: the forms a 429 takes on the way back from an
// exec's upgrade.
func TestThrottledUpgrade(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"4"}}}
	retryAfter, ok := kubeapi.Throttled(resp, nil)
	assert.Assert(t, ok)
	assert.Equal(t, retryAfter, 4*time.Second)
	_, ok = kubeapi.Throttled(&http.Response{StatusCode: http.StatusForbidden}, nil)
	assert.Assert(t, !ok)

	status := apierrors.NewTooManyRequests("slow down", 2)
	retryAfter, ok = kubeapi.Throttled(nil, &httpstream.UpgradeFailureError{Cause: status})
	assert.Assert(t, ok)
	assert.Equal(t, retryAfter, 2*time.Second)
	_, ok = kubeapi.Throttled(nil, &httpstream.UpgradeFailureError{Cause: errors.New("websocket: bad handshake (429 Too Many Requests): Too many requests")})
	assert.Assert(t, ok)
	_, ok = kubeapi.Throttled(nil, &httpstream.UpgradeFailureError{Cause: errors.New("websocket: bad handshake (400 Bad Request)")})
	assert.Assert(t, !ok)
	_, ok = kubeapi.Throttled(nil, errors.New("429 Too Many Requests"))
	assert.Assert(t, !ok, "only an upgrade failure is read for its status line")
}
