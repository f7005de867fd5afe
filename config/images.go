package config

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Images holds the image settings beside image and helper_image.
type Images struct {
	PullPolicy          StringList `toml:"pull_policy" envconfig:"K8SDRV_PULL_POLICY"`
	AllowedPullPolicies []string   `toml:"allowed_pull_policies" ignored:"true"`
	AllowedImages       []string   `toml:"allowed_images" ignored:"true"`
	AllowedServices     []string   `toml:"allowed_services" ignored:"true"`
	HelperImageFlavor   string     `toml:"helper_image_flavor" envconfig:"K8SDRV_HELPER_IMAGE_FLAVOR"`
}

// StringList is a TOML value that may be one string or a list of them
// (pull_policy = "never" or pull_policy = ["always", "if-not-present"]).
type StringList []string

// UnmarshalTOML accepts a string or a list of strings.
func (l *StringList) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		*l = StringList{x}
	case []any:
		for _, item := range x {
			s, ok := item.(string)
			if !ok {
				return fmt.Errorf("want a string or a list of strings")
			}
			*l = append(*l, s)
		}
	default:
		return fmt.Errorf("want a string or a list of strings")
	}
	return nil
}

// Decode implements envconfig.Decoder: one policy, or several separated by commas.
func (l *StringList) Decode(value string) error {
	*l = splitComma(value)
	return nil
}

// PullPolicies maps GitLab's pull policy names to Kubernetes'.
var PullPolicies = map[string]string{"always": "Always", "if-not-present": "IfNotPresent", "never": "Never"}

// HelperImageFlavors are the documented helper_image_flavor values.
var HelperImageFlavors = setOf("alpine", "alpine3.12", "alpine3.13", "alpine3.14", "alpine3.15",
	"alpine3.16", "alpine3.17", "alpine3.18", "alpine-latest", "ubuntu", "ubi-fips")

// AllowedPulls is what a job may ask for: allowed_pull_policies, or when
// it is unset, pull_policy itself.
func (i *Images) AllowedPulls() []string {
	if len(i.AllowedPullPolicies) > 0 {
		return i.AllowedPullPolicies
	}
	return i.PullPolicy
}

// ImageAllowed reports whether image matches one of patterns ("*" stays
// within a path segment, "**" crosses them); no patterns allow everything.
func ImageAllowed(image string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := doublestar.Match(p, image); ok {
			return true
		}
	}
	return false
}

func (i *Images) validate(add func(key, format string, args ...any)) {
	for key, list := range map[string][]string{"pull_policy": i.PullPolicy, "allowed_pull_policies": i.AllowedPullPolicies} {
		for n, p := range list {
			if _, ok := PullPolicies[p]; !ok {
				add(fmt.Sprintf("%s[%d]", key, n), "%q is not one of always, if-not-present, never", p)
			}
		}
	}
	if len(i.AllowedPullPolicies) > 0 {
		allowed := setOf(i.AllowedPullPolicies...)
		for n, p := range i.PullPolicy {
			if !allowed[p] {
				add(fmt.Sprintf("pull_policy[%d]", n), "%q is not one of allowed_pull_policies %v", p, i.AllowedPullPolicies)
			}
		}
	}
	for key, list := range map[string][]string{"allowed_images": i.AllowedImages, "allowed_services": i.AllowedServices} {
		for n, p := range list {
			if !doublestar.ValidatePattern(p) {
				add(fmt.Sprintf("%s[%d]", key, n), "%q is not a valid wildcard pattern", p)
			}
		}
	}
	if i.HelperImageFlavor != "" && !HelperImageFlavors[i.HelperImageFlavor] {
		add("helper_image_flavor", "%q is not one of %v", i.HelperImageFlavor, slices.Sorted(maps.Keys(HelperImageFlavors)))
	}
}

// helperArchitectures maps node architectures to the helper image's names.
var helperArchitectures = map[string]string{"amd64": "x86_64", "arm64": "arm64", "arm": "arm", "s390x": "s390x", "ppc64le": "ppc64le"}

// DefaultHelperImageFor is GitLab's helper image for a flavor and the
// architecture the node selector asks for (x86_64 by default).
func DefaultHelperImageFor(flavor string, nodeSelector map[string]string) string {
	arch := helperArchitectures[nodeSelector["kubernetes.io/arch"]]
	if arch == "" {
		arch = "x86_64"
	}
	tag := arch + "-latest"
	if flavor != "" && flavor != "alpine" {
		tag = flavor + "-" + tag
	}
	return "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:" + tag
}

// HelperImageArch is the node architecture (amd64, arm64, ...) that an
// image's tag names as GitLab's helper tags do (x86_64-v17.9.0,
// ubuntu-arm64-latest), or "" when its tag names none (a multi-arch
// image, or one tagged otherwise).
func HelperImageArch(image string) string {
	image, _, _ = strings.Cut(image, "@")
	_, tag, ok := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
	if !ok {
		return ""
	}
	for part := range strings.SplitSeq(tag, "-") {
		for node, helper := range helperArchitectures {
			if part == helper || part == node {
				return node
			}
		}
	}
	return ""
}

// helperImageVariables are what GitLab Runner expands in helper_image:
// its own version, revision and architecture
// ("…/gitlab-runner-helper:arm64-v${CI_RUNNER_VERSION}"). The runner
// gives them to every job, so k8sdrv takes them from the job's variables.
var helperImageVariables = setOf("CI_RUNNER_VERSION", "CI_RUNNER_REVISION", "CI_RUNNER_EXECUTABLE_ARCH")

// ExpandHelperImage expands the runner's version variables in image with
// lookup; any other variable is left as written, for the image check to
// refuse.
func ExpandHelperImage(image string, lookup func(string) string) string {
	if !strings.Contains(image, "$") {
		return image
	}
	return os.Expand(image, func(name string) string {
		if helperImageVariables[name] {
			return lookup(name)
		}
		return "${" + name + "}"
	})
}

// helperImageProbe stands in for the runner's version variables when
// helper_image is checked before any job gives them.
func helperImageProbe(string) string { return "0" }
