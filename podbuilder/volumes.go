package podbuilder

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// operatorVolumes returns the [volumes] of cfg as pod volumes and the
// mounts every job container gets. PVC names expand job variables
// ($CI_CONCURRENT_ID gives one claim per concurrent job).
func operatorVolumes(cfg *config.Config, j *job.Job) ([]corev1.Volume, []corev1.VolumeMount) {
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	add := func(m config.Mount, p config.Propagation, name string, src corev1.VolumeSource) {
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: src})
		mounts = append(mounts, corev1.VolumeMount{
			Name: name, MountPath: m.MountPath, SubPath: m.SubPath, ReadOnly: m.ReadOnly, MountPropagation: propagation(p),
		})
	}
	v := &cfg.Volumes
	for _, h := range v.HostPath {
		hostPath := h.HostPath
		if hostPath == "" {
			hostPath = h.MountPath
		}
		add(h.Mount, h.Propagation, h.Name, corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostPath}})
	}
	for _, p := range v.PVC {
		name := j.Expand(p.Name)
		add(p.Mount, p.Propagation, name, corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name, ReadOnly: p.ReadOnly}})
	}
	for _, c := range v.ConfigMap {
		add(c.Mount, config.Propagation{}, c.Name, corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: c.Name}, Items: keyPaths(c.Items),
		}})
	}
	for _, s := range v.Secret {
		add(s.Mount, config.Propagation{}, s.Name, corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: s.Name, Items: keyPaths(s.Items)}})
	}
	for _, e := range v.EmptyDir {
		src := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMedium(e.Medium)}
		if e.SizeLimit != "" {
			limit, _ := config.ParseQuantity(e.SizeLimit) // Validate has checked it
			src.SizeLimit = &limit
		}
		add(e.Mount, e.Propagation, e.Name, corev1.VolumeSource{EmptyDir: src})
	}
	for _, c := range v.CSI {
		src := &corev1.CSIVolumeSource{Driver: c.Driver, VolumeAttributes: c.VolumeAttributes}
		if c.FSType != "" {
			src.FSType = &c.FSType
		}
		if c.ReadOnly {
			src.ReadOnly = &c.ReadOnly
		}
		add(c.Mount, config.Propagation{}, c.Name, corev1.VolumeSource{CSI: src})
	}
	for _, n := range v.NFS {
		add(n.Mount, config.Propagation{}, n.Name, corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: n.Server, Path: n.Path, ReadOnly: n.ReadOnly}})
	}
	return vols, mounts
}

// propagation is a volume's mount propagation, nil where it sets none.
func propagation(p config.Propagation) *corev1.MountPropagationMode {
	if p.MountPropagation == "" {
		return nil
	}
	mode := corev1.MountPropagationMode(p.MountPropagation)
	return &mode
}

// refuseUnprivilegedBidirectional checks the finished pod as the API
// server will: a pod_spec patch may have taken privileged away from a
// container whose mount is Bidirectional.
func refuseUnprivilegedBidirectional(spec *corev1.PodSpec) error {
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
		for _, m := range c.VolumeMounts {
			if !privileged && m.MountPropagation != nil && *m.MountPropagation == corev1.MountPropagationBidirectional {
				return fmt.Errorf("container %s mounts volume %q with Bidirectional propagation but is not privileged, which Kubernetes refuses", c.Name, m.Name)
			}
		}
	}
	return nil
}

// refuseUnmaskedProc checks the finished pod as the API server will: an
// Unmasked /proc (proc_mount = "unmasked") needs the pod in its own user
// namespace, which only a pod_spec patch gives it (hostUsers: false).
func refuseUnmaskedProc(spec *corev1.PodSpec) error {
	if spec.HostUsers != nil && !*spec.HostUsers {
		return nil
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount {
			return fmt.Errorf("container %s has proc_mount unmasked, which Kubernetes takes only with hostUsers: false: set it with a pod_spec patch", c.Name)
		}
	}
	return nil
}

// keyPaths turns items (key -> path) into KeyToPath entries sorted by key.
func keyPaths(items map[string]string) []corev1.KeyToPath {
	var out []corev1.KeyToPath
	for _, k := range slices.Sorted(maps.Keys(items)) {
		out = append(out, corev1.KeyToPath{Key: k, Path: items[k]})
	}
	return out
}

// mountedAt reports whether an operator mount sits exactly at dir; k8sdrv
// then leaves out its own volume for dir.
func mountedAt(mounts []corev1.VolumeMount, dir string) bool {
	for _, m := range mounts {
		if m.MountPath == dir {
			return true
		}
	}
	return false
}
