package config

import (
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/k8sdrv/k8sdrv/job"
)

// TestForJobNamespacePerJob: under namespace_per_job the job runs in
// ci-job-<CI_JOB_ID>, whatever namespace and the job's namespace overwrite
// say; a job without an ID keeps the configured namespace.
func TestForJobNamespacePerJob(t *testing.T) {
	noEnv := func(string) string { return "" }
	c := gated()
	c.NamespacePerJob = true
	vars := map[string]string{"KUBERNETES_NAMESPACE_OVERWRITE": "ci-team1"}

	jc, err := ForJob(c, &job.Job{ID: "1234", Variables: vars}, noEnv)
	assert.NilError(t, err)
	assert.Equal(t, jc.Namespace, "ci-job-1234")
	assert.Check(t, is.Contains(strings.Join(jc.Warnings, "\n"),
		"KUBERNETES_NAMESPACE_OVERWRITE is ignored: namespace_per_job runs every job in its own namespace"))
	assert.Equal(t, c.Namespace, "gitlab", "ForJob changed the operator's config")

	jc, err = ForJob(c, &job.Job{}, noEnv)
	assert.NilError(t, err)
	assert.Equal(t, jc.Namespace, "gitlab")

	_, err = ForJob(c, &job.Job{ID: strings.Repeat("9", 60)}, noEnv)
	assert.ErrorContains(t, err, "cannot name the job's namespace (namespace_per_job)")
	var jobErr *JobError
	assert.Assert(t, errors.As(err, &jobErr))
}

// TestNamespacePerJobWarnings: what namespace_per_job makes useless, or
// what a new namespace lacks, is said once at load time.
func TestNamespacePerJobWarnings(t *testing.T) {
	clearEnv(t)
	cfg, err := Load(writeConfig(t, `namespace_per_job = true
namespace_overwrite_allowed = "ci-.*"
service_account = "builder"
image_pull_secrets = ["regcred"]`))
	assert.NilError(t, err)
	assert.DeepEqual(t, cfg.Warnings, []string{
		"namespace_overwrite_allowed has no effect: namespace_per_job runs every job in its own namespace",
		`service_account "builder" must exist in each job's new namespace (namespace_per_job): something in the cluster has to create it there`,
		"image_pull_secrets must exist in each job's new namespace (namespace_per_job): something in the cluster has to create them there",
	})
	t.Setenv("K8SDRV_NAMESPACE_PER_JOB", "maybe")
	_, err = Load("")
	assert.ErrorContains(t, err, `K8SDRV_NAMESPACE_PER_JOB: namespace_per_job: "maybe" is not a valid bool`)
}
