package podbuilder_test

import (
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// TestBuildRefusesMaskedValuesAnywhereInThePod: whatever config.ForJob
// does not see (a service's variables, the job's image or name) is
// checked on the finished pod; the refusal names where and which
// variable, never the value, and fails the job without a retry.
func TestBuildRefusesMaskedValuesAnywhereInThePod(t *testing.T) {
	const secret = `db"pass\word-1`
	for _, tc := range []struct {
		name string
		job  func(*job.Job)
		want string
	}{
		{
			name: "service variable",
			job: func(j *job.Job) {
				j.Services = []job.Service{{Image: job.Image{Name: "postgres:16"}, Variables: []job.Variable{{Key: "POSTGRES_PASSWORD", Value: secret}}}}
			},
			want: "the pod's spec.containers[2].env[0].value would hold masked variable DB_PASSWORD",
		},
		{
			// Its "$" is doubled in the pod, where the check still finds it.
			name: "service variable holding a dollar",
			job: func(j *job.Job) {
				j.Variables["DB_PASSWORD"], j.Masked = "pa$$w0rd-2", []string{"pa$$w0rd-2"}
				j.Services = []job.Service{{Image: job.Image{Name: "postgres:16"}, Variables: []job.Variable{{Key: "POSTGRES_PASSWORD", Value: "pa$$w0rd-2"}}}}
			},
			want: "the pod's spec.containers[2].env[0].value would hold masked variable DB_PASSWORD",
		},
		{
			name: "job name",
			job:  func(j *job.Job) { j.Name = "deploy " + secret },
			want: `the pod's metadata.annotations["job.runner.gitlab.com/name"] would hold masked variable DB_PASSWORD`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := job.Load(environ(map[string]string{"DB_PASSWORD": secret}), "")
			assert.NilError(t, err)
			j.Masked, j.MaskedNames = []string{secret}, []string{"DB_PASSWORD"}
			tc.job(j)
			jc, err := config.ForJob(defaultConfig(t), j, noEnv)
			assert.NilError(t, err)

			_, err = podbuilder.Build(jc)
			assert.ErrorContains(t, err, tc.want)
			var refused *config.JobError
			assert.Assert(t, errors.As(err, &refused), "a job error: a build failure, not retried")
			assert.Assert(t, !strings.Contains(err.Error(), "word-1"), err.Error())
		})
	}
}
