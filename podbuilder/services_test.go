package podbuilder_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// TestServiceVariablesReachTheContainerLiterally: every service variable
// reaches its container as the job wrote it, $(NAME) and $$ included,
// although the kubelet expands both in environment values.
func TestServiceVariablesReachTheContainerLiterally(t *testing.T) {
	vars := []job.Variable{
		{Key: "A", Value: "plain"},
		{Key: "B", Value: "$(A)"},
		{Key: "C", Value: "$$(A) $A ${A} $(MISSING) $( $"},
		{Key: "D", Value: "p@$$word$"},
	}
	j, err := job.Load(environ(nil), "")
	assert.NilError(t, err)
	j.Services = []job.Service{{Image: job.Image{Name: "postgres:16"}, Variables: vars}}

	pod, err := build(defaultConfig(t), j)
	assert.NilError(t, err)
	got := kubeletEnvironment(pod.Spec.Containers[2].Env)
	for _, v := range vars {
		assert.Check(t, got[v.Key] == v.Value, "%s: the container gets %q, the job wrote %q", v.Key, got[v.Key], v.Value)
	}
}

// kubeletEnvironment is what a container sees of env, by the rule
// Kubernetes documents for dependent environment variables: "$$" is "$",
// "$(NAME)" is the value of NAME when an earlier entry defines it, and
// anything else stays as it is.
func kubeletEnvironment(env []corev1.EnvVar) map[string]string {
	seen := map[string]string{}
	for _, e := range env {
		var b strings.Builder
		v := e.Value
		for i := 0; i < len(v); i++ {
			end := strings.IndexByte(v[i:], ')')
			switch {
			case v[i] != '$' || i+1 == len(v):
				b.WriteByte(v[i])
			case v[i+1] == '$':
				b.WriteByte('$')
				i++
			case v[i+1] == '(' && end > 0:
				if value, ok := seen[v[i+2:i+end]]; ok {
					b.WriteString(value)
				} else {
					b.WriteString(v[i : i+end+1])
				}
				i += end
			default:
				b.WriteByte('$')
			}
		}
		seen[e.Name] = b.String()
	}
	return seen
}

// TestServices: the pod's services by container, first alias and the
// ports to wait for: a HEALTHCHECK_TCP_PORT (a job service's variable, or
// in a configured service's environment) or the declared ports; none for
// a service without either.
func TestServices(t *testing.T) {
	j, err := job.Load(environ(nil), "")
	assert.NilError(t, err)
	j.Services = []job.Service{
		{Image: job.Image{Name: "redis:7"}},
		{Image: job.Image{Name: "postgres:16", Alias: "db,pg"}, Variables: []job.Variable{{Key: "HEALTHCHECK_TCP_PORT", Value: "5432"}}},
		{Image: job.Image{Name: "web:1", Ports: []job.Port{{Number: 80}, {Number: 443, Protocol: "https"}}}},
	}
	cfg := defaultConfig(t)
	cfg.Services = []config.Service{{Name: "docker:dind", Alias: "docker"}, {Name: "mysql:8", Environment: []string{"MYSQL_ALLOW_EMPTY_PASSWORD=yes", "HEALTHCHECK_TCP_PORT=3306"}}}
	jc, err := config.ForJob(cfg, j, noEnv)
	assert.NilError(t, err)
	got, err := podbuilder.Services(jc)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, []podbuilder.Service{
		{Container: "svc-0", Image: "redis:7", Job: true},
		{Container: "svc-1", Image: "postgres:16", Alias: "db", Ports: []int{5432}, Job: true},
		{Container: "svc-2", Image: "web:1", Ports: []int{80, 443}, Job: true},
		{Container: "svc-3", Image: "docker:dind", Alias: "docker"},
		{Container: "svc-4", Image: "mysql:8", Ports: []int{3306}},
	})
	assert.Equal(t, got[1].Name(), "db (postgres:16)")
	assert.Equal(t, got[2].Name(), "web:1")
	assert.Assert(t, podbuilder.IsServiceContainer("svc-3") && !podbuilder.IsServiceContainer("helper"))
}
