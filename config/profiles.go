package config

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// ProfileTypes are the types of a seccomp or AppArmor profile, spelled as
// the API server takes them.
var ProfileTypes = []string{"Localhost", "RuntimeDefault", "Unconfined"}

// maxAppArmorProfileName is the API server's limit on an AppArmor
// localhost_profile (PATH_MAX - 1).
const maxAppArmorProfileName = 4095

// validateProfiles checks the seccomp_profile and app_armor_profile tables
// of one security context (key) as the API server does. GitLab Runner
// leaves out a profile whose type is unknown or whose Localhost profile is
// missing, logging it, and drops a localhost_profile beside another type:
// the pod would then run with less confinement than the operator wrote.
func validateProfiles(add func(key, format string, args ...any), key string, seccomp, appArmor *Profile) {
	validateProfile(add, key+".seccomp_profile", seccomp, seccompLocalhostProblem)
	validateProfile(add, key+".app_armor_profile", appArmor, appArmorLocalhostProblem)
}

func validateProfile(add func(key, format string, args ...any), key string, p *Profile, localhostProblem func(string) string) {
	switch {
	case p == nil:
	case p.Type == "":
		add(key+".type", "required: one of %s", strings.Join(ProfileTypes, ", "))
	case !slices.Contains(ProfileTypes, p.Type):
		add(key+".type", "%q is not one of %s", p.Type, strings.Join(ProfileTypes, ", "))
	case p.Type == "Localhost" && p.LocalhostProfile == "":
		add(key+".localhost_profile", "required when type is Localhost")
	case p.Type == "Localhost":
		if problem := localhostProblem(p.LocalhostProfile); problem != "" {
			add(key+".localhost_profile", "%s", problem)
		}
	case p.LocalhostProfile != "":
		add(key+".localhost_profile", "only allowed when type is Localhost, not %s", p.Type)
	}
}

// seccompLocalhostProblem says why the API server refuses name as a
// seccomp profile on the node, or "".
func seccompLocalhostProblem(name string) string {
	if path.IsAbs(name) {
		return fmt.Sprintf("%q must be relative to the kubelet's seccomp directory", name)
	}
	if slices.Contains(strings.Split(name, "/"), "..") {
		return fmt.Sprintf("%q must not contain '..'", name)
	}
	return ""
}

// appArmorLocalhostProblem says why the API server refuses name as an
// AppArmor profile on the node, or "".
func appArmorLocalhostProblem(name string) string {
	if strings.TrimSpace(name) != name {
		return fmt.Sprintf("%q must not begin or end with white space", name)
	}
	if len(name) > maxAppArmorProfileName {
		return fmt.Sprintf("%d bytes long, longer than the %d the API server takes", len(name), maxAppArmorProfileName)
	}
	return ""
}

// validateProfileAnnotations refuses the deprecated seccomp and AppArmor
// annotations in pod_annotations beside the profile tables that replace
// them: the API server refuses a pod whose annotation and field differ.
func (c *Config) validateProfileAnnotations(add func(key, format string, args ...any)) {
	seccomp, appArmor := c.profilesSet()
	for _, k := range slices.Sorted(maps.Keys(c.PodAnnotations)) {
		switch {
		case seccomp && (k == "seccomp.security.alpha.kubernetes.io/pod" || strings.HasPrefix(k, "container.seccomp.security.alpha.kubernetes.io/")):
			add(fmt.Sprintf("pod_annotations.%q", k), "deprecated seccomp annotation beside seccomp_profile, which the API server refuses where they differ: use seccomp_profile alone")
		case appArmor && strings.HasPrefix(k, "container.apparmor.security.beta.kubernetes.io/"):
			add(fmt.Sprintf("pod_annotations.%q", k), "deprecated AppArmor annotation beside app_armor_profile, which the API server refuses where they differ: use app_armor_profile alone")
		}
	}
}

// profilesSet tells whether any security context sets a seccomp or an
// AppArmor profile.
func (c *Config) profilesSet() (seccomp, appArmor bool) {
	if p := c.PodSecurityContext; p != nil {
		seccomp, appArmor = p.SeccompProfile != nil, p.AppArmorProfile != nil
	}
	for _, sc := range []*ContainerSecurityContext{c.BuildContainerSecurityContext, c.HelperContainerSecurityContext, c.ServiceContainerSecurityContext} {
		if sc != nil {
			seccomp = seccomp || sc.SeccompProfile != nil
			appArmor = appArmor || sc.AppArmorProfile != nil
		}
	}
	return seccomp, appArmor
}
