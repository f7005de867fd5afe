package config

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// TestContainerCapabilities: cap_drop wins over cap_add, cap_add wins over
// the default drop list (NET_RAW), container lists join the global ones.
func TestContainerCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name              string
		add, drop         []string
		own               *ContainerSecurityContext
		wantAdd, wantDrop []string
	}{
		{name: "defaults", wantDrop: []string{"NET_RAW"}},
		{name: "add takes NET_RAW off the default list", add: []string{"NET_RAW", "SYS_TIME"}, wantAdd: []string{"NET_RAW", "SYS_TIME"}},
		{name: "drop beats add", add: []string{"SYS_ADMIN", "NET_ADMIN"}, drop: []string{"SYS_ADMIN"}, wantAdd: []string{"NET_ADMIN"}, wantDrop: []string{"SYS_ADMIN", "NET_RAW"}},
		{name: "drop of a default is not repeated", drop: []string{"NET_RAW"}, wantDrop: []string{"NET_RAW"}},
		{
			name:    "container lists join the global ones",
			add:     []string{"NET_ADMIN"},
			own:     &ContainerSecurityContext{Capabilities: &Capabilities{Add: []string{"SYS_TIME"}, Drop: []string{"NET_ADMIN"}}},
			wantAdd: []string{"SYS_TIME"}, wantDrop: []string{"NET_ADMIN", "NET_RAW"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Security{CapAdd: tc.add, CapDrop: tc.drop}
			add, drop := s.ContainerCapabilities(tc.own)
			assert.DeepEqual(t, add, tc.wantAdd)
			assert.DeepEqual(t, drop, tc.wantDrop)
		})
	}
}

func TestLoadRejectsBadCapabilities(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, "cap_add = [\"CAP_NET_ADMIN\"]\ncap_drop = [\"net_raw\"]\n[build_container_security_context.capabilities]\nadd = [\"\"]\n")
	_, err := Load(path)
	assert.Error(t, err, path+`:1: cap_add[0]: "CAP_NET_ADMIN": write capabilities without the CAP_ prefix (NET_ADMIN)
`+path+`:2: cap_drop[0]: "net_raw": want an upper-case capability name such as NET_ADMIN
`+path+`:4: build_container_security_context.capabilities.add[0]: "": want an upper-case capability name such as NET_ADMIN`)
}

// TestLoadRejectsBadProfiles: a seccomp or AppArmor profile the API server
// would refuse is reported by key and line; GitLab Runner leaves such a
// profile out of the pod instead.
func TestLoadRejectsBadProfiles(t *testing.T) {
	clearEnv(t)
	long := strings.Repeat("a", maxAppArmorProfileName+1)
	path := writeConfig(t, `pod_annotations = { "container.apparmor.security.beta.kubernetes.io/build" = "unconfined", "seccomp.security.alpha.kubernetes.io/pod" = "runtime/default" }
[pod_security_context.seccomp_profile]
type = "runtimedefault"
[pod_security_context.app_armor_profile]
localhost_profile = "p"
[build_container_security_context.seccomp_profile]
type = "Localhost"
[build_container_security_context.app_armor_profile]
type = "Unconfined"
localhost_profile = "p"
[helper_container_security_context.seccomp_profile]
type = "Localhost"
localhost_profile = "/var/lib/kubelet/seccomp/p.json"
[helper_container_security_context.app_armor_profile]
type = "Localhost"
localhost_profile = " p"
[service_container_security_context.seccomp_profile]
type = "Localhost"
localhost_profile = "profiles/../p.json"
[service_container_security_context.app_armor_profile]
type = "Localhost"
localhost_profile = "`+long+`"
`)
	_, err := Load(path)
	assert.Error(t, err, path+`:1: pod_annotations."container.apparmor.security.beta.kubernetes.io/build": deprecated AppArmor annotation beside app_armor_profile, which the API server refuses where they differ: use app_armor_profile alone
`+path+`:1: pod_annotations."seccomp.security.alpha.kubernetes.io/pod": deprecated seccomp annotation beside seccomp_profile, which the API server refuses where they differ: use seccomp_profile alone
`+path+`:3: pod_security_context.seccomp_profile.type: "runtimedefault" is not one of Localhost, RuntimeDefault, Unconfined
`+path+`:4: pod_security_context.app_armor_profile.type: required: one of Localhost, RuntimeDefault, Unconfined
`+path+`:6: build_container_security_context.seccomp_profile.localhost_profile: required when type is Localhost
`+path+`:10: build_container_security_context.app_armor_profile.localhost_profile: only allowed when type is Localhost, not Unconfined
`+path+`:13: helper_container_security_context.seccomp_profile.localhost_profile: "/var/lib/kubelet/seccomp/p.json" must be relative to the kubelet's seccomp directory
`+path+`:16: helper_container_security_context.app_armor_profile.localhost_profile: " p" must not begin or end with white space
`+path+`:19: service_container_security_context.seccomp_profile.localhost_profile: "profiles/../p.json" must not contain '..'
`+path+`:22: service_container_security_context.app_armor_profile.localhost_profile: 4096 bytes long, longer than the 4095 the API server takes`)
}
