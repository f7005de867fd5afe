package config

import (
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/job"
)

func TestForJobRefusesWhatTheOperatorDoesNotAllow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(*Config)
		job    *job.Job
		want   string
	}{
		{
			name: "pull policy without allowed_pull_policies",
			job:  &job.Job{Image: job.Image{Name: "alpine", PullPolicy: []string{"always"}}},
			want: `image "alpine": pull_policy ([Always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([])`,
		},
		{
			name:   "pull policy outside allowed_pull_policies",
			config: func(c *Config) { c.AllowedPullPolicies = []string{"if-not-present"} },
			job:    &job.Job{Services: []job.Service{{Image: job.Image{Name: "redis", PullPolicy: []string{"always", "never"}}}}},
			want:   `service "redis": pull_policy ([Always Never]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([IfNotPresent])`,
		},
		{
			name:   "image outside allowed_images",
			config: func(c *Config) { c.AllowedImages = []string{"my.registry.tld:5000/*:*"} },
			job:    &job.Job{Image: job.Image{Name: "my.registry.tld:5000/group/ruby:3"}},
			want:   `image "my.registry.tld:5000/group/ruby:3" is not allowed: it matches none of allowed_images [my.registry.tld:5000/*:*]`,
		},
		{
			name:   "service outside allowed_services",
			config: func(c *Config) { c.AllowedServices = []string{"postgres:9.4", "postgres:latest"} },
			job:    &job.Job{Services: []job.Service{{Image: job.Image{Name: "postgres:16"}}}},
			want:   `service "postgres:16" is not allowed: it matches none of allowed_services [postgres:9.4 postgres:latest]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{}
			if tc.config != nil {
				tc.config(c)
			}
			jc, err := ForJob(c, tc.job, nil)
			assert.Error(t, err, tc.want)
			var jobErr *JobError
			assert.Assert(t, errors.As(err, &jobErr), "a job error: a build failure, not retried")
			assert.Equal(t, jc.Config, c, "the operator's configuration, for cleanup")
			assert.Equal(t, jc.Job, tc.job)
		})
	}
}

// TestForJobReportsEveryRefusalAtOnce: a job that breaks several rules
// learns of all of them from one failed prepare.
func TestForJobReportsEveryRefusalAtOnce(t *testing.T) {
	c := gated()
	c.AllowedImages = []string{"ruby:*"}
	c.AllowedServices = []string{"postgres:*"}
	c.AllowedPullPolicies = []string{"if-not-present"}
	c.CPULimitMax = "2"
	j := &job.Job{
		Image:    job.Image{Name: "python:3", PullPolicy: []string{"always"}},
		Services: []job.Service{{Image: job.Image{Name: "redis:7"}}, {Image: job.Image{Name: "postgres:16", PullPolicy: []string{"never"}}}},
		Variables: map[string]string{
			"KUBERNETES_NAMESPACE_OVERWRITE":       "kube-system",
			"KUBERNETES_CPU_LIMIT":                 "8",
			"KUBERNETES_POD_LABELS_1":              "owner=me",
			"KUBERNETES_POD_LABELS_2":              "team=ml",
			"KUBERNETES_POD_ANNOTATIONS_1":         "no-equals",
			"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE": "admin",
		},
	}
	_, err := ForJob(c, j, nil)
	want := []string{
		`KUBERNETES_NAMESPACE_OVERWRITE="kube-system" is not allowed`,
		`KUBERNETES_SERVICE_ACCOUNT_OVERWRITE="admin" is not allowed`,
		`KUBERNETES_CPU_LIMIT=8 is above cpu_limit_overwrite_max_allowed (2)`,
		`KUBERNETES_POD_LABELS_1="owner=me" is not allowed`,
		`KUBERNETES_POD_ANNOTATIONS_1="no-equals" is not allowed`,
		`image "python:3" is not allowed`,
		`service "redis:7" is not allowed`,
		`image "python:3": pull_policy ([Always])`,
		`service "postgres:16": pull_policy ([Never])`,
	}
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, len(lines), len(want), err.Error())
	for i, w := range want {
		assert.Assert(t, strings.Contains(lines[i], w), "line %d: %q does not contain %q", i, lines[i], w)
	}
}

// TestForJobKeepsThePodWithinItsResources: a job's resource variables and
// its services are refused, as the job's fault, where the pod they make
// is one the API server refuses, though each value is within its maximum.
func TestForJobKeepsThePodWithinItsResources(t *testing.T) {
	defaults := withDefaults()
	c := &defaults
	c.PodCPULimit, c.PodCPULimitMax = "2", "8"
	c.CPURequest, c.CPURequestMax = "500m", "4"
	c.ServiceCPURequest = "500m"
	assert.NilError(t, c.Validate())
	redis := job.Service{Image: job.Image{Name: "redis"}}
	for _, tc := range []struct {
		name string
		job  *job.Job
		want string
	}{
		{
			name: "a container request above the pod's limit",
			job:  &job.Job{Variables: map[string]string{"KUBERNETES_CPU_REQUEST": "3"}},
			want: "pod_cpu_limit: 2 is below the containers' cpu requests together (3: build, helper and 0 services; a container without a request counts its limit), with this job's KUBERNETES_* resource variables and its 0 services: the API server would refuse the pod",
		},
		{
			name: "a pod limit below the containers' requests",
			job:  &job.Job{Variables: map[string]string{"KUBERNETES_POD_CPU_LIMIT": "400m"}},
			want: "pod_cpu_limit: 400m is below the containers' cpu requests together (500m: build, helper and 0 services",
		},
		{
			name: "services requesting more than the pod's limit",
			job:  &job.Job{Services: []job.Service{redis, redis, redis, redis}},
			want: "pod_cpu_limit: 2 is below the containers' cpu requests together (2500m: build, helper and 4 services",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ForJob(c, tc.job, nil)
			assert.ErrorContains(t, err, tc.want)
			var jobErr *JobError
			assert.Assert(t, errors.As(err, &jobErr), "a job error: a build failure, not retried")
		})
	}
	_, err := ForJob(c, &job.Job{Services: []job.Service{redis, redis}, Variables: map[string]string{"KUBERNETES_POD_CPU_LIMIT": "1500m"}}, nil)
	assert.NilError(t, err)
}
