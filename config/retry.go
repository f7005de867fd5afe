package config

import (
	"fmt"
	"strings"
	"time"
)

// Defaults of the API retry policy, as GitLab Runner's Kubernetes executor
// has them.
const (
	DefaultRetryLimit      = 5
	RetryBackoffMin        = 500 * time.Millisecond
	DefaultRetryBackoffMax = 2 * time.Second
)

// Retry is how prepare retries an API request that failed on the way: a
// network error, an overloaded or restarting API server, or an error the
// operator names in retry_limits (such as "exceeded quota").
type Retry struct {
	// RetryLimit is how many times a request is tried (0: 5).
	RetryLimit int `toml:"retry_limit" envconfig:"K8SDRV_RETRY_LIMIT"`
	// RetryBackoffMax caps the pause between tries, in milliseconds (0:
	// 2000; below 500: 500). Pauses start at 500 ms and double.
	RetryBackoffMax int `toml:"retry_backoff_max" envconfig:"K8SDRV_RETRY_BACKOFF_MAX"`
	// RetryLimits maps a text found in an error's message to how many
	// times a request failing with it is tried; such errors are retried
	// even when they would not be otherwise.
	RetryLimits map[string]int `toml:"retry_limits" ignored:"true"`
	// QuotaWaitTimeout (k8sdrv's own) is how long a pod create refused
	// for an exceeded ResourceQuota is tried again, when retry_limits
	// does not name the error (0: poll_timeout).
	QuotaWaitTimeout Duration `toml:"quota_wait_timeout" envconfig:"K8SDRV_QUOTA_WAIT_TIMEOUT"`
}

// Tries is how many times a request failing with msg is tried, and whether
// retry_limits names it. The longest matching text wins, so the answer
// does not depend on map order.
func (r Retry) Tries(msg string) (int, bool) {
	best := ""
	for text := range r.RetryLimits {
		if strings.Contains(msg, text) && len(text) > len(best) {
			best = text
		}
	}
	if best != "" {
		return r.RetryLimits[best], true
	}
	if r.RetryLimit > 0 {
		return r.RetryLimit, false
	}
	return DefaultRetryLimit, false
}

// BackoffMax is the longest pause between two tries.
func (r Retry) BackoffMax() time.Duration {
	switch d := time.Duration(r.RetryBackoffMax) * time.Millisecond; {
	case r.RetryBackoffMax == 0:
		return DefaultRetryBackoffMax
	case d < RetryBackoffMin:
		return RetryBackoffMin
	default:
		return d
	}
}

func (r Retry) validate(add func(key, format string, args ...any)) {
	if r.RetryLimit < 0 {
		add("retry_limit", "want 0 (the default, %d tries) or more, got %d", DefaultRetryLimit, r.RetryLimit)
	}
	const maxBackoffMillis = 10 * 60 * 1000
	if r.RetryBackoffMax < 0 || r.RetryBackoffMax > maxBackoffMillis {
		add("retry_backoff_max", "want milliseconds from 0 (the default, 2000) to %d, got %d", maxBackoffMillis, r.RetryBackoffMax)
	}
	if r.QuotaWaitTimeout.Duration < 0 {
		add("quota_wait_timeout", "want a positive duration")
	}
	for text, tries := range r.RetryLimits {
		key := fmt.Sprintf("retry_limits.%q", text)
		if strings.TrimSpace(text) == "" {
			add(key, "want the text of an error message, got an empty key")
		}
		if tries < 1 {
			add(key, "want 1 or more tries, got %d", tries)
		}
	}
}

// warnings notes a retry_backoff_max below the floor, which GitLab Runner
// also raises to 500 ms.
func (r Retry) warnings() []string {
	if r.RetryBackoffMax > 0 && time.Duration(r.RetryBackoffMax)*time.Millisecond < RetryBackoffMin {
		return []string{fmt.Sprintf("retry_backoff_max = %d is below the floor of 500 (milliseconds): 500 is used", r.RetryBackoffMax)}
	}
	return nil
}
