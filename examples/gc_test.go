package examples

import (
	"os"
	"path"
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

	// The config it reads is the one examples/deploy generates: the same
	// ConfigMap, and the file under the key that ConfigMap has.
	data, err = os.ReadFile("deploy/kustomization.yaml")
	assert.NilError(t, err)
	var kustomization struct {
		ConfigMapGenerator []struct {
			Name  string   `json:"name"`
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	assert.NilError(t, yaml.Unmarshal(data, &kustomization))
	assert.Equal(t, len(kustomization.ConfigMapGenerator), 1)
	generated := kustomization.ConfigMapGenerator[0]
	assert.Equal(t, len(pod.Volumes), 1)
	assert.Equal(t, pod.Volumes[0].ConfigMap.Name, generated.Name)
	mount := pod.Containers[0].VolumeMounts[0]
	assert.Equal(t, mount.Name, pod.Volumes[0].Name)
	assert.Assert(t, slices.Contains(args, "--config="+path.Join(mount.MountPath, path.Base(generated.Files[0]))), "%v", args)
}
