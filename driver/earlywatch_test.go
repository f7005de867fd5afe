package driver

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// watchOnlyPods answers Watch with watchErr, after holding the call until
// its context ends when hold is set (a watch still dialling an API server
// that does not answer).
type watchOnlyPods struct {
	kubeapi.Pods
	hold     bool
	watchErr error
}

func (p *watchOnlyPods) Watch(ctx context.Context, _ metav1.ListOptions) (watch.Interface, error) {
	if p.hold {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, p.watchErr
}

// TestCreateWaitsForTheEarlyWatchBriefly: the pod's create waits for the
// early watch's connection only as long as the limit when the watch hangs,
// and not at all once the watch has failed.
func TestCreateWaitsForTheEarlyWatchBriefly(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	const limit = 100 * time.Millisecond

	hanging := watchBeforeCreate(context.Background(), &watchOnlyPods{hold: true}, pod)
	start := time.Now()
	hanging.waitConnected(context.Background(), limit)
	waited := time.Since(start)
	hanging.stop()
	assert.Assert(t, waited >= limit, "returned after %s, before the limit", waited)
	assert.Assert(t, waited < 10*limit, "waited %s for a watch that never connects", waited)

	failed := watchBeforeCreate(context.Background(), &watchOnlyPods{watchErr: errors.New("refused")}, pod)
	<-failed.open
	start = time.Now()
	failed.waitConnected(context.Background(), time.Hour)
	assert.Assert(t, time.Since(start) < time.Second, "waited %s for a watch that had failed", time.Since(start))
	failed.stop()
}
