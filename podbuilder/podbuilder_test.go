package podbuilder_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// jobEnviron is what gitlab-runner passes for a typical job.
var jobEnviron = map[string]string{
	"CI_JOB_ID":             "4242",
	"CI_PROJECT_ID":         "17",
	"CI_CONCURRENT_ID":      "3",
	"CI_RUNNER_SHORT_TOKEN": "xYz123Ab",
	"CI_JOB_URL":            "https://gitlab.example.com/group/app/-/jobs/4242",
	"CI_COMMIT_SHA":         "0123456789abcdef0123456789abcdef01234567",
	"CI_COMMIT_BEFORE_SHA":  "0000000000000000000000000000000000000000",
	"CI_COMMIT_REF_NAME":    "main",
	"CI_JOB_NAME":           "test: [unit]",
	"CI_JOB_TIMEOUT":        "3600",
}

// TestBuild compares the pod of each testdata/<case>.toml (with the job of
// <case>.job.json, if any) to <case>.golden.yaml. Update the golden files
// with `go test ./podbuilder -update` and review their diff like code.
func TestBuild(t *testing.T) {
	tests := []struct {
		name string
		// environ overrides jobEnviron.
		environ map[string]string
	}{
		{name: "defaults"},
		{name: "job-image"},
		{name: "job-users"},
		{name: "resources"},
		{name: "pod-resources", environ: map[string]string{"KUBERNETES_POD_CPU_LIMIT": "3", "KUBERNETES_POD_MEMORY_REQUEST": "3Gi"}},
		{name: "privileged"},
		{name: "services"},
		{name: "dirs"},
		{name: "scheduling"},
		{name: "security"},
		{name: "security-profiles"},
		{name: "volumes"},
		{name: "builds-volume"},
		{name: "identity"},
		{name: "service-account-pull-secrets"},
		{name: "pull-policies"},
		{name: "lifecycle"},
		{name: "pod-spec"},
		{name: "affinity"},
		{name: "affinity-label-keys"},
		{name: "mount-propagation"},
		{name: "nfs"},
		{name: "base-dirs"},
		{name: "toleration-overwrites", environ: map[string]string{
			"KUBERNETES_NODE_TOLERATIONS_1": "gpu=a100:NoSchedule",
			"KUBERNETES_NODE_TOLERATIONS_2": "spot",
			"KUBERNETES_NODE_TOLERATIONS_3": "spot=yes:NoExecute",
		}},
		{name: "node-selector-overwrites", environ: map[string]string{
			"KUBERNETES_NODE_SELECTOR_ARCH": "kubernetes.io/arch=arm64",
			"KUBERNETES_NODE_SELECTOR_POOL": "example.com/pool=ci-large",
		}},
		{name: "pod-metadata", environ: map[string]string{"CI_PROJECT_NAME": "my app", "CI_COMMIT_REF_SLUG": "feature-x"}},
		{
			name: "names",
			environ: map[string]string{
				"CI_RUNNER_SHORT_TOKEN": "glrt-AB_c.D/e+f",
				"CI_PROJECT_ID":         "123456789012345678901234567890",
				"CI_CONCURRENT_ID":      "1234567890123456789012345678901234567890123456789012345678901234567890",
				"CI_JOB_ID":             "-.987654321._",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			cfg, err := config.Load(golden.Path(tc.name + ".toml"))
			assert.NilError(t, err)
			j, err := job.Load(environ(tc.environ), responseFile(tc.name))
			assert.NilError(t, err)

			pod, err := build(cfg, j)
			assert.NilError(t, err)

			out, err := yaml.Marshal(pod)
			assert.NilError(t, err)
			golden.Assert(t, string(out), tc.name+".golden.yaml")
		})
	}
}

// TestBuildRunnerFixtures builds the pods of config/testdata's
// config.toml files written for GitLab Runner 17, 18 and 19, each loaded
// as it is (config's TestRunnerFixturesLoad checks their warnings).
func TestBuildRunnerFixtures(t *testing.T) {
	tests := []struct {
		version string
		environ map[string]string
	}{
		{version: "17"},
		{version: "18", environ: map[string]string{"KUBERNETES_POD_CPU_LIMIT": "6"}},
		{version: "19", environ: map[string]string{"KUBERNETES_NODE_SELECTOR_ARCH": "kubernetes.io/arch=arm64"}},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			clearEnv(t)
			cfg, err := config.Load("../config/testdata/runner-" + tc.version + ".toml")
			assert.NilError(t, err)
			j, err := job.Load(environ(tc.environ), "")
			assert.NilError(t, err)
			pod, err := build(cfg, j)
			assert.NilError(t, err)
			out, err := yaml.Marshal(pod)
			assert.NilError(t, err)
			golden.Assert(t, string(out), "runner-"+tc.version+".golden.yaml")
		})
	}
}

// TestBuildNamesAreValid checks what the API server would reject: the pod
// name (generateName plus five random characters) and every label value.
func TestBuildNamesAreValid(t *testing.T) {
	tests := map[string]map[string]string{
		"typical": nil,
		"odd token and long ids": {
			"CI_RUNNER_SHORT_TOKEN": "glrt-AB_c.D/e+f",
			"CI_PROJECT_ID":         strings.Repeat("9", 80),
			"CI_CONCURRENT_ID":      strings.Repeat("1", 80),
			"CI_JOB_ID":             "-.987654321._",
		},
		"empty ids": {
			"CI_RUNNER_SHORT_TOKEN": "",
			"CI_PROJECT_ID":         "",
			"CI_CONCURRENT_ID":      "",
			"CI_JOB_ID":             "",
		},
		"only invalid characters": {
			"CI_RUNNER_SHORT_TOKEN": "/+/",
			"CI_PROJECT_ID":         "___",
		},
		"truncated right after -concurrent-": {
			"CI_RUNNER_SHORT_TOKEN": "abcdefgh",
			"CI_PROJECT_ID":         "123456789012345678901",
			"CI_CONCURRENT_ID":      "1",
		},
		"label of 63 characters then a dot": {
			"CI_JOB_ID": strings.Repeat("a", 62) + ".b",
		},
	}
	cfg := defaultConfig(t)
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			j, err := job.Load(environ(env), "")
			assert.NilError(t, err)

			pod, err := build(cfg, j)
			assert.NilError(t, err)

			generateName := pod.GenerateName
			assert.Check(t, strings.HasPrefix(generateName, "runner-"), generateName)
			assert.Check(t, len(generateName) <= validation.DNS1123LabelMaxLength-5, "generateName %q too long", generateName)
			for _, msg := range validation.IsDNS1123Subdomain(generateName + "abcde") {
				t.Errorf("pod name %q: %s", generateName+"abcde", msg)
			}
			for key, value := range pod.Labels {
				for _, msg := range validation.IsValidLabelValue(value) {
					t.Errorf("label %s=%q: %s", key, value, msg)
				}
			}
			assert.Check(t, is.Equal(pod.Labels[podbuilder.LabelManagedBy], podbuilder.ManagedBy))
		})
	}
}

// TestBuildTimeoutAnnotation: job.runner.gitlab.com/timeout is the job's
// timeout as a Go duration, as GitLab Runner writes it, absent when the
// job does not say, and capped where a duration ends.
func TestBuildTimeoutAnnotation(t *testing.T) {
	const key = "job.runner.gitlab.com/timeout"
	cfg := defaultConfig(t)
	for _, tc := range []struct {
		timeout string
		want    string // "" for no annotation
	}{
		{timeout: "3600", want: "1h0m0s"},
		{timeout: "5430", want: "1h30m30s"},
		{timeout: "59", want: "59s"},
		{timeout: "", want: ""},
		{timeout: "0", want: ""},
		{timeout: "9223372036854775807", want: "2562047h47m16s"},
	} {
		t.Run(tc.timeout, func(t *testing.T) {
			j, err := job.Load(environ(map[string]string{"CI_JOB_TIMEOUT": tc.timeout}), "")
			assert.NilError(t, err)
			pod, err := build(cfg, j)
			assert.NilError(t, err)
			got, ok := pod.Annotations[key]
			assert.Check(t, is.Equal(ok, tc.want != ""))
			assert.Check(t, is.Equal(got, tc.want))
		})
	}
}

func TestDefaultAlias(t *testing.T) {
	tests := []struct {
		image string
		want  string
	}{
		{image: "redis", want: "redis"},
		{image: "redis:7", want: "redis"},
		{image: "postgres:16-alpine", want: "postgres"},
		{image: "bitnami/postgresql:16", want: "bitnami-postgresql"},
		{image: "registry.example.com/group/redis:7", want: "registry.example.com-group-redis"},
		{image: "registry.example.com/group/sub/redis", want: "registry.example.com-group-sub-redis"},
		{image: "registry.example.com:5000/group/redis:7", want: "registry.example.com-group-redis"},
		{image: "localhost:5000/redis", want: "localhost-redis"},
		{image: "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", want: "redis"},
		{image: "redis:7@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", want: "redis"},
		{image: "Registry.Example.com/group/redis:7", want: "registry.example.com-group-redis"},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			assert.Equal(t, podbuilder.DefaultAlias(tc.image), tc.want)
		})
	}
}

func TestBuildRejectsServices(t *testing.T) {
	tests := []struct {
		name     string
		services []job.Service
		want     []string
	}{
		{
			name:     "alias that is not a DNS name",
			services: []job.Service{{Image: job.Image{Name: "redis:7"}}, {Image: job.Image{Name: "postgres:16", Alias: "db,Primary_DB"}}},
			want:     []string{"services[1]", "postgres:16", `"Primary_DB"`, "not a valid host name"},
		},
		{
			name:     "service without image",
			services: []job.Service{{Image: job.Image{Alias: "db"}}},
			want:     []string{"services[0]", "without an image name"},
		},
	}
	cfg := defaultConfig(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := job.Load(environ(nil), "")
			assert.NilError(t, err)
			j.Services = tc.services

			pod, err := build(cfg, j)
			assert.Check(t, is.Nil(pod))
			assert.Assert(t, err != nil)
			for _, want := range tc.want {
				assert.Check(t, is.Contains(err.Error(), want))
			}
		})
	}
}

func TestBuildRejectsConfigServiceAlias(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.Services = []config.Service{{Name: "docker:27-dind", Alias: "docker_daemon"}}
	j, err := job.Load(environ(nil), "")
	assert.NilError(t, err)

	_, err = build(cfg, j)
	assert.ErrorContains(t, err, `services[0] docker:27-dind: alias "docker_daemon" is not a valid host name`)
}

func TestBuildIsDeterministic(t *testing.T) {
	cfg, err := config.Load(golden.Path("services.toml"))
	assert.NilError(t, err)
	j, err := job.Load(environ(nil), golden.Path("services.job.json"))
	assert.NilError(t, err)

	first, err := build(cfg, j)
	assert.NilError(t, err)
	for range 20 {
		again, err := build(cfg, j)
		assert.NilError(t, err)
		assert.DeepEqual(t, again, first)
	}
}

func defaultConfig(t *testing.T) *config.Config {
	t.Helper()
	clearEnv(t)
	cfg, err := config.Load("")
	assert.NilError(t, err)
	return cfg
}

// environ is jobEnviron with overrides, as CUSTOM_ENV_* variables.
func environ(overrides map[string]string) []string {
	var env []string
	for key, value := range jobEnviron {
		if _, ok := overrides[key]; !ok {
			env = append(env, job.EnvPrefix+key+"="+value)
		}
	}
	for key, value := range overrides {
		env = append(env, job.EnvPrefix+key+"="+value)
	}
	return env
}

// responseFile is testdata/<name>.job.json, or "" when the case has none.
func responseFile(name string) string {
	path := golden.Path(name + ".job.json")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return ""
	}
	return path
}

// clearEnv unsets every K8SDRV_* variable for the test, so that the
// environment of whoever runs the tests cannot change the configuration.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, config.EnvPrefix+"_") {
			t.Setenv(name, "")
			assert.NilError(t, os.Unsetenv(name))
		}
	}
}

// TestOwnVolumesNeverClash: operators name their volumes freely (a cache
// volume called "cache", even one called like k8sdrv's own); k8sdrv's
// volumes take other names, and every mount finds its one volume.
func TestOwnVolumesNeverClash(t *testing.T) {
	clearEnv(t)
	path := t.TempDir() + "/k8sdrv.toml"
	assert.NilError(t, os.WriteFile(path, []byte(`
[[volumes.host_path]]
name = "cache"
mount_path = "/shared-cache"
host_path = "/var/cache/ci"
[[volumes.empty_dir]]
name = "k8sdrv-stages-build"
mount_path = "/scratch"
[[volumes.empty_dir]]
name = "k8sdrv-stages-build-1"
mount_path = "/scratch1"
`), 0o600))
	cfg, err := config.Load(path)
	assert.NilError(t, err)
	pod, err := build(cfg, &job.Job{})
	assert.NilError(t, err)

	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		assert.Assert(t, !volumes[v.Name], "two volumes named %s", v.Name)
		volumes[v.Name] = true
	}
	stages := map[string]string{}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			assert.Assert(t, volumes[m.Name], "container %s mounts %s, which the pod lacks", c.Name, m.Name)
			if m.MountPath == cfg.DriverDir {
				stages[c.Name] = m.Name
			}
		}
	}
	assert.DeepEqual(t, stages, map[string]string{"build": "k8sdrv-stages-build-2", "helper": "k8sdrv-stages-helper"})
}
