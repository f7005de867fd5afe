package config

import (
	"errors"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/job"
)

// TestForJobRefusesJobInputTheClusterWouldRefuse: faults in the job's own
// input are the job's (a *JobError, a build failure the runner does not
// retry), found before anything is created.
func TestForJobRefusesJobInputTheClusterWouldRefuse(t *testing.T) {
	svc := func(name, alias string, vars ...job.Variable) job.Service {
		return job.Service{Image: job.Image{Name: name, Alias: alias}, Variables: vars}
	}
	for _, tc := range []struct {
		name string
		job  job.Job
		want string
	}{
		{"image with capitals", job.Job{Image: job.Image{Name: "Registry.example.com/App:1"}},
			`image "Registry.example.com/App:1": not a valid image reference: the repository name must be lower-case`},
		{"image with a space", job.Job{Image: job.Image{Name: "alpine 3"}}, `image "alpine 3": not a valid image reference`},
		{"service without an image", job.Job{Services: []job.Service{svc("", "db")}}, "services[0]: service without an image name"},
		{"service image with a bad tag", job.Job{Services: []job.Service{svc("postgres:16:1", "")}}, `services[0]: image "postgres:16:1": not a valid image reference`},
		{"service alias", job.Job{Services: []job.Service{svc("postgres:16", "db_1")}}, `services[0] postgres:16: alias "db_1" is not a valid host name`},
		{"service variable", job.Job{Services: []job.Service{svc("postgres:16", "", job.Variable{Key: "1PASSWORD", Value: "x"})}},
			`services[0] postgres:16: variable "1PASSWORD" is not a valid environment variable name`},
		{"service port to wait for", job.Job{Services: []job.Service{svc("postgres:16", "", job.Variable{Key: "HEALTHCHECK_TCP_PORT", Value: "5432x"})}},
			`services[0] postgres:16: variable HEALTHCHECK_TCP_PORT: "5432x" is not a TCP port (1-65535)`},
		{"service ports", job.Job{Services: []job.Service{{Image: job.Image{Name: "web:1", Ports: []job.Port{{Number: 70000}}}}}},
			`services[0] web:1: ports: 70000 is not a TCP port (1-65535)`},
		{"service account", job.Job{Variables: map[string]string{"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE": "Builder_SA"}},
			`KUBERNETES_SERVICE_ACCOUNT_OVERWRITE="Builder_SA" is not a valid service account name`},
		{"label key", job.Job{Variables: map[string]string{"KUBERNETES_POD_LABELS_1": "team name=ml"}},
			`KUBERNETES_POD_LABELS_1="team name=ml": "team name" is not a valid key`},
		{"toleration key", job.Job{Variables: map[string]string{"KUBERNETES_NODE_TOLERATIONS_1": "gpu type=a100:NoSchedule"}},
			`KUBERNETES_NODE_TOLERATIONS_1="gpu type=a100:NoSchedule": taint key "gpu type" is not valid`},
		{"toleration value", job.Job{Variables: map[string]string{"KUBERNETES_NODE_TOLERATIONS_1": "gpu=a 100"}},
			`KUBERNETES_NODE_TOLERATIONS_1="gpu=a 100": taint value "a 100" is not valid`},
		{"toleration effect", job.Job{Variables: map[string]string{"KUBERNETES_NODE_TOLERATIONS_1": "gpu:NoScheduler"}},
			`KUBERNETES_NODE_TOLERATIONS_1="gpu:NoScheduler": effect "NoScheduler" is not one of NoSchedule, PreferNoSchedule, NoExecute or ""`},
		{"toleration value without a key", job.Job{Variables: map[string]string{"KUBERNETES_NODE_TOLERATIONS_1": "=a100"}},
			`KUBERNETES_NODE_TOLERATIONS_1="=a100": a value needs a taint key`},
		{"annotation key", job.Job{Variables: map[string]string{"KUBERNETES_POD_ANNOTATIONS_1": "a/b/c=1"}},
			`KUBERNETES_POD_ANNOTATIONS_1="a/b/c=1": "a/b/c" is not a valid key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{}
			c.ServiceAccountOverwriteAllowed = ".*"
			c.PodLabelsOverwriteAllowed = ".*"
			c.PodAnnotationsOverwriteAllowed = ".*"
			c.NodeTolerationsOverwriteAllowed = ".*"
			_, err := ForJob(c, &tc.job, nil)
			assert.ErrorContains(t, err, tc.want)
			var jobErr *JobError
			assert.Assert(t, errors.As(err, &jobErr))
		})
	}
}

func TestCheckImageName(t *testing.T) {
	for _, name := range []string{"alpine", "alpine:3.20", "registry.example.com:5000/group/app:1.2",
		"docker.io/library/postgres@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"} {
		assert.NilError(t, CheckImageName(name), name)
	}
}
