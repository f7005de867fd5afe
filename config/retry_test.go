package config

import (
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func TestRetryTries(t *testing.T) {
	r := Retry{RetryLimits: map[string]int{"exceeded quota": 20, "quota": 2, "etcdserver: request timed out": 3}}
	for _, tc := range []struct {
		msg   string
		tries int
		named bool
	}{
		{`pods "p" is forbidden: exceeded quota: q, requested: cpu=2`, 20, true}, // the longest text wins
		{"quota exhausted", 2, true},
		{"etcdserver: request timed out", 3, true},
		{"dial tcp 10.0.0.1:6443: connect: connection refused", DefaultRetryLimit, false},
	} {
		tries, named := r.Tries(tc.msg)
		assert.Equal(t, tries, tc.tries, tc.msg)
		assert.Equal(t, named, tc.named, tc.msg)
	}
	tries, _ := Retry{RetryLimit: 9}.Tries("connection refused")
	assert.Equal(t, tries, 9)
}

func TestRetryBackoffMax(t *testing.T) {
	for ms, want := range map[int]time.Duration{
		0: 2 * time.Second, 1: 500 * time.Millisecond, 499: 500 * time.Millisecond,
		500: 500 * time.Millisecond, 4000: 4 * time.Second,
	} {
		assert.Equal(t, Retry{RetryBackoffMax: ms}.BackoffMax(), want, "retry_backoff_max = %d", ms)
	}
	assert.DeepEqual(t, Retry{RetryBackoffMax: 100}.warnings(),
		[]string{"retry_backoff_max = 100 is below the floor of 500 (milliseconds): 500 is used"})
	assert.Assert(t, Retry{RetryBackoffMax: 500}.warnings() == nil)
}
