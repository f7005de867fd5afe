package config

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Security holds the security settings of the job pod.
type Security struct {
	AllowPrivilegeEscalation *bool    `toml:"allow_privilege_escalation" envconfig:"K8SDRV_ALLOW_PRIVILEGE_ESCALATION"`
	CapAdd                   []string `toml:"cap_add" ignored:"true"`
	CapDrop                  []string `toml:"cap_drop" ignored:"true"`

	PodSecurityContext                      *PodSecurityContext       `toml:"pod_security_context" ignored:"true"`
	BuildContainerSecurityContext           *ContainerSecurityContext `toml:"build_container_security_context" ignored:"true"`
	HelperContainerSecurityContext          *ContainerSecurityContext `toml:"helper_container_security_context" ignored:"true"`
	ServiceContainerSecurityContext         *ContainerSecurityContext `toml:"service_container_security_context" ignored:"true"`
	InitPermissionsContainerSecurityContext *ContainerSecurityContext `toml:"init_permissions_container_security_context" ignored:"true"`

	// AllowedUsers and AllowedGroups are the ids a job may run its build
	// and service containers as (image: kubernetes: user: "uid[:gid]"):
	// empty allows any but 0, which must always be listed.
	AllowedUsers  []string `toml:"allowed_users" ignored:"true"`
	AllowedGroups []string `toml:"allowed_groups" ignored:"true"`
}

// PodSecurityContext is [pod_security_context].
type PodSecurityContext struct {
	FSGroup            *int64   `toml:"fs_group"`
	RunAsGroup         *int64   `toml:"run_as_group"`
	RunAsNonRoot       *bool    `toml:"run_as_non_root"`
	RunAsUser          *int64   `toml:"run_as_user"`
	SupplementalGroups []int64  `toml:"supplemental_groups"`
	SELinuxType        string   `toml:"selinux_type"`
	SeccompProfile     *Profile `toml:"seccomp_profile"`
	AppArmorProfile    *Profile `toml:"app_armor_profile"`
}

// ContainerSecurityContext is one [*_container_security_context] table.
// Its privileged and allow_privilege_escalation, where set, win over the
// top-level keys of the same name for its containers.
type ContainerSecurityContext struct {
	Privileged               *bool `toml:"privileged"`
	AllowPrivilegeEscalation *bool `toml:"allow_privilege_escalation"`
	ReadOnlyRootFilesystem   *bool `toml:"read_only_root_filesystem"`
	// ProcMount is default or unmasked, in any case, as GitLab Runner
	// takes it (ProcMountType gives Kubernetes' spelling).
	ProcMount       string        `toml:"proc_mount"`
	RunAsGroup      *int64        `toml:"run_as_group"`
	RunAsNonRoot    *bool         `toml:"run_as_non_root"`
	RunAsUser       *int64        `toml:"run_as_user"`
	Capabilities    *Capabilities `toml:"capabilities"`
	SELinuxType     string        `toml:"selinux_type"`
	SeccompProfile  *Profile      `toml:"seccomp_profile"`
	AppArmorProfile *Profile      `toml:"app_armor_profile"`
}

// Profile is a seccomp_profile or app_armor_profile table: which kind of
// profile confines the containers and, for Localhost, which one on the node
// (for seccomp a file relative to the kubelet's seccomp directory, for
// AppArmor a loaded profile's name).
type Profile struct {
	Type             string `toml:"type"`
	LocalhostProfile string `toml:"localhost_profile"`
}

// Capabilities is the capabilities table of a container security context.
type Capabilities struct {
	Add  []string `toml:"add"`
	Drop []string `toml:"drop"`
}

// DefaultCapDrop is dropped from every container unless cap_add adds it
// back, as in GitLab Runner.
var DefaultCapDrop = []string{"NET_RAW"}

// ContainerCapabilities returns what a container adds and drops: its own
// security context's lists joined to cap_add and cap_drop, with GitLab's
// precedence: a dropped capability is never added, and the default drop
// list yields to cap_add.
func (s *Security) ContainerCapabilities(own *ContainerSecurityContext) (add, drop []string) {
	adds, drops := append([]string(nil), s.CapAdd...), append([]string(nil), s.CapDrop...)
	if own != nil && own.Capabilities != nil {
		adds = append(adds, own.Capabilities.Add...)
		drops = append(drops, own.Capabilities.Drop...)
	}
	added, dropped := setOf(adds...), setOf(drops...)
	for _, c := range DefaultCapDrop {
		if !added[c] && !dropped[c] {
			drops = append(drops, c)
			dropped[c] = true
		}
	}
	for _, c := range adds {
		if !dropped[c] && !slices.Contains(add, c) {
			add = append(add, c)
		}
	}
	for _, c := range drops {
		if !slices.Contains(drop, c) {
			drop = append(drop, c)
		}
	}
	return add, drop
}

func (s *Security) validate(add func(key, format string, args ...any)) {
	check := func(key string, caps []string) {
		for i, c := range caps {
			switch {
			case strings.HasPrefix(strings.ToUpper(c), "CAP_"):
				add(fmt.Sprintf("%s[%d]", key, i), "%q: write capabilities without the CAP_ prefix (%s)", c, strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
			case c == "" || strings.ToUpper(c) != c && c != "ALL" && strings.ToLower(c) != "all":
				add(fmt.Sprintf("%s[%d]", key, i), "%q: want an upper-case capability name such as NET_ADMIN", c)
			}
		}
	}
	check("cap_add", s.CapAdd)
	check("cap_drop", s.CapDrop)
	for name, c := range map[string]*ContainerSecurityContext{
		"build_container_security_context":            s.BuildContainerSecurityContext,
		"helper_container_security_context":           s.HelperContainerSecurityContext,
		"service_container_security_context":          s.ServiceContainerSecurityContext,
		"init_permissions_container_security_context": s.InitPermissionsContainerSecurityContext,
	} {
		if c != nil && c.Capabilities != nil {
			check(name+".capabilities.add", c.Capabilities.Add)
			check(name+".capabilities.drop", c.Capabilities.Drop)
		}
		if c != nil {
			nonNegative(add, name+".run_as_user", c.RunAsUser)
			nonNegative(add, name+".run_as_group", c.RunAsGroup)
			validateProfiles(add, name, c.SeccompProfile, c.AppArmorProfile)
		}
	}
	for key, ids := range map[string][]string{"allowed_users": s.AllowedUsers, "allowed_groups": s.AllowedGroups} {
		for i, id := range ids {
			if _, err := parseID(id); err != nil {
				add(fmt.Sprintf("%s[%d]", key, i), "%v", err)
			}
		}
	}
	if p := s.PodSecurityContext; p != nil {
		nonNegative(add, "pod_security_context.run_as_user", p.RunAsUser)
		nonNegative(add, "pod_security_context.run_as_group", p.RunAsGroup)
		nonNegative(add, "pod_security_context.fs_group", p.FSGroup)
		for i := range p.SupplementalGroups {
			nonNegative(add, fmt.Sprintf("pod_security_context.supplemental_groups[%d]", i), &p.SupplementalGroups[i])
		}
		validateProfiles(add, "pod_security_context", p.SeccompProfile, p.AppArmorProfile)
	}
}

// nonNegative refuses a user or group id outside 0..2147483647, which the
// API server refuses only when the pod is created.
func nonNegative(add func(key, format string, args ...any), key string, id *int64) {
	if id != nil && (*id < 0 || *id > math.MaxInt32) {
		add(key, "want a user or group id from 0 to %d, got %d", math.MaxInt32, *id)
	}
}

// ContainerKinds names the job containers' own security context tables,
// by the key an operator writes them under.
func (s *Security) ContainerKinds() map[string]*ContainerSecurityContext {
	return map[string]*ContainerSecurityContext{
		"build_container_security_context":   s.BuildContainerSecurityContext,
		"helper_container_security_context":  s.HelperContainerSecurityContext,
		"service_container_security_context": s.ServiceContainerSecurityContext,
	}
}

// ContainerPrivileges returns privileged and allow_privilege_escalation
// for a container whose own table is own: its own values where it sets
// them, else the top-level keys, as in GitLab Runner.
func (c *Config) ContainerPrivileges(own *ContainerSecurityContext) (privileged, allowEscalation *bool) {
	privileged, allowEscalation = c.Privileged, c.AllowPrivilegeEscalation
	if own != nil && own.Privileged != nil {
		privileged = own.Privileged
	}
	if own != nil && own.AllowPrivilegeEscalation != nil {
		allowEscalation = own.AllowPrivilegeEscalation
	}
	return privileged, allowEscalation
}

// ProcMountType is proc_mount in Kubernetes' spelling: Default or
// Unmasked for any case of default or unmasked (GitLab Runner title-cases
// the value), "" when unset; ok is false for anything else.
func (c *ContainerSecurityContext) ProcMountType() (mount string, ok bool) {
	switch strings.ToLower(strings.TrimSpace(c.ProcMount)) {
	case "":
		return "", true
	case "default":
		return "Default", true
	case "unmasked":
		return "Unmasked", true
	}
	return "", false
}

// validatePrivileges checks each job container's privileges as the API
// server does: privileged with allow_privilege_escalation = false is
// refused, and so is an Unmasked /proc outside a user namespace, which
// k8sdrv's pod gets only from a pod_spec patch (hostUsers: false;
// podbuilder checks the patched pod).
func (c *Config) validatePrivileges(add func(key, format string, args ...any)) {
	clashes := map[string]bool{} // by key: the top-level keys clash once
	for name, own := range c.Security.ContainerKinds() {
		privileged, escalation := c.ContainerPrivileges(own)
		if privileged != nil && *privileged && escalation != nil && !*escalation {
			clashes[privilegeKey(name, own)] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(clashes)) {
		add(key, "privileged = true and allow_privilege_escalation = false cannot go together: the API server refuses the container")
	}
	for name, own := range c.Security.ContainerKinds() {
		if own == nil {
			continue
		}
		switch mount, ok := own.ProcMountType(); {
		case !ok:
			add(name+".proc_mount", "%q is not default or unmasked", own.ProcMount)
		case mount == "Unmasked" && len(c.PodSpec) == 0:
			add(name+".proc_mount", "unmasked needs a pod in its own user namespace: add a pod_spec patch setting hostUsers: false (the API server refuses it otherwise)")
		}
	}
	if own := c.InitPermissionsContainerSecurityContext; own != nil {
		if _, ok := own.ProcMountType(); !ok {
			add("init_permissions_container_security_context.proc_mount", "%q is not default or unmasked", own.ProcMount)
		}
	}
}

// privilegeKey names the key that makes a container's privileges clash:
// its own table's where it sets either, else the top-level keys'.
func privilegeKey(name string, own *ContainerSecurityContext) string {
	if own != nil && (own.Privileged != nil || own.AllowPrivilegeEscalation != nil) {
		if own.AllowPrivilegeEscalation != nil {
			return name + ".allow_privilege_escalation"
		}
		return name + ".privileged"
	}
	return "allow_privilege_escalation"
}
