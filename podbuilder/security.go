package podbuilder

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/k8sdrv/k8sdrv/config"
)

// securityContext is a container's security context: privileged and
// allow_privilege_escalation apply to every container unless its own table
// sets them (config.Config.ContainerPrivileges), capabilities follow
// GitLab's precedence (config.Security.ContainerCapabilities), and the
// container's own table adds its user, group, SELinux type, seccomp and
// AppArmor profiles, read-only root file system and /proc mount.
func securityContext(cfg *config.Config, own *config.ContainerSecurityContext) *corev1.SecurityContext {
	add, drop := cfg.ContainerCapabilities(own)
	sc := &corev1.SecurityContext{}
	sc.Privileged, sc.AllowPrivilegeEscalation = cfg.ContainerPrivileges(own)
	if len(add)+len(drop) > 0 {
		sc.Capabilities = &corev1.Capabilities{Add: capabilities(add), Drop: capabilities(drop)}
	}
	if own != nil {
		sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot = own.RunAsUser, own.RunAsGroup, own.RunAsNonRoot
		sc.SELinuxOptions = seLinux(own.SELinuxType)
		sc.SeccompProfile = seccompProfile(own.SeccompProfile)
		sc.AppArmorProfile = appArmorProfile(own.AppArmorProfile)
		sc.ReadOnlyRootFilesystem = own.ReadOnlyRootFilesystem
		if mount, _ := own.ProcMountType(); mount != "" {
			sc.ProcMount = new(corev1.ProcMountType(mount))
		}
	}
	return sc
}

// runAs sets the user and group the job asked for (config.ForJob has
// left them out where the operator sets them).
func runAs(sc *corev1.SecurityContext, ids config.RunAs) *corev1.SecurityContext {
	if ids.User != nil {
		sc.RunAsUser = ids.User
	}
	if ids.Group != nil {
		sc.RunAsGroup = ids.Group
	}
	return sc
}

func podSecurityContext(p *config.PodSecurityContext) *corev1.PodSecurityContext {
	if p == nil {
		return nil
	}
	return &corev1.PodSecurityContext{
		FSGroup:            p.FSGroup,
		RunAsGroup:         p.RunAsGroup,
		RunAsNonRoot:       p.RunAsNonRoot,
		RunAsUser:          p.RunAsUser,
		SupplementalGroups: p.SupplementalGroups,
		SELinuxOptions:     seLinux(p.SELinuxType),
		SeccompProfile:     seccompProfile(p.SeccompProfile),
		AppArmorProfile:    appArmorProfile(p.AppArmorProfile),
	}
}

// seccompProfile and appArmorProfile convert a profile table that
// config.Validate has checked.
func seccompProfile(p *config.Profile) *corev1.SeccompProfile {
	if p == nil {
		return nil
	}
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileType(p.Type), LocalhostProfile: localhostProfile(p)}
}

func appArmorProfile(p *config.Profile) *corev1.AppArmorProfile {
	if p == nil {
		return nil
	}
	return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileType(p.Type), LocalhostProfile: localhostProfile(p)}
}

// localhostProfile is the profile's localhost_profile, unset when empty:
// the API server refuses an empty one.
func localhostProfile(p *config.Profile) *string {
	if p.LocalhostProfile == "" {
		return nil
	}
	name := p.LocalhostProfile
	return &name
}

func seLinux(selinuxType string) *corev1.SELinuxOptions {
	if selinuxType == "" {
		return nil
	}
	return &corev1.SELinuxOptions{Type: selinuxType}
}

func capabilities(names []string) []corev1.Capability {
	var out []corev1.Capability
	for _, n := range names {
		out = append(out, corev1.Capability(n))
	}
	return out
}
