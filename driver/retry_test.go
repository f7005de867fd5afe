package driver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
)

func shortRetryPauses(t *testing.T) {
	old := firstRetryPause
	firstRetryPause = time.Millisecond
	t.Cleanup(func() { firstRetryPause = old })
}

// refused is what client-go returns while nothing listens on the API
// server's address (a restart).
var refused = &netError{syscall.ECONNREFUSED}

type netError struct{ errno syscall.Errno }

func (e *netError) Error() string { return "dial tcp 10.0.0.1:6443: connect: " + e.errno.Error() }
func (e *netError) Unwrap() error { return e.errno }

func TestPrepareRetriesCreateWhileTheAPIServerIsDown(t *testing.T) {
	shortRetryPauses(t)
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	tries := 0
	d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		tries++
		if tries < 9 { // more than retry_limit's default: without one, until poll_timeout
			return true, nil, refused
		}
		return false, nil, nil
	})
	assert.NilError(t, d.prepare(context.Background()))
	assert.Equal(t, tries, 9)
	assert.Equal(t, len(d.podNames(t)), 1)
	assert.Equal(t, strings.Count(d.stderr.String(), "trying again"), 4, "warnings at tries 1, 2, 4 and 8")
	assert.Assert(t, is.Contains(d.stderr.String(), "WARNING: create pod default/runner-tok-project-7-concurrent-0-"))
	assert.Assert(t, is.Contains(d.stderr.String(), "failed (try 2 within 30s), trying again in"))
}

// A create whose request landed but whose answer was lost is tried again:
// the second try finds the first one's pod (same name) and takes it, so
// the job has one pod, not two.
func TestPrepareTakesThePodOfAnAmbiguousCreate(t *testing.T) {
	shortRetryPauses(t)
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	tries := 0
	d.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		tries++
		if tries == 1 { // the create lands, the connection breaks before the answer
			pod := action.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
			assert.NilError(t, d.client.Tracker().Create(podsResource.WithVersion("v1"), pod, pod.Namespace))
			return true, nil, errors.New("http2: client connection lost")
		}
		return false, nil, nil
	})
	assert.NilError(t, d.prepare(context.Background()))
	assert.Equal(t, tries, 2)
	assert.Equal(t, len(d.podNames(t)), 1)
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	assert.DeepEqual(t, []string{state.Pod}, d.podNames(t))
}

func TestPrepareRetryLimits(t *testing.T) {
	shortRetryPauses(t)
	quota := apierrors.NewForbidden(podsResource, "p", errors.New("exceeded quota: q, requested: limits.cpu=2"))
	for _, tc := range []struct {
		name   string
		config func(d *testDriver)
		err    error
		tries  int
	}{
		{"a refusal is not tried again", func(*testDriver) {}, apierrors.NewForbidden(podsResource, "p", errors.New(`violates PodSecurity "restricted:latest"`)), 1},
		{"retry_limits names it", func(d *testDriver) { d.cfg.RetryLimits = map[string]int{"exceeded quota": 3} }, quota, 3},
		{"retry_limit bounds network errors", func(d *testDriver) { d.cfg.RetryLimit = 2 }, refused, 2},
		{"the default is 5 tries", func(*testDriver) {}, apierrors.NewServiceUnavailable("etcdserver: request timed out"), 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDriver(t)
			tc.config(d)
			tries := 0
			d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				tries++
				return true, nil, tc.err
			})
			err := d.prepare(context.Background())
			assert.ErrorContains(t, err, "create pod in namespace default")
			assert.Equal(t, tries, tc.tries)
			warnings := 0 // at tries 1, 2, 4, 8...
			for try := 1; try < tc.tries; try++ {
				if try&(try-1) == 0 {
					warnings++
				}
			}
			assert.Equal(t, strings.Count(d.stderr.String(), "trying again"), warnings)
			assert.DeepEqual(t, d.podNames(t), []string(nil))
		})
	}
}

// TestPrepareRetriesTheWatchWhileTheAPIServerIsDown: the first refused
// watch is the one opened with the create, which prepare then replaces
// with its own, tried again until the API server answers.
func TestPrepareRetriesTheWatchWhileTheAPIServerIsDown(t *testing.T) {
	shortRetryPauses(t)
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	tries := 0
	d.client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		tries++
		if tries < 3 {
			return true, nil, refused
		}
		return false, nil, nil // on to setStatusWhenCreated's watch
	})
	assert.NilError(t, d.prepare(context.Background()))
	assert.Equal(t, tries, 3)
}

// Without a retry_limit, an API server that never answers is tried for
// unansweredFor, then prepare fails naming the request.
func TestPrepareGivesUpOnAnUnreachableAPIServer(t *testing.T) {
	shortRetryPauses(t)
	old := unansweredFor
	unansweredFor = 300 * time.Millisecond
	t.Cleanup(func() { unansweredFor = old })
	d := newTestDriver(t)
	d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, refused
	})
	start := time.Now()
	err := d.prepare(context.Background())
	assert.ErrorContains(t, err, "create pod in namespace default: no answer for 300ms: dial tcp 10.0.0.1:6443: connect: connection refused")
	// It gives up when the next pause would end past unansweredFor; the
	// pauses double, so that pause is no longer than the time already
	// spent (however late a loaded machine wakes it): at least half.
	assert.Assert(t, time.Since(start) >= 150*time.Millisecond, "gave up after %s", time.Since(start))
	assert.Assert(t, time.Since(start) < 3*time.Second, "gave up after %s", time.Since(start))
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// A certificate the client does not trust is not tried again.
func TestPrepareDoesNotRetryAnUntrustedCertificate(t *testing.T) {
	shortRetryPauses(t)
	d := newTestDriver(t)
	tries := 0
	d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		tries++
		return true, nil, &url.Error{Op: "Post", URL: "https://10.0.0.1:6443/api/v1/namespaces/default/pods",
			Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}
	})
	err := d.prepare(context.Background())
	assert.ErrorContains(t, err, "certificate signed by unknown authority")
	assert.Equal(t, tries, 1)
}

// TestPrepareWatchesAgainWhenTheWatchCacheLags: under load the API
// server's watch cache falls behind etcd, and a watch from a version it
// has not seen yet ends with an error event, "Too large resource version"
// (a Timeout suggesting a delay). Prepare waits that delay and watches
// again instead of failing the job.
func TestPrepareWatchesAgainWhenTheWatchCacheLags(t *testing.T) {
	pauses := recordPauses(t)
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	lagging := 0
	d.client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		if lagging == 2 {
			return false, nil, nil // on to setStatusWhenCreated's watch
		}
		lagging++
		w := watch.NewRaceFreeFake()
		tooLarge := apierrors.NewTimeoutError("Too large resource version: 9392, current: 9380", 1)
		w.Error(&tooLarge.ErrStatus)
		w.Stop()
		return true, w, nil
	})
	assert.NilError(t, d.prepare(context.Background()))
	assert.Equal(t, lagging, 2)
	assert.Check(t, is.Contains(pauses(), time.Second), "pauses: %v", pauses())
}
