package driver

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
)

const twoContexts = `apiVersion: v1
kind: Config
current-context: laptop
clusters:
- name: laptop
  cluster: {server: "https://127.0.0.1:6443"}
- name: ci
  cluster: {server: "https://ci.example.com:6443"}
users:
- name: me
  user: {token: "t"}
contexts:
- name: laptop
  context: {cluster: laptop, user: me}
- name: ci-cluster
  context: {cluster: ci, user: me}
`

// TestContextPicksTheKubeconfigContext: context selects a context of the
// kubeconfig instead of its current one; one it lacks is an error naming it.
func TestContextPicksTheKubeconfigContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	assert.NilError(t, os.WriteFile(path, []byte(twoContexts), 0o600))
	t.Setenv("KUBECONFIG", path)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")

	rc, err := restConfig(&config.Config{})
	assert.NilError(t, err)
	assert.Equal(t, rc.Host, "https://127.0.0.1:6443")

	rc, err = restConfig(&config.Config{Context: "ci-cluster"})
	assert.NilError(t, err)
	assert.Equal(t, rc.Host, "https://ci.example.com:6443")

	_, err = restConfig(&config.Config{Context: "prod"})
	assert.ErrorContains(t, err, `context "prod" does not exist`)
}
