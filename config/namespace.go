package config

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/k8sdrv/k8sdrv/job"
)

// JobNamespacePrefix starts the name of a job's own namespace under
// namespace_per_job: ci-job-<CI_JOB_ID>, the name GitLab Runner gives it.
const JobNamespacePrefix = "ci-job-"

// JobNamespace is the namespace of job jobID under namespace_per_job.
func JobNamespace(jobID string) string { return JobNamespacePrefix + jobID }

// perJobNamespace puts the job in its own namespace when namespace_per_job
// is set. A job without an ID (doctor's, the config stage's) keeps the
// configured namespace; prepare refuses to create a namespace for one.
func (c *Config) perJobNamespace(j *job.Job) []error {
	if !c.NamespacePerJob || j.ID == "" {
		return nil
	}
	ns := JobNamespace(j.ID)
	if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
		return errList(jobErrorf("CI_JOB_ID=%q cannot name the job's namespace (namespace_per_job): %q: %s", j.ID, ns, msgs[0]))
	}
	c.Namespace = ns
	return nil
}

// namespacePerJobWarnings names the settings that namespace_per_job makes
// useless or that need care: the job's namespace is new and empty.
func (c *Config) namespacePerJobWarnings() []string {
	if !c.NamespacePerJob {
		return nil
	}
	var out []string
	if c.NamespaceOverwriteAllowed != "" {
		out = append(out, "namespace_overwrite_allowed has no effect: namespace_per_job runs every job in its own namespace")
	}
	if c.ServiceAccount != "" {
		out = append(out, fmt.Sprintf("service_account %q must exist in each job's new namespace (namespace_per_job): something in the cluster has to create it there", c.ServiceAccount))
	}
	if len(c.ImagePullSecrets) > 0 && !c.UseServiceAccountImagePullSecrets {
		out = append(out, "image_pull_secrets must exist in each job's new namespace (namespace_per_job): something in the cluster has to create them there")
	}
	return out
}
