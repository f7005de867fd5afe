package attach

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"gotest.tools/v3/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// TestExecRefusedByTheAPIServer: an API server that refuses the exec's
// WebSocket upgrade (403, as for an account without pods/exec create)
// gives a Forbidden error at once, through client-go's own executor: no
// SPDY fallback, and Stage.Run does not reconnect.
func TestExecRefusedByTheAPIServer(t *testing.T) {
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" is forbidden: ","reason":"Forbidden","details":{"name":"p","kind":"pods"},"code":403}`))
	}))
	defer srv.Close()
	config := &rest.Config{Host: srv.URL}
	client, err := kubeapi.NewRESTClient(config)
	assert.NilError(t, err)
	exec := &PodExecutor{Config: config, Client: client, Namespace: "ci", Pod: "p"}

	err = exec.Exec(context.Background(), "build", []string{"true"}, nil, nil, nil)
	assert.Assert(t, apierrors.IsForbidden(err), "%v", err)
	assert.Assert(t, refused(err))
	assert.Equal(t, requests, 1, "the refusal was tried again over SPDY")
}
