package podbuilder

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// checkImages refuses a job image or service that the operator's
// allowed_images / allowed_services do not match. The configuration's own
// image and services are the operator's choice and are not checked.
func checkImages(cfg *config.Config, j *job.Job) error {
	if j.Image.Name != "" && !config.ImageAllowed(j.Image.Name, cfg.AllowedImages) {
		return config.JobErrorf("image %q is not allowed: it matches none of allowed_images %v", j.Image.Name, cfg.AllowedImages)
	}
	for _, s := range j.Services {
		if !config.ImageAllowed(s.Name, cfg.AllowedServices) {
			return config.JobErrorf("service %q is not allowed: it matches none of allowed_services %v", s.Name, cfg.AllowedServices)
		}
	}
	return nil
}

// pullPolicies returns each container's list of pull policies (GitLab
// names), in the containers' order: the job's own pull_policy for its
// image and services where it set one (each must be allowed), else the
// configuration's pull_policy. An empty list leaves the cluster's default.
func pullPolicies(cfg *config.Config, j *job.Job) ([][]string, error) {
	jobs := func(policies []string) ([]string, error) {
		if len(policies) == 0 {
			return cfg.PullPolicy, nil
		}
		allowed := cfg.AllowedPulls()
		for _, p := range policies {
			if !contains(allowed, p) {
				return nil, config.JobErrorf("pull_policy (%v) defined in GitLab pipeline config is not one of the allowed_pull_policies (%v)",
					kubernetesPolicies(policies), kubernetesPolicies(allowed))
			}
		}
		return policies, nil
	}
	build, err := jobs(j.Image.PullPolicy)
	if err != nil {
		return nil, err
	}
	out := [][]string{build, cfg.PullPolicy}
	for _, s := range j.Services {
		p, err := jobs(s.PullPolicy)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	for range cfg.Services {
		out = append(out, cfg.PullPolicy)
	}
	return out, nil
}

// PullAttempts is how many times prepare may create the pod: once per
// entry of the longest pull policy list ("always, if-not-present" tries
// if-not-present when always fails).
func PullAttempts(cfg *config.Config, j *job.Job) int {
	lists, err := pullPolicies(cfg, j)
	n := 1
	if err == nil {
		for _, l := range lists {
			n = max(n, len(l))
		}
	}
	return n
}

// applyPullPolicies sets each container's policy for the given attempt:
// its list's entry, or its last one when the list is shorter.
func applyPullPolicies(containers []corev1.Container, lists [][]string, attempt int) {
	for i := range containers {
		if l := lists[i]; len(l) > 0 {
			containers[i].ImagePullPolicy = corev1.PullPolicy(config.PullPolicies[l[min(attempt, len(l)-1)]])
		}
	}
}

func kubernetesPolicies(policies []string) string {
	var out []string
	for _, p := range policies {
		if k, ok := config.PullPolicies[p]; ok {
			out = append(out, k)
		} else {
			out = append(out, p)
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
