package config

import (
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/job"
)

// TestImageAllowed: "*" stays within a path segment, "**" (a whole
// segment) crosses any number of them, and an empty list allows everything.
func TestImageAllowed(t *testing.T) {
	for _, tc := range []struct {
		image    string
		patterns []string
		want     bool
	}{
		{"anything:1", nil, true},
		{"my.registry.tld:5000/ruby:3.3", []string{"my.registry.tld:5000/*:*"}, true},
		{"my.registry.tld:5000/group/ruby:3.3", []string{"my.registry.tld:5000/*:*"}, false},
		{"my.registry.tld:5000/group/ruby:3.3", []string{"my.registry.tld:5000/**/*:*"}, true},
		{"my.registry.tld:5000/ruby:3.3", []string{"my.registry.tld:5000/**/*:*"}, true},
		{"my.registry.tld:5000/a/b/ruby:3.3", []string{"my.registry.tld:5000/**"}, true},
		{"postgres:9.4", []string{"postgres:9.4", "postgres:latest"}, true},
		{"postgres:16", []string{"postgres:9.4", "postgres:latest"}, false},
		{"docker.io/library/alpine:3", []string{"*/*:*"}, false},
		{"library/alpine:3", []string{"*/*:*"}, true},
	} {
		assert.Equal(t, ImageAllowed(tc.image, tc.patterns), tc.want, "%s against %v", tc.image, tc.patterns)
	}
}

func TestDefaultHelperImageFor(t *testing.T) {
	const repo = "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:"
	assert.Equal(t, DefaultHelperImageFor("", nil), repo+"x86_64-latest")
	assert.Equal(t, DefaultHelperImageFor("alpine", nil), repo+"x86_64-latest")
	assert.Equal(t, DefaultHelperImageFor("ubuntu", map[string]string{"kubernetes.io/arch": "arm64"}), repo+"ubuntu-arm64-latest")
	assert.Equal(t, DefaultHelperImageFor("alpine3.18", map[string]string{"kubernetes.io/arch": "s390x"}), repo+"alpine3.18-s390x-latest")
}

func TestLoadRejectsBadImageSettings(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, `pull_policy = ["always", "sometimes"]
allowed_pull_policies = ["if-not-present"]
allowed_images = ["registry.example.com/[oops"]
helper_image_flavor = "debian"
`)
	_, err := Load(path)
	assert.ErrorContains(t, err, `pull_policy[0]: "always" is not one of allowed_pull_policies [if-not-present]`)
	assert.ErrorContains(t, err, `pull_policy[1]: "sometimes" is not one of always, if-not-present, never`)
	assert.ErrorContains(t, err, `allowed_images[0]: "registry.example.com/[oops" is not a valid wildcard pattern`)
	assert.ErrorContains(t, err, `helper_image_flavor: "debian" is not one of`)
}

func TestLoadPullPolicyAsOneString(t *testing.T) {
	clearEnv(t)
	cfg, err := Load(writeConfig(t, `pull_policy = "never"`))
	assert.NilError(t, err)
	assert.DeepEqual(t, cfg.PullPolicy, StringList{"never"})
	t.Setenv("K8SDRV_PULL_POLICY", "always, if-not-present")
	cfg, err = Load("")
	assert.NilError(t, err)
	assert.DeepEqual(t, cfg.PullPolicy, StringList{"always", "if-not-present"})
}

// TestHelperImageArch: the architecture a helper image's tag names, as
// node architectures name it; none for tags that name none.
func TestHelperImageArch(t *testing.T) {
	for image, want := range map[string]string{
		"registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v17.9.0":         "amd64",
		"registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:ubuntu-arm64-latest":    "arm64",
		"registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:alpine3.18-s390x-v17.1": "s390x",
		"registry.local:5000/helper:arm-v17@sha256:0123":                                           "arm",
		"registry.local:5000/helper":    "",
		"gitlab-runner-helper:local":    "",
		"gitlab-runner-helper:charm-v1": "",
	} {
		assert.Equal(t, HelperImageArch(image), want, image)
	}
}

// TestHelperImageVersionVariables: helper_image may name the runner's
// version, revision and architecture, as GitLab's documentation shows;
// the job's variables give them. Any other variable is refused.
func TestHelperImageVersionVariables(t *testing.T) {
	clearEnv(t)
	cfg, err := Load(writeConfig(t, `helper_image = "my.registry.local/gitlab/gitlab-runner-helper:arm64-v${CI_RUNNER_VERSION}"`))
	assert.NilError(t, err)
	j := &job.Job{Variables: map[string]string{"CI_RUNNER_VERSION": "19.3.0"}}
	jc, err := ForJob(cfg, j, func(string) string { return "" })
	assert.NilError(t, err)
	assert.Equal(t, jc.HelperImage, "my.registry.local/gitlab/gitlab-runner-helper:arm64-v19.3.0")
	assert.Equal(t, cfg.HelperImage, "my.registry.local/gitlab/gitlab-runner-helper:arm64-v${CI_RUNNER_VERSION}", "ForJob changed the operator's config")

	path := writeConfig(t, `helper_image = "registry.local/helper:v${CI_JOB_ID}"`)
	_, err = Load(path)
	assert.ErrorContains(t, err, path+`:1: helper_image: "registry.local/helper:v${CI_JOB_ID}": not a valid image reference`)
}
