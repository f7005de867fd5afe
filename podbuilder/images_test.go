package podbuilder_test

import (
	"errors"
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

// TestBuildAttemptWalksThePullPolicies: each attempt takes the next policy
// of every container's list, staying on the last one of a shorter list.
func TestBuildAttemptWalksThePullPolicies(t *testing.T) {
	cfg := &config.Config{}
	cfg.PullPolicy = config.StringList{"always", "if-not-present"}
	cfg.AllowedPullPolicies = []string{"always", "if-not-present", "never"}
	j := &job.Job{Services: []job.Service{{Image: job.Image{Name: "redis:7", PullPolicy: []string{"never"}}}}}
	assert.Equal(t, podbuilder.PullAttempts(cfg, j), 2)
	want := [][]corev1.PullPolicy{
		{corev1.PullAlways, corev1.PullAlways, corev1.PullNever},
		{corev1.PullIfNotPresent, corev1.PullIfNotPresent, corev1.PullNever},
	}
	for attempt, w := range want {
		pod, err := podbuilder.BuildAttempt(cfg, j, attempt)
		assert.NilError(t, err)
		assert.DeepEqual(t, policies(pod), w)
	}
}

func TestBuildRefusesWhatTheOperatorDoesNotAllow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(*config.Config)
		job    *job.Job
		want   string
	}{
		{
			name: "pull policy without allowed_pull_policies",
			job:  &job.Job{Image: job.Image{Name: "alpine", PullPolicy: []string{"always"}}},
			want: "pull_policy ([Always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([])",
		},
		{
			name:   "pull policy outside allowed_pull_policies",
			config: func(c *config.Config) { c.AllowedPullPolicies = []string{"if-not-present"} },
			job:    &job.Job{Services: []job.Service{{Image: job.Image{Name: "redis", PullPolicy: []string{"always", "never"}}}}},
			want:   "pull_policy ([Always Never]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([IfNotPresent])",
		},
		{
			name:   "image outside allowed_images",
			config: func(c *config.Config) { c.AllowedImages = []string{"my.registry.tld:5000/*:*"} },
			job:    &job.Job{Image: job.Image{Name: "my.registry.tld:5000/group/ruby:3"}},
			want:   `image "my.registry.tld:5000/group/ruby:3" is not allowed: it matches none of allowed_images [my.registry.tld:5000/*:*]`,
		},
		{
			name:   "service outside allowed_services",
			config: func(c *config.Config) { c.AllowedServices = []string{"postgres:9.4", "postgres:latest"} },
			job:    &job.Job{Services: []job.Service{{Image: job.Image{Name: "postgres:16"}}}},
			want:   `service "postgres:16" is not allowed: it matches none of allowed_services [postgres:9.4 postgres:latest]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{}
			if tc.config != nil {
				tc.config(cfg)
			}
			_, err := podbuilder.Build(cfg, tc.job)
			assert.Error(t, err, tc.want)
			var jobErr *config.JobError
			assert.Assert(t, errors.As(err, &jobErr), "a job error: a build failure, not retried")
		})
	}
}

// TestBuildReportsAFailingPatch: a JSON patch whose path is missing, or a
// merge patch that adds a field PodSpec does not have, fails the build
// naming the patch.
func TestBuildReportsAFailingPatch(t *testing.T) {
	for _, tc := range []struct{ patchType, patch, want string }{
		{"json", `[{"op": "remove", "path": "/nodeName"}]`, `pod_spec[0] (p): json patch:`},
		{"merge", `{"hostnam": "typo"}`, `pod_spec[0] (p): merge patch: json: unknown field "hostnam"`},
	} {
		path := t.TempDir() + "/k8sdrv.toml"
		assert.NilError(t, os.WriteFile(path, []byte("[[pod_spec]]\nname = \"p\"\npatch_type = \""+tc.patchType+"\"\npatch = '"+tc.patch+"'\n"), 0o600))
		cfg, err := config.Load(path)
		assert.NilError(t, err)
		_, err = podbuilder.Build(cfg, &job.Job{})
		assert.ErrorContains(t, err, tc.want)
	}
}
