// Module images holds the tiny static programs baked into the real local
// cluster's images (hack/cluster/real-images.sh). It has no dependencies and is
// separate from k8sdrv's own module so that `go test ./...` never builds it.
module github.com/k8sdrv/k8sdrv/hack/cluster/images

go 1.26.0
