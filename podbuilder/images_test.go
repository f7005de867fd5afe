package podbuilder_test

import (
	"os"
	"testing"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

func policies(pod *corev1.Pod) []corev1.PullPolicy {
	var out []corev1.PullPolicy
	for _, c := range pod.Spec.Containers {
		out = append(out, c.ImagePullPolicy)
	}
	return out
}

// TestBuildWalksThePullPolicies: each attempt takes the next policy
// of every container's list, staying on the last one of a shorter list.
func TestBuildWalksThePullPolicies(t *testing.T) {
	cfg := &config.Config{}
	cfg.PullPolicy = config.StringList{"always", "if-not-present"}
	cfg.AllowedPullPolicies = []string{"always", "if-not-present", "never"}
	j := &job.Job{Services: []job.Service{{Image: job.Image{Name: "redis:7", PullPolicy: []string{"never"}}}}}
	jc, err := config.ForJob(cfg, j, noEnv)
	assert.NilError(t, err)
	pods, err := podbuilder.Build(jc)
	assert.NilError(t, err)
	want := [][]corev1.PullPolicy{
		{corev1.PullAlways, corev1.PullAlways, corev1.PullNever},
		{corev1.PullIfNotPresent, corev1.PullIfNotPresent, corev1.PullNever},
	}
	assert.Equal(t, len(pods), len(want))
	for attempt, w := range want {
		assert.DeepEqual(t, policies(pods[attempt]), w)
	}
}

// TestBuildReportsAFailingPatch: a JSON patch whose path is missing, or a
// merge patch that adds a field PodSpec does not have, fails the build
// naming the patch.
func TestBuildReportsAFailingPatch(t *testing.T) {
	for _, tc := range []struct{ patchType, patch, want string }{
		{"json", `[{"op": "remove", "path": "/nodeName"}]`, `pod_spec[0] (p): json patch:`},
		{"merge", `{"hostnam": "typo"}`, `pod_spec[0] (p): merge patch: json: unknown field "hostnam"`},
		// A pod the API server would take, but in which no stage can run.
		{"json", `[{"op": "remove", "path": "/containers/0"}]`,
			`pod_spec[0] (p): json patch: the pod has no build container left: k8sdrv runs the job's stages in it`},
		{"strategic", `{"containers": [{"name": "helper", "$patch": "delete"}]}`,
			`pod_spec[0] (p): strategic patch: the pod has no helper container left`},
		{"json", `[{"op": "remove", "path": "/containers/1/volumeMounts/2"}]`,
			`pod_spec[0] (p): json patch: the helper container lost k8sdrv's volume`},
		{"json", `[{"op": "remove", "path": "/volumes/0"}]`,
			`pod_spec[0] (p): json patch: container build mounts volume "k8sdrv-builds", which the pod no longer has`},
	} {
		path := t.TempDir() + "/k8sdrv.toml"
		assert.NilError(t, os.WriteFile(path, []byte("[[pod_spec]]\nname = \"p\"\npatch_type = \""+tc.patchType+"\"\npatch = '"+tc.patch+"'\n"), 0o600))
		cfg, err := config.Load(path)
		assert.NilError(t, err)
		_, err = build(cfg, &job.Job{})
		assert.ErrorContains(t, err, tc.want)
	}
}

func noEnv(string) string { return "" }

// build is the pod of job j's first attempt under cfg, as prepare makes it.
func build(cfg *config.Config, j *job.Job) (*corev1.Pod, error) {
	jc, err := config.ForJob(cfg, j, noEnv)
	if err != nil {
		return nil, err
	}
	pods, err := podbuilder.Build(jc)
	if err != nil {
		return nil, err
	}
	return pods[0], nil
}
