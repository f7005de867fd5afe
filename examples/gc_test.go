package examples

import (
	"os"
	"slices"
	"testing"

	"gotest.tools/v3/assert"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

// TestGCCronJob: the example CronJob runs `k8sdrv gc --delete` for one
// runner with the service account whose Role rbac.yaml defines.
func TestGCCronJob(t *testing.T) {
	data, err := os.ReadFile("gc-cronjob.yaml")
	assert.NilError(t, err)
	var cron batchv1.CronJob
	assert.NilError(t, yaml.UnmarshalStrict(data, &cron))
	pod := cron.Spec.JobTemplate.Spec.Template.Spec
	assert.Equal(t, pod.ServiceAccountName, "k8sdrv")
	assert.Equal(t, cron.Namespace, "gitlab-ci")
	args := pod.Containers[0].Command
	assert.Assert(t, slices.Contains(args, "gc") && slices.Contains(args, "--delete"), "%v", args)
	assert.Assert(t, slices.ContainsFunc(args, func(a string) bool { return len(a) > len("--runner=") && a[:9] == "--runner=" }), "%v", args)
}
