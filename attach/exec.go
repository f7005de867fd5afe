// Package attach runs CI stages inside a job pod's containers so that their
// output and exit code survive a dropped API connection: the stage runs
// detached in the container, logging to a file on a pod-local volume; k8sdrv
// streams that log from the last byte it forwarded and takes the result only
// from the exit-code file (see scripts/stage.sh).
package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// Executor runs a command in a container of the job pod, connecting its
// standard streams. It returns when the command ends or the stream breaks.
// It is the narrow seam that tests replace.
type Executor interface {
	Exec(ctx context.Context, container string, command []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// PodExecutor executes commands through the API server's pods/exec
// subresource, WebSocket first with SPDY as the fallback.
type PodExecutor struct {
	Config    *rest.Config
	Client    rest.Interface // a core/v1 REST client
	Namespace string
	Pod       string
}

// Exec implements Executor.
func (p *PodExecutor) Exec(ctx context.Context, container string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	// kubeAPI: pods/exec, create
	// kubeAPI: pods/exec, get
	req := p.Client.Post().Namespace(p.Namespace).Resource("pods").Name(p.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdin:     stdin != nil,
			Stdout:    stdout != nil,
			Stderr:    stderr != nil,
		}, kubeapi.ParameterCodec)
	failed := func(err error) error {
		return kubeapi.Failed("exec in", "container "+container+" of pod", p.Namespace, p.Pod, err)
	}
	// The upgrades' errors keep neither a 429's status code (SPDY) nor
	// its Retry-After (WebSocket): see them on the way.
	throttle := &throttleRecord{}
	config := rest.CopyConfig(p.Config)
	kubeapi.WrapTransport(config, throttle.seen)
	websocket, err := remotecommand.NewWebSocketExecutor(config, "GET", req.URL().String())
	if err != nil {
		return failed(err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(config, "POST", req.URL())
	if err != nil {
		return failed(err)
	}
	exec, err := remotecommand.NewFallbackExecutor(websocket, spdy, func(err error) bool {
		// SPDY cannot succeed where the API server refused the request
		// itself, and would only blur its reason into plain text; asked
		// to wait, it waits rather than ask again the other way.
		_, throttled := throttle.get()
		return (httpstream.IsUpgradeFailure(err) && refusedUpgrade(err) == nil && !throttled) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return failed(err)
	}
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	if status := refusedUpgrade(err); status != nil {
		err = status
	}
	if retryAfter, throttled := throttle.get(); err != nil && throttled {
		err = apierrors.NewTooManyRequests(fmt.Sprintf("the API server throttles the exec: %v", err), int(retryAfter/time.Second))
	}
	return failed(err)
}

// throttleRecord holds the 429 answer of one exec's upgrade, if any.
type throttleRecord struct {
	mu         sync.Mutex
	throttled  bool
	retryAfter time.Duration
}

func (r *throttleRecord) seen(retryAfter time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.throttled, r.retryAfter = true, retryAfter
}

func (r *throttleRecord) get() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retryAfter, r.throttled
}

// refusedUpgrade returns the API server's refusal of the WebSocket upgrade
// (401, 403, 404) as its status error, or nil. The upgrade error does not
// unwrap to its cause, so its reason would be lost.
func refusedUpgrade(err error) *apierrors.StatusError {
	var upgrade *httpstream.UpgradeFailureError
	var status *apierrors.StatusError
	if !errors.As(err, &upgrade) || !errors.As(upgrade.Cause, &status) {
		return nil
	}
	switch status.Status().Code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return status
	}
	return nil
}
