package driver

import (
	"context"
	"net/http/httptrace"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// earlyWatch is the watch of a pod that prepare is about to create, opened
// while the create is on its way rather than one round trip after it. It
// watches the name from the most recent state (no resource version), so
// whenever it opens, before the create lands or after, it misses nothing:
// an open watch first shows the pod as it is then (when it exists), then
// every change. It is used only if the pod was created under that name.
//
// The create waits until the watch has its connection (connected): sent
// together, both would find no connection, dial one each, and one would be
// dropped after its TLS handshake; sent after, the create shares the
// watch's HTTP/2 connection.
type earlyWatch struct {
	name      string
	open      chan struct{} // closed when the watch request has returned
	connected chan struct{} // closed when the watch has a connection, or has returned
	watcher   watch.Interface
	err       error
	cancel    context.CancelFunc
	taken     bool // by waitPod, which stops it
}

// watchBeforeCreate starts opening the watch of pod, to be created.
func watchBeforeCreate(ctx context.Context, pods kubeapi.Pods, pod *corev1.Pod) *earlyWatch {
	ctx, cancel := context.WithCancel(ctx)
	e := &earlyWatch{name: pod.Name, open: make(chan struct{}), connected: make(chan struct{}), cancel: cancel}
	var once sync.Once
	connected := func() { once.Do(func() { close(e.connected) }) }
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected() }})
	go func() {
		defer close(e.open)
		defer connected()
		// kubeAPI: pods, watch
		e.watcher, e.err = pods.Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
		})
	}()
	return e
}

// waitConnected returns when the watch has its connection or has failed,
// or after at most limit: a watch still dialling (an API server that does
// not answer) does not hold the create back for longer.
func (e *earlyWatch) waitConnected(ctx context.Context, limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-e.connected:
	case <-t.C:
	case <-ctx.Done():
	}
}

// take returns the watch, once, when it opened and watches created; nil
// otherwise (it failed, or is not open when ctx ends: waitRunning opens
// its own, with retries).
func (e *earlyWatch) take(ctx context.Context, created *corev1.Pod) watch.Interface {
	if e == nil || created.Name != e.name {
		return nil
	}
	select {
	case <-e.open:
	case <-ctx.Done():
		return nil
	}
	w := e.watcher
	e.watcher = nil
	if e.err != nil {
		return nil
	}
	e.taken = true
	return w
}

// handOver returns what ends a watch handed over open (waitPod's, to wait
// for the services): cancel, and when the watch is early's, early's own
// context too; an early watch nobody took is stopped now.
func (e *earlyWatch) handOver(cancel context.CancelFunc) context.CancelFunc {
	if e == nil || !e.taken {
		e.stop()
		return cancel
	}
	return func() {
		cancel()
		e.cancel()
	}
}

// stop ends the watch if nobody took it; the taker stops what it took.
func (e *earlyWatch) stop() {
	if e == nil {
		return
	}
	e.cancel()
	<-e.open
	if e.watcher != nil {
		e.watcher.Stop()
		e.watcher = nil
	}
}
