package driver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func quotaError(msg string) error {
	return apierrors.NewForbidden(podsResource, "runner-x", errors.New(msg))
}

func TestAsQuotaRefusal(t *testing.T) {
	for _, tc := range []struct {
		err           error
		quota, expect string
	}{
		{quotaError("exceeded quota: ci-pods, requested: pods=1, used: pods=1, limited: pods=1"),
			"ci-pods", "pods: 1 of 1 used, 1 requested"},
		{quotaError("exceeded quota: compute, requested: limits.cpu=2,requests.cpu=500m, used: limits.cpu=7,requests.cpu=1, limited: limits.cpu=8,requests.cpu=4"),
			"compute", "limits.cpu: 7 of 8 used, 2 requested"},
		{quotaError("status unknown for quota: fresh, resources: pods"), "fresh", "not yet counted by the quota controller (pods)"},
		{quotaError("exceeded quota: odd, requested: x, used: y, limited: z"), "odd", "requested x, used y, limited z"},
	} {
		refusal, ok := asQuotaRefusal(tc.err)
		assert.Assert(t, ok, tc.err)
		assert.Equal(t, refusal.quota, tc.quota)
		assert.Equal(t, refusal.summary, tc.expect)
	}
	for _, err := range []error{
		quotaError("failed quota: compute: must specify limits.cpu for: build"), // never passes
		apierrors.NewInternalError(errors.New("exceeded quota: x")),
		nil,
	} {
		_, ok := asQuotaRefusal(err)
		assert.Assert(t, !ok, err)
	}
}

// TestPrepareWaitsForQuota: without any retry_limits entry, a create
// refused for exceeded quota is tried again until it passes, with one
// line saying what is exhausted instead of one per try.
func TestPrepareWaitsForQuota(t *testing.T) {
	shortRetryPauses(t)
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	tries := 0
	d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		tries++
		if tries <= 3 {
			return true, nil, quotaError("exceeded quota: ci-pods, requested: pods=1, used: pods=1, limited: pods=1")
		}
		return false, nil, nil
	})
	assert.NilError(t, d.prepare(context.Background()))
	assert.Equal(t, tries, 4)
	assert.Equal(t, len(d.podNames(t)), 1)
	log := d.stderr.String()
	assert.Equal(t, strings.Count(log, "Waiting for quota"), 1, log)
	assert.Assert(t, is.Contains(log, "Waiting for quota ci-pods in namespace default (pods: 1 of 1 used, 1 requested); trying again until quota_wait_timeout (3m0s) passes"))
	assert.Assert(t, !strings.Contains(log, "WARNING"), log)
}

func TestPrepareGivesUpOnQuotaAtQuotaWaitTimeout(t *testing.T) {
	shortRetryPauses(t)
	d := newTestDriver(t)
	d.cfg.QuotaWaitTimeout.Duration = 300 * time.Millisecond
	tries := 0
	d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		tries++
		return true, nil, quotaError("exceeded quota: ci-pods, requested: pods=1, used: pods=1, limited: pods=1")
	})
	start := time.Now()
	err := d.prepare(context.Background())
	assert.Assert(t, time.Since(start) < 2*time.Second)
	assert.ErrorContains(t, err, "create pod in namespace default: Forbidden: quota ci-pods still exhausted after quota_wait_timeout (300ms): ")
	assert.ErrorContains(t, err, "(hint: a ResourceQuota of the namespace refuses the pod")
	assert.Assert(t, tries > 2, tries)
	assert.Equal(t, strings.Count(d.stderr.String(), "Waiting for quota"), 1)
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// A retry_limits entry naming the refusal keeps GitLab Runner's meaning:
// that many tries, one warning each, and no wait beyond them.
func TestPrepareQuotaNamedInRetryLimits(t *testing.T) {
	shortRetryPauses(t)
	d := newTestDriver(t)
	d.cfg.RetryLimits = map[string]int{"exceeded quota": 2}
	tries := 0
	d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		tries++
		return true, nil, quotaError("exceeded quota: ci-pods, requested: pods=1, used: pods=1, limited: pods=1")
	})
	assert.ErrorContains(t, d.prepare(context.Background()), "exceeded quota: ci-pods")
	assert.Equal(t, tries, 2)
	assert.Assert(t, !strings.Contains(d.stderr.String(), "Waiting for quota"))
}
