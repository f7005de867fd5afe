package config

import (
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/k8sdrv/k8sdrv/job"
)

func gated() *Config {
	c := &Config{Namespace: "gitlab", Host: "https://10.0.0.1:6443", BearerToken: "operator-token"}
	c.NamespaceOverwriteAllowed = "ci-.*"
	c.ServiceAccountOverwriteAllowed = "ci-sa-[0-9]+"
	c.BearerTokenOverwriteAllowed = true
	c.PodLabelsOverwriteAllowed = "team=[a-z]+"
	c.PodAnnotationsOverwriteAllowed = "example.com/.*"
	c.NodeTolerationsOverwriteAllowed = "(gpu|spot)(=[a-z0-9]*)?(:[A-Za-z]*)?|"
	c.NodeTolerations = map[string]string{"dedicated=ci": "NoSchedule"}
	return c
}

func TestForJobOverwrites(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name    string
		config  func(*Config)
		vars    map[string]string
		env     func(string) string
		check   func(t *testing.T, c *Config)
		wantErr string
		warning string
	}{
		{name: "namespace allowed", vars: map[string]string{"KUBERNETES_NAMESPACE_OVERWRITE": "ci-team1"},
			check: func(t *testing.T, c *Config) { assert.Equal(t, c.Namespace, "ci-team1") }},
		{name: "namespace must match whole value", vars: map[string]string{"KUBERNETES_NAMESPACE_OVERWRITE": "x-ci-y"},
			wantErr: `KUBERNETES_NAMESPACE_OVERWRITE="x-ci-y" is not allowed: it must match namespace_overwrite_allowed "ci-.*" (the whole value)`},
		{name: "namespace overwrite off", config: func(c *Config) { c.NamespaceOverwriteAllowed = "" },
			vars:    map[string]string{"KUBERNETES_NAMESPACE_OVERWRITE": "ci-team1"},
			check:   func(t *testing.T, c *Config) { assert.Equal(t, c.Namespace, "gitlab") },
			warning: "KUBERNETES_NAMESPACE_OVERWRITE is ignored: namespace_overwrite_allowed is not set"},
		{name: "namespace malformed", config: func(c *Config) { c.NamespaceOverwriteAllowed = ".*" },
			vars: map[string]string{"KUBERNETES_NAMESPACE_OVERWRITE": "CI_Team"}, wantErr: `KUBERNETES_NAMESPACE_OVERWRITE="CI_Team" is not a valid namespace`},
		{name: "service account allowed", vars: map[string]string{"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE": "ci-sa-7"},
			check: func(t *testing.T, c *Config) { assert.Equal(t, c.ServiceAccount, "ci-sa-7") }},
		{name: "service account denied", vars: map[string]string{"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE": "admin"},
			wantErr: `KUBERNETES_SERVICE_ACCOUNT_OVERWRITE="admin" is not allowed`},
		{name: "service account gated by the driver's environment",
			config: func(c *Config) { c.ServiceAccountOverwriteAllowed = "" },
			env: func(name string) string {
				if name == "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE_ALLOWED" {
					return "builder"
				}
				return ""
			},
			vars:  map[string]string{"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE": "builder"},
			check: func(t *testing.T, c *Config) { assert.Equal(t, c.ServiceAccount, "builder") }},
		{name: "the job cannot gate its own service account",
			config: func(c *Config) { c.ServiceAccountOverwriteAllowed = "" },
			vars:   map[string]string{"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE": "admin", "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE_ALLOWED": ".*"},
			check:  func(t *testing.T, c *Config) { assert.Equal(t, c.ServiceAccount, "") }},
		{name: "bearer token allowed", vars: map[string]string{"KUBERNETES_BEARER_TOKEN": "job-token"},
			check: func(t *testing.T, c *Config) { assert.Equal(t, c.BearerToken, "job-token") }},
		{name: "bearer token off", config: func(c *Config) { c.BearerTokenOverwriteAllowed = false },
			vars:  map[string]string{"KUBERNETES_BEARER_TOKEN": "job-token"},
			check: func(t *testing.T, c *Config) { assert.Equal(t, c.BearerToken, "operator-token") }},
		{name: "bearer token needs host", config: func(c *Config) { c.Host = "" },
			vars: map[string]string{"KUBERNETES_BEARER_TOKEN": "job-token"}, wantErr: "KUBERNETES_BEARER_TOKEN needs host"},
		{name: "labels allowed", vars: map[string]string{"KUBERNETES_POD_LABELS_1": "team=ml", "KUBERNETES_POD_LABELS_2": "team=ops"},
			check: func(t *testing.T, c *Config) { assert.DeepEqual(t, c.PodLabels, map[string]string{"team": "ops"}) }},
		{name: "labels denied", vars: map[string]string{"KUBERNETES_POD_LABELS_1": "owner=me"},
			wantErr: `KUBERNETES_POD_LABELS_1="owner=me" is not allowed`},
		{name: "labels malformed", config: func(c *Config) { c.PodLabelsOverwriteAllowed = ".*" },
			vars: map[string]string{"KUBERNETES_POD_LABELS_X": "no-equals"}, wantErr: `KUBERNETES_POD_LABELS_X="no-equals": want KEY=VALUE`},
		{name: "annotations allowed", vars: map[string]string{"KUBERNETES_POD_ANNOTATIONS_1": "example.com/owner=ci"},
			check: func(t *testing.T, c *Config) {
				assert.DeepEqual(t, c.PodAnnotations, map[string]string{"example.com/owner": "ci"})
			}},
		{name: "tolerations in every form, added to the operator's", vars: map[string]string{
			"KUBERNETES_NODE_TOLERATIONS_1": "gpu=a100:NoSchedule", "KUBERNETES_NODE_TOLERATIONS_2": "spot",
			"KUBERNETES_NODE_TOLERATIONS_3": "gpu=:PreferNoSchedule", "KUBERNETES_NODE_TOLERATIONS_4": "spot=yes:NoExecute",
		},
			check: func(t *testing.T, c *Config) {
				assert.DeepEqual(t, c.NodeTolerations, map[string]string{
					"dedicated=ci": "NoSchedule", "gpu=a100": "NoSchedule", "spot": "", "gpu=": "PreferNoSchedule", "spot=yes": "NoExecute",
				})
			}},
		{name: "a later toleration of the same key and value wins", vars: map[string]string{
			"KUBERNETES_NODE_TOLERATIONS_A": "spot:NoSchedule", "KUBERNETES_NODE_TOLERATIONS_B": "spot:NoExecute",
		},
			check: func(t *testing.T, c *Config) { assert.Equal(t, c.NodeTolerations["spot"], "NoExecute") }},
		{name: "an empty toleration tolerates every taint, as in GitLab Runner", vars: map[string]string{"KUBERNETES_NODE_TOLERATIONS_1": ""},
			check: func(t *testing.T, c *Config) {
				assert.DeepEqual(t, c.NodeTolerations, map[string]string{"dedicated=ci": "NoSchedule", "": ""})
			}},
		{name: "toleration must match whole value", vars: map[string]string{"KUBERNETES_NODE_TOLERATIONS_1": "node-role=gpu:NoSchedule"},
			wantErr: `KUBERNETES_NODE_TOLERATIONS_1="node-role=gpu:NoSchedule" is not allowed: it must match node_tolerations_overwrite_allowed`},
		{name: "tolerations overwrite off", config: func(c *Config) { c.NodeTolerationsOverwriteAllowed = "" },
			vars: map[string]string{"KUBERNETES_NODE_TOLERATIONS_1": "gpu"},
			check: func(t *testing.T, c *Config) {
				assert.DeepEqual(t, c.NodeTolerations, map[string]string{"dedicated=ci": "NoSchedule"})
			},
			warning: "KUBERNETES_NODE_TOLERATIONS_1 is ignored: node_tolerations_overwrite_allowed is not set"},
		{name: "node selector", config: func(c *Config) {
			c.NodeSelectorOverwriteAllowed = "kubernetes.io/arch=(amd64|arm64)|example.com/pool=.*"
			c.NodeSelector = map[string]string{"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}
			c.HelperImage = DefaultHelperImageFor("", c.NodeSelector)
		}, vars: map[string]string{"KUBERNETES_NODE_SELECTOR_ARCH": "kubernetes.io/arch=arm64", "KUBERNETES_NODE_SELECTOR_POOL": "example.com/pool=big"},
			check: func(t *testing.T, c *Config) {
				assert.DeepEqual(t, c.NodeSelector, map[string]string{"kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux", "example.com/pool": "big"})
				assert.Equal(t, c.HelperImage, "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:arm64-latest")
			}},
		{name: "node selector keeps the operator's helper image", config: func(c *Config) {
			c.NodeSelectorOverwriteAllowed = ".*"
			c.HelperImage = "registry.example.com/helper:v18"
		}, vars: map[string]string{"KUBERNETES_NODE_SELECTOR_ARCH": "kubernetes.io/arch=arm64"},
			check: func(t *testing.T, c *Config) { assert.Equal(t, c.HelperImage, "registry.example.com/helper:v18") }},
		{name: "node selector must match whole value", config: func(c *Config) { c.NodeSelectorOverwriteAllowed = "kubernetes.io/arch=.*" },
			vars:    map[string]string{"KUBERNETES_NODE_SELECTOR_X": "x-kubernetes.io/arch=arm64"},
			wantErr: `KUBERNETES_NODE_SELECTOR_X="x-kubernetes.io/arch=arm64" is not allowed: it must match node_selector_overwrite_allowed "kubernetes.io/arch=.*" (the whole value)`},
		{name: "node selector value is a label value", config: func(c *Config) { c.NodeSelectorOverwriteAllowed = ".*" },
			vars:    map[string]string{"KUBERNETES_NODE_SELECTOR_X": "zone=eu west"},
			wantErr: `KUBERNETES_NODE_SELECTOR_X="zone=eu west": "eu west" is not a valid label value`},
		{name: "node selector without =", config: func(c *Config) { c.NodeSelectorOverwriteAllowed = ".*" },
			vars:    map[string]string{"KUBERNETES_NODE_SELECTOR_X": "zone"},
			wantErr: `KUBERNETES_NODE_SELECTOR_X="zone": want KEY=VALUE`},
		{name: "node selector overwrite off", vars: map[string]string{"KUBERNETES_NODE_SELECTOR_X": "zone=a"},
			check:   func(t *testing.T, c *Config) { assert.Check(t, c.NodeSelector == nil) },
			warning: "KUBERNETES_NODE_SELECTOR_X is ignored: node_selector_overwrite_allowed is not set"},
		{name: "annotations denied", vars: map[string]string{"KUBERNETES_POD_ANNOTATIONS_1": "job.runner.gitlab.com/id=1"},
			wantErr: `KUBERNETES_POD_ANNOTATIONS_1="job.runner.gitlab.com/id=1" is not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gated()
			if tc.config != nil {
				tc.config(c)
			}
			env := tc.env
			if env == nil {
				env = noEnv
			}
			before := *c
			got, err := overwritten(c, tc.vars, env)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				var jobErr *JobError
				assert.Assert(t, errors.As(err, &jobErr))
				return
			}
			assert.NilError(t, err)
			tc.check(t, got)
			if tc.warning != "" {
				assert.Check(t, is.Contains(strings.Join(got.Warnings, "\n"), tc.warning))
			}
			assert.Equal(t, c.Namespace, before.Namespace, "ForJob changed the operator's config")
		})
	}
}

// TestForJobResourceOverwrites covers every KUBERNETES_*_{REQUEST,LIMIT}
// variable: used below its maximum, refused above it or malformed, and
// ignored without a maximum.
func TestForJobResourceOverwrites(t *testing.T) {
	c := &Config{}
	settings := c.Resources.Settings()
	assert.Equal(t, len(settings), 22)
	var pod []string
	for _, s := range settings {
		if s.Container == PodLevel {
			pod = append(pod, s.Key+" "+s.Variable)
		}
	}
	// The runner's names for the pod's own requests and limits.
	assert.DeepEqual(t, pod, []string{
		"pod_cpu_request KUBERNETES_POD_CPU_REQUEST", "pod_cpu_limit KUBERNETES_POD_CPU_LIMIT",
		"pod_memory_request KUBERNETES_POD_MEMORY_REQUEST", "pod_memory_limit KUBERNETES_POD_MEMORY_LIMIT",
	})
	for _, s := range settings {
		t.Run(s.Variable, func(t *testing.T) {
			c := &Config{}
			var set ResourceSetting
			for _, x := range c.Resources.Settings() {
				if x.Key == s.Key {
					set = x
				}
			}
			*set.Value = "1"
			// No maximum: ignored with a warning.
			got, err := overwritten(c, map[string]string{s.Variable: "2"}, nil)
			assert.NilError(t, err)
			assert.Equal(t, *findSetting(got, s.Key).Value, "1")
			assert.Check(t, is.Contains(strings.Join(got.Warnings, "\n"), s.Variable+" is ignored"))

			*set.Max = "3"
			got, err = overwritten(c, map[string]string{s.Variable: "2500m"}, nil)
			assert.NilError(t, err)
			assert.Equal(t, *findSetting(got, s.Key).Value, "2500m")
			assert.Equal(t, *findSetting(c, s.Key).Value, "1", "the operator's config is unchanged")

			_, err = overwritten(c, map[string]string{s.Variable: "4"}, nil)
			assert.Error(t, err, s.Variable+"=4 is above "+s.Key+"_overwrite_max_allowed (3)")

			_, err = overwritten(c, map[string]string{s.Variable: "lots"}, nil)
			assert.ErrorContains(t, err, s.Variable+`: "lots" is not a Kubernetes quantity`)
		})
	}
}

func findSetting(c *Config, key string) ResourceSetting {
	for _, s := range c.Resources.Settings() {
		if s.Key == key {
			return s
		}
	}
	panic("no setting " + key)
}

func TestLoadRejectsBadOverwriteGates(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, "pod_annotations_overwrite_allowed = \"*\"\nnamespace_overwrite_allowed = \"ci-(\"\n")
	_, err := Load(path)
	assert.ErrorContains(t, err, `namespace_overwrite_allowed: "ci-(" is not a regular expression`)
	assert.ErrorContains(t, err, `pod_annotations_overwrite_allowed: "*" is not a regular expression`)
	assert.ErrorContains(t, err, `(to allow any value, write ".*")`)
}

// overwritten is ForJob's configuration for a job with only these variables.
func overwritten(c *Config, vars map[string]string, env func(string) string) (*Config, error) {
	jc, err := ForJob(c, &job.Job{Variables: vars}, env)
	return jc.Config, err
}
