package config

import (
	"fmt"
	"maps"
	"net"
	"os"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Volumes is the [volumes] table: operator volumes mounted into the build,
// helper and service containers.
type Volumes struct {
	HostPath  []HostPathVolume  `toml:"host_path"`
	PVC       []PVCVolume       `toml:"pvc"`
	ConfigMap []ConfigMapVolume `toml:"config_map"`
	Secret    []SecretVolume    `toml:"secret"`
	EmptyDir  []EmptyDirVolume  `toml:"empty_dir"`
	CSI       []CSIVolume       `toml:"csi"`
	NFS       []NFSVolume       `toml:"nfs"`
}

// Mount is what every volume kind has.
type Mount struct {
	Name      string `toml:"name"`
	MountPath string `toml:"mount_path"`
	SubPath   string `toml:"sub_path"`
	ReadOnly  bool   `toml:"read_only"`
}

// Propagation is the mount_propagation of the volume kinds GitLab Runner
// lets set it (host_path, pvc, empty_dir): None, HostToContainer or
// Bidirectional, as Kubernetes spells them; empty leaves the cluster's
// default (None).
type Propagation struct {
	MountPropagation string `toml:"mount_propagation"`
}

// HostPathVolume mounts a node directory; HostPath defaults to MountPath.
type HostPathVolume struct {
	Mount
	Propagation
	HostPath string `toml:"host_path"`
}

// PVCVolume mounts the claim called Name, which may hold job variables
// such as $CI_CONCURRENT_ID.
type PVCVolume struct {
	Mount
	Propagation
}

// ConfigMapVolume mounts the ConfigMap called Name; Items maps keys to paths.
type ConfigMapVolume struct {
	Mount
	Items map[string]string `toml:"items"`
}

// SecretVolume mounts the Secret called Name; Items maps keys to paths.
type SecretVolume struct {
	Mount
	Items map[string]string `toml:"items"`
}

// EmptyDirVolume is a scratch volume; Medium "Memory" makes it a tmpfs.
type EmptyDirVolume struct {
	Mount
	Propagation
	Medium string `toml:"medium"`
	// SizeLimit caps the volume's size (a quantity such as "1Gi").
	SizeLimit string `toml:"size_limit"`
}

// CSIVolume is an inline CSI volume.
type CSIVolume struct {
	Mount
	Driver           string            `toml:"driver"`
	FSType           string            `toml:"fs_type"`
	VolumeAttributes map[string]string `toml:"volume_attributes"`
}

// NFSVolume mounts the export Path of the NFS server Server; ReadOnly
// makes the NFS mount itself read-only too, as in GitLab Runner.
type NFSVolume struct {
	Mount
	Server string `toml:"server"`
	Path   string `toml:"path"`
}

// each calls fn with every volume's key for error messages
// ("volumes.pvc[0]"), its mount and its propagation (empty for the kinds
// that have none).
func (v *Volumes) each(fn func(key string, m Mount, p Propagation)) {
	visit := func(kind string, i int, m Mount, p Propagation) { fn(fmt.Sprintf("volumes.%s[%d]", kind, i), m, p) }
	for i, x := range v.HostPath {
		visit("host_path", i, x.Mount, x.Propagation)
	}
	for i, x := range v.PVC {
		visit("pvc", i, x.Mount, x.Propagation)
	}
	for i, x := range v.ConfigMap {
		visit("config_map", i, x.Mount, Propagation{})
	}
	for i, x := range v.Secret {
		visit("secret", i, x.Mount, Propagation{})
	}
	for i, x := range v.EmptyDir {
		visit("empty_dir", i, x.Mount, x.Propagation)
	}
	for i, x := range v.CSI {
		visit("csi", i, x.Mount, Propagation{})
	}
	for i, x := range v.NFS {
		visit("nfs", i, x.Mount, Propagation{})
	}
}

// All returns every volume's mount, keyed for error messages
// ("volumes.pvc[0]").
func (v *Volumes) All() map[string]Mount {
	all := map[string]Mount{}
	v.each(func(key string, m Mount, _ Propagation) { all[key] = m })
	return all
}

// Propagations returns the mount_propagation of every volume that sets
// one, keyed like All.
func (v *Volumes) Propagations() map[string]string {
	out := map[string]string{}
	v.each(func(key string, _ Mount, p Propagation) {
		if p.MountPropagation != "" {
			out[key] = p.MountPropagation
		}
	})
	return out
}

func (v *Volumes) validate(add func(key, format string, args ...any)) {
	v.validateMounts(add)
	for i, h := range v.HostPath {
		validateHostPath(i, h, add)
	}
	for i, e := range v.EmptyDir {
		if e.Medium != "" && e.Medium != "Memory" && e.Medium != "HugePages" {
			add(fmt.Sprintf("volumes.empty_dir[%d].medium", i), "%q is not \"\", Memory or HugePages", e.Medium)
		}
		if e.SizeLimit != "" {
			if _, err := ParseQuantity(e.SizeLimit); err != nil {
				add(fmt.Sprintf("volumes.empty_dir[%d].size_limit", i), "%v", err)
			}
		}
	}
	for i, c := range v.CSI {
		key := fmt.Sprintf("volumes.csi[%d].driver", i)
		switch msgs := validation.IsDNS1123Subdomain(c.Driver); {
		case c.Driver == "":
			add(key, "required")
		case len(c.Driver) > 63:
			add(key, "%q is longer than 63 characters", c.Driver)
		case len(msgs) > 0:
			add(key, "%q is not a valid CSI driver name: %s", c.Driver, msgs[0])
		}
	}
	for i, c := range v.ConfigMap {
		validateItems(fmt.Sprintf("volumes.config_map[%d].items", i), c.Items, add)
	}
	for i, c := range v.Secret {
		validateItems(fmt.Sprintf("volumes.secret[%d].items", i), c.Items, add)
	}
	for i, n := range v.NFS {
		validateNFS(fmt.Sprintf("volumes.nfs[%d]", i), n, add)
	}
	for key, mode := range v.Propagations() {
		if !slices.Contains(propagationModes, mode) {
			add(key+".mount_propagation", "%q is not None, HostToContainer or Bidirectional", mode)
		}
	}
}

// validateMounts checks what every kind of volume has: a unique valid
// name, a unique absolute mount path, a relative sub_path.
func (v *Volumes) validateMounts(add func(key, format string, args ...any)) {
	names, mountPaths := map[string]string{}, map[string]string{}
	all := v.All()
	for _, key := range slices.Sorted(maps.Keys(all)) {
		m := all[key]
		switch {
		case m.Name == "":
			add(key+".name", "required")
		case names[m.Name] != "":
			add(key+".name", "%q is also the name of %s", m.Name, names[m.Name])
		default:
			names[m.Name] = key
			if msgs := validation.IsDNS1123Label(expandProbe(m.Name)); len(msgs) > 0 {
				add(key+".name", "%q is not a valid volume name: %s", m.Name, msgs[0])
			}
		}
		if !path.IsAbs(m.MountPath) {
			add(key+".mount_path", "want an absolute path, got %q", m.MountPath)
		} else if other := mountPaths[path.Clean(m.MountPath)]; other != "" {
			add(key+".mount_path", "%q is also the mount path of %s", m.MountPath, other)
		} else {
			mountPaths[path.Clean(m.MountPath)] = key
		}
		if m.SubPath != "" && (path.IsAbs(m.SubPath) || slices.Contains(strings.Split(m.SubPath, "/"), "..")) {
			add(key+".sub_path", "%q must be a relative path without '..'", m.SubPath)
		}
	}
}

// validateHostPath checks host_path volume i's path on the node (its
// mount path when it names none): absolute, without '..'.
func validateHostPath(i int, h HostPathVolume, add func(key, format string, args ...any)) {
	key, hostPath := fmt.Sprintf("volumes.host_path[%d].host_path", i), h.HostPath
	if hostPath == "" { // the mount path is the host's path too
		key, hostPath = fmt.Sprintf("volumes.host_path[%d].mount_path", i), h.MountPath
	}
	switch {
	case h.HostPath != "" && !path.IsAbs(h.HostPath):
		add(key, "want an absolute path, got %q", h.HostPath)
	case slices.Contains(strings.Split(hostPath, "/"), ".."):
		add(key, "%q: a host path must not contain '..' (the API server refuses it)", hostPath)
	}
}

// validateItems checks the key → path items of a ConfigMap or Secret
// volume as the API server does: a non-empty key and a relative path
// without '..' elements.
func validateItems(key string, items map[string]string, add func(key, format string, args ...any)) {
	for _, k := range slices.Sorted(maps.Keys(items)) {
		p := items[k]
		switch {
		case k == "":
			add(key, "an item needs a key")
		case p == "" || path.IsAbs(p) || slices.Contains(strings.Split(p, "/"), ".."):
			add(fmt.Sprintf("%s.%q", key, k), "%q must be a relative path without '..'", p)
		}
	}
}

// validateNFS checks what the API server requires of an NFS volume (a
// server, an absolute export path), and that the server is a host name or
// an IP address, which the API server leaves to the node's mount to refuse.
func validateNFS(key string, n NFSVolume, add func(key, format string, args ...any)) {
	switch {
	case n.Server == "":
		add(key+".server", "required")
	case net.ParseIP(n.Server) == nil && len(validation.IsDNS1123Subdomain(strings.ToLower(n.Server))) > 0:
		add(key+".server", "%q is not a host name or an IP address", n.Server)
	}
	if !path.IsAbs(n.Path) {
		add(key+".path", "want the export's absolute path, got %q", n.Path)
	}
}

// propagationModes are the mount propagation modes the API server takes.
var propagationModes = []string{"None", "HostToContainer", "Bidirectional"}

// expandProbe stands in for job variables in a name, so that names like
// build-pvc-$CI_CONCURRENT_ID are checked with a plausible value.
func expandProbe(name string) string {
	return os.Expand(name, func(string) string { return "0" })
}

// BuildsDirIsShared reports whether concurrent jobs can see the same
// builds directory: a host path or an NFS export mounted at builds_dir,
// or a claim whose name does not vary with $CI_CONCURRENT_ID. k8sdrv's own
// emptyDir is private to one pod.
func (c *Config) BuildsDirIsShared() bool {
	for _, h := range c.Volumes.HostPath {
		if h.MountPath == c.BuildsDir {
			return true
		}
	}
	for _, n := range c.Volumes.NFS {
		if n.MountPath == c.BuildsDir {
			return true
		}
	}
	for _, p := range c.Volumes.PVC {
		if p.MountPath == c.BuildsDir && !strings.Contains(p.Name, "CI_CONCURRENT_ID") {
			return true
		}
	}
	return false
}
