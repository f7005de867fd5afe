// Command k8sdrv is a GitLab Runner Custom executor that runs each CI job in
// its own Kubernetes pod. gitlab-runner calls it as `k8sdrv config`,
// `k8sdrv prepare`, `k8sdrv run <script> <stage>` and `k8sdrv cleanup`.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args, os.Environ(), os.Stdout, os.Stderr))
}
