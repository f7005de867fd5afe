package attach

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"gotest.tools/v3/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// upgradeRefuser is an API server that answers every exec upgrade with
// status (spdyStatus for SPDY's, when set): a Status body for a 403, a
// Retry-After of 3 s with a 429 (and a plain body, as API Priority and
// Fairness writes it). It records the method of each request (GET:
// WebSocket, POST: SPDY).
type upgradeRefuser struct {
	mu         sync.Mutex
	status     int
	spdyStatus int
	methods    []string
}

func (u *upgradeRefuser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.methods = append(u.methods, r.Method)
	u.mu.Unlock()
	status := u.status
	if r.Method == http.MethodPost && u.spdyStatus != 0 {
		status = u.spdyStatus
	}
	switch status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "3")
		http.Error(w, "Too many requests, please try again later.", status)
		return
	case http.StatusForbidden:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(u.status)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" is forbidden: no exec","reason":"Forbidden","code":403}`)
		return
	}
	http.Error(w, "upgrade refused", status)
}

// execAgainst runs one exec through PodExecutor against handler.
func execAgainst(t *testing.T, handler http.Handler) error {
	t.Helper()
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	rc := &rest.Config{Host: server.URL}
	client, err := kubeapi.NewRESTClient(rc)
	assert.NilError(t, err)
	exec := &PodExecutor{Config: rc, Client: client, Namespace: "ci", Pod: "p"}
	return exec.Exec(context.Background(), "build", []string{"true"}, nil, io.Discard, io.Discard)
}

// TestExecFallsBackToSPDYUnlessRefused: a WebSocket upgrade that fails
// (an API server or proxy without WebSocket support) is tried again over
// SPDY; one the API server refused (403) is not, and keeps its reason.
func TestExecFallsBackToSPDYUnlessRefused(t *testing.T) {
	unsupported := &upgradeRefuser{status: http.StatusBadRequest}
	assert.Assert(t, execAgainst(t, unsupported) != nil)
	assert.DeepEqual(t, unsupported.methods, []string{http.MethodGet, http.MethodPost})

	forbidden := &upgradeRefuser{status: http.StatusForbidden}
	err := execAgainst(t, forbidden)
	assert.Assert(t, apierrors.IsForbidden(err), "%v", err)
	assert.DeepEqual(t, forbidden.methods, []string{http.MethodGet})
}
