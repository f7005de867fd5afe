package podbuilder

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/k8sdrv/k8sdrv/config"
)

// pullPolicies returns each container's list of pull policies (GitLab
// names), in the containers' order: build, helper, the job's services,
// the configuration's services. config.ForJob chose and checked the job's
// lists; the helper and the operator's services take pull_policy.
func pullPolicies(jc *config.JobConfig) [][]string {
	out := [][]string{jc.BuildPullPolicy, jc.PullPolicy}
	out = append(out, jc.ServicePullPolicies...)
	for range jc.Services {
		out = append(out, jc.PullPolicy)
	}
	return out
}

// applyPullPolicies sets each container's policy for the given attempt:
// its list's entry, or its last one when the list is shorter.
func applyPullPolicies(containers []corev1.Container, lists [][]string, attempt int) {
	for i, l := range lists {
		if len(l) > 0 {
			containers[i].ImagePullPolicy = corev1.PullPolicy(config.PullPolicies[l[min(attempt, len(l)-1)]])
		}
	}
}
