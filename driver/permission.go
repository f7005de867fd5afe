package driver

// permission is one resource and verb k8sdrv's code uses (see
// permissions_gen.go).
type permission struct {
	resource, verb string
	// clusterWide: granted by a ClusterRole (nodes), not in the namespace.
	clusterWide bool
}
