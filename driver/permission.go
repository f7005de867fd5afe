package driver

// permission is one resource and verb k8sdrv's code uses (see
// permissions_gen.go).
type permission struct {
	// group is the API group ("" for core/v1).
	group, resource, verb string
	// clusterWide: granted by a ClusterRole (nodes), not in the namespace.
	clusterWide bool
}

// qualified names the resource as the `// kubeAPI:` comments do:
// "pods/exec", "policy/poddisruptionbudgets".
func (p permission) qualified() string {
	if p.group == "" {
		return p.resource
	}
	return p.group + "/" + p.resource
}
