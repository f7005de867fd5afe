package config

import (
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
