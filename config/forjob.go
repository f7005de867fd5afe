package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/k8sdrv/k8sdrv/job"
)

// JobConfig is one CI job checked against the operator's rules, once,
// before anything is built or created: the configuration it runs with
// (the operator's, with the job's allowed overwrite variables applied) and
// the pull policies of its images.
type JobConfig struct {
	*Config
	Job *job.Job
	// BuildPullPolicy is the build container's list of pull policies
	// (GitLab names): the job image's own pull_policy where it set one,
	// else pull_policy. Empty leaves the cluster's default.
	BuildPullPolicy []string
	// ServicePullPolicies holds the list of each of the job's services,
	// in the job's order, chosen the same way.
	ServicePullPolicies [][]string
	// BuildRunAs is the user and group the job's image asks for, allowed
	// by allowed_users and allowed_groups; ServiceRunAs holds those of
	// each of the job's services, in the job's order.
	BuildRunAs   RunAs
	ServiceRunAs []RunAs
}

// ForJob checks job j against the operator's rules in one step: its
// overwrite variables against their gates (see Overwrites), its image
// against allowed_images, its services against allowed_services, the
// pull policies it asks for against allowed_pull_policies, the users and
// groups it asks for against allowed_users and allowed_groups, and that none
// of its masked values would be written into the pod (see checkMasked). Every refusal
// is a *JobError, and all of them are reported together. driverEnv reads
// k8sdrv's own environment (see Overwrites).
//
// On refusal the result still carries the operator's configuration and
// the job, without overwrites, for cleanup to find what the job created;
// nothing may be built from it.
func ForJob(c *Config, j *job.Job, driverEnv func(string) string) (*JobConfig, error) {
	cfg, errs := c.overwrite(j.Variables, driverEnv)
	cfg.HelperImage = ExpandHelperImage(cfg.HelperImage, func(name string) string { return j.Variables[name] })
	errs = append(errs, cfg.perJobNamespace(j)...)
	errs = append(errs, c.checkMasked(cfg, j)...)
	errs = append(errs, cfg.checkJobRequirements(len(j.Services))...)
	errs = append(errs, checkJobInput(j)...)
	errs = append(errs, c.checkImages(j)...)
	build, services, pullErrs := c.pullPolicies(j)
	errs = append(errs, pullErrs...)
	buildRunAs, serviceRunAs, userErrs := cfg.jobUsers(j)
	errs = append(errs, userErrs...)
	if len(errs) > 0 {
		return &JobConfig{Config: c, Job: j}, errors.Join(errs...)
	}
	return &JobConfig{Config: cfg, Job: j, BuildPullPolicy: build, ServicePullPolicies: services,
		BuildRunAs: buildRunAs, ServiceRunAs: serviceRunAs}, nil
}

// checkJobRequirements refuses requests and limits that the job's
// resource variables or its services (each one more service container)
// make the API server refuse; the operator's own are checked by Validate.
func (cfg *Config) checkJobRequirements(jobServices int) []error {
	var errs []error
	for _, p := range cfg.Resources.checkRequirements(len(cfg.Services) + jobServices) {
		errs = append(errs, jobErrorf("%s: %s, with this job's KUBERNETES_* resource variables and its %d services: the API server would refuse the pod",
			p.key, p.msg, jobServices))
	}
	return errs
}

// PullAttempts is how many times prepare may create the pod: once per
// entry of the longest pull policy list ("always, if-not-present" tries
// if-not-present when always fails).
func (jc *JobConfig) PullAttempts() int {
	n := max(1, len(jc.BuildPullPolicy), len(jc.PullPolicy))
	for _, l := range jc.ServicePullPolicies {
		n = max(n, len(l))
	}
	return n
}

// checkImages refuses a job image or service that allowed_images /
// allowed_services do not match. The configuration's own image and
// services are the operator's choice and are not checked.
func (c *Config) checkImages(j *job.Job) []error {
	var errs []error
	if j.Image.Name != "" && !ImageAllowed(j.Image.Name, c.AllowedImages) {
		errs = append(errs, jobErrorf("image %q is not allowed: it matches none of allowed_images %v", j.Image.Name, c.AllowedImages))
	}
	for _, s := range j.Services {
		if !ImageAllowed(s.Name, c.AllowedServices) {
			errs = append(errs, jobErrorf("service %q is not allowed: it matches none of allowed_services %v", s.Name, c.AllowedServices))
		}
	}
	return errs
}

// pullPolicies returns the pull policy lists of the job's image and of
// each of its services: the job's own where it set one (each policy must
// be allowed), else pull_policy.
func (c *Config) pullPolicies(j *job.Job) (build []string, services [][]string, errs []error) {
	allowed := c.AllowedPulls()
	choose := func(what string, policies []string) []string {
		if len(policies) == 0 {
			return c.PullPolicy
		}
		for _, p := range policies {
			if !slices.Contains(allowed, p) {
				errs = append(errs, jobErrorf("%s: pull_policy (%s) defined in GitLab pipeline config is not one of the allowed_pull_policies (%s)",
					what, kubernetesPolicies(policies), kubernetesPolicies(allowed)))
				return nil
			}
		}
		return policies
	}
	build = choose(fmt.Sprintf("image %q", cmp.Or(j.Image.Name, c.Image)), j.Image.PullPolicy)
	for _, s := range j.Services {
		services = append(services, choose(fmt.Sprintf("service %q", s.Name), s.PullPolicy))
	}
	return build, services, errs
}

// kubernetesPolicies writes GitLab pull policy names as Kubernetes'.
func kubernetesPolicies(policies []string) string {
	out := make([]string, 0, len(policies))
	for _, p := range policies {
		if k, ok := PullPolicies[p]; ok {
			p = k
		}
		out = append(out, p)
	}
	return "[" + strings.Join(out, " ") + "]"
}
