package driver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/k8sdrv/k8sdrv/config"
)

// quotaRefusal is a pod create that a ResourceQuota's admission refused
// for now: the quota is used up ("exceeded quota"), or the quota
// controller has not counted it yet ("status unknown for quota"). Both
// pass once pods end or the controller catches up; a quota the pod can
// never satisfy ("failed quota: ... must specify") is not one of them.
type quotaRefusal struct {
	quota   string // the ResourceQuota's name
	summary string // what is exhausted, for the job log
}

// asQuotaRefusal parses the API server's message, as its quota admission
// writes it:
//
//	exceeded quota: <name>, requested: pods=1, used: pods=1, limited: pods=1
//	status unknown for quota: <name>, resources: pods
func asQuotaRefusal(err error) (quotaRefusal, bool) {
	if !apierrors.IsForbidden(err) {
		return quotaRefusal{}, false
	}
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "exceeded quota: "); ok {
		name, lists, _ := strings.Cut(rest, ", requested: ")
		requested, lists, _ := strings.Cut(lists, ", used: ")
		used, limited, _ := strings.Cut(lists, ", limited: ")
		return quotaRefusal{quota: name, summary: exhausted(requested, used, limited)}, true
	}
	if _, rest, ok := strings.Cut(msg, "status unknown for quota: "); ok {
		name, resources, _ := strings.Cut(rest, ", resources: ")
		return quotaRefusal{quota: name, summary: "not yet counted by the quota controller (" + resources + ")"}, true
	}
	return quotaRefusal{}, false
}

// exhausted names each resource whose use plus the pod's request would
// pass its limit: "pods: 1 of 1 used, 1 requested". Lists it cannot parse
// are shown as the API server wrote them.
func exhausted(requested, used, limited string) string {
	req, use, limit := resourceList(requested), resourceList(used), resourceList(limited)
	var out []string
	for _, name := range slices.Sorted(maps.Keys(limit)) {
		sum := use[name].DeepCopy()
		sum.Add(req[name])
		if r, ok := req[name]; ok && sum.Cmp(limit[name]) > 0 {
			u, l := use[name], limit[name]
			out = append(out, fmt.Sprintf("%s: %s of %s used, %s requested", name, u.String(), l.String(), r.String()))
		}
	}
	if len(out) == 0 {
		return fmt.Sprintf("requested %s, used %s, limited %s", requested, used, limited)
	}
	return strings.Join(out, "; ")
}

// resourceList parses "limits.cpu=2,pods=1"; values that do not parse
// are left out.
func resourceList(s string) map[string]resource.Quantity {
	out := map[string]resource.Quantity{}
	for item := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if q, err := resource.ParseQuantity(value); ok && err == nil {
			out[name] = q
		}
	}
	return out
}

// waitForQuota calls create until it is not refused by a ResourceQuota,
// for at most quota_wait_timeout, pausing as retryAPI does. It prints one
// line when the wait starts and another only when what is exhausted
// changes. A refusal that retry_limits names is left to retryAPI, which
// tries it as often as the operator said, so create returns it at once.
func (d *Driver) waitForQuota(ctx context.Context, policy config.Retry, namespace string, create func(context.Context) error) error {
	deadline := time.Now().Add(policy.QuotaWaitTimeout.Duration)
	pause := firstRetryPause
	lastLine := ""
	for {
		err := create(ctx)
		refusal, ok := asQuotaRefusal(err)
		if _, named := policy.Tries(errString(err)); !ok || named {
			return err
		}
		if time.Now().Add(pause).After(deadline) {
			return fmt.Errorf("quota %s still exhausted after quota_wait_timeout (%s): %w", refusal.quota, policy.QuotaWaitTimeout.Duration, err)
		}
		line := fmt.Sprintf("Waiting for quota %s in namespace %s (%s); trying again until quota_wait_timeout (%s) passes", refusal.quota, namespace, refusal.summary, policy.QuotaWaitTimeout.Duration)
		if line != lastLine {
			d.Log.Info().Msg(line)
			lastLine = line
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = max(min(2*pause, policy.BackoffMax()), firstRetryPause)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
