package config

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// resourceProblem is a request or limit the API server would refuse, by
// the key that sets it.
type resourceProblem struct{ key, msg string }

// checkRequirements reports what the API server would refuse in a pod of
// the build, the helper and services service containers with these
// requests and limits: a request above its limit, and, where the pod has
// its own (pod-level) cpu or memory, containers that do not fit in it.
// Unset and invalid values are skipped (Validate reports the invalid).
func (r *Resources) checkRequirements(services int) []resourceProblem {
	set := map[string]resource.Quantity{}
	for _, s := range r.Settings() {
		if q, err := ParseQuantity(*s.Value); *s.Value != "" && err == nil {
			set[s.Key] = q
		}
	}
	var out []resourceProblem
	for _, s := range r.Settings() {
		limitKey := strings.TrimSuffix(s.Key, "_request") + "_limit"
		req, hasReq := set[s.Key]
		limit, hasLimit := set[limitKey]
		if !s.Limit && hasReq && hasLimit && req.Cmp(limit) > 0 {
			out = append(out, resourceProblem{s.Key, fmt.Sprintf("%s is above %s (%s)", *s.Value, limitKey, limit.String())})
		}
	}
	for _, res := range []string{"cpu", "memory"} {
		out = append(out, podFit(set, res, services)...)
	}
	return out
}

// podFit checks resource res of the containers against the pod's own, as
// the API server does: no container's limit above the pod's limit, and
// the containers' requests together (a container without a request
// counts its limit) at most the pod's request. Without a pod request
// the API server makes that total the pod's request, so it must then
// stay within the pod's limit.
func podFit(set map[string]resource.Quantity, res string, services int) []resourceProblem {
	podRequestKey, podLimitKey := "pod_"+res+"_request", "pod_"+res+"_limit"
	podLimit, hasPodLimit := set[podLimitKey]
	var out []resourceProblem
	var total resource.Quantity
	requested := false
	for _, c := range []struct {
		prefix string
		count  int
	}{{"", 1}, {"helper_", 1}, {"service_", services}} {
		if c.count == 0 {
			continue
		}
		limit, hasLimit := set[c.prefix+res+"_limit"]
		if hasPodLimit && hasLimit && limit.Cmp(podLimit) > 0 {
			out = append(out, resourceProblem{podLimitKey, fmt.Sprintf("%s is below %s%s_limit (%s): no container's limit may be above the pod's",
				podLimit.String(), c.prefix, res, limit.String())})
		}
		req, hasReq := set[c.prefix+res+"_request"]
		if !hasReq {
			req, hasReq = limit, hasLimit
		}
		for range c.count {
			if hasReq {
				total.Add(req)
				requested = true
			}
		}
	}
	boundKey := podRequestKey
	bound, hasBound := set[podRequestKey]
	if !hasBound {
		boundKey, bound, hasBound = podLimitKey, podLimit, hasPodLimit
	}
	if requested && hasBound && total.Cmp(bound) > 0 {
		out = append(out, resourceProblem{boundKey, fmt.Sprintf("%s is below the containers' %s requests together (%s: build, helper and %d services; a container without a request counts its limit)",
			bound.String(), res, total.String(), services)})
	}
	return out
}
