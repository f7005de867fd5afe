package e2e

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIntegrationNamespaceOverwrite: an allowed KUBERNETES_NAMESPACE_OVERWRITE
// puts the pod in that namespace, and every stage and cleanup follow it.
func TestIntegrationNamespaceOverwrite(t *testing.T) {
	ensureNamespace(t, "ci-team1")
	j := newJob(t, jobOptions{config: `namespace_overwrite_allowed = "ci-.*"`})
	j.env["CUSTOM_ENV_KUBERNETES_NAMESPACE_OVERWRITE"] = "ci-team1"
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	pods := j.pods()
	assert.Equal(t, len(pods), 1)
	assert.Assert(t, strings.HasPrefix(pods[0], "ci-team1/"), pods[0])
	out := j.run("build_script", "echo in the overwritten namespace\n")
	assert.Equal(t, out.code, 0, out.stderr)
	assert.Equal(t, out.stdout, "in the overwritten namespace\n")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationNodeSelectorOverwrite: an allowed KUBERNETES_NODE_SELECTOR_*
// joins the configuration's node_selector, and the pod runs on a node
// that has the label.
func TestIntegrationNodeSelectorOverwrite(t *testing.T) {
	j := newJob(t, jobOptions{config: `node_selector_overwrite_allowed = "kubernetes.io/(arch|os)=.*"
[node_selector]
  "kubernetes.io/os" = "linux"`})
	j.env["CUSTOM_ENV_KUBERNETES_NODE_SELECTOR_ARCH"] = "kubernetes.io/arch=" + runtime.GOARCH
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	pods := j.pods()
	assert.Equal(t, len(pods), 1)
	ns, name, _ := strings.Cut(pods[0], "/")
	pod, err := kube.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	assert.NilError(t, err)
	assert.DeepEqual(t, pod.Spec.NodeSelector, map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/arch": runtime.GOARCH})
	out := j.run("build_script", "echo on the selected node\n")
	assert.Equal(t, out.code, 0, out.stderr)
	assert.Equal(t, out.stdout, "on the selected node\n")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationDeniedOverwrite: a refused overwrite fails the job (as a
// build failure: retrying cannot help) before anything is created.
func TestIntegrationDeniedOverwrite(t *testing.T) {
	for name, tc := range map[string]struct {
		config, variable, value, want string
	}{
		"namespace":  {`namespace_overwrite_allowed = "ci-.*"`, "KUBERNETES_NAMESPACE_OVERWRITE", "kube-system", `KUBERNETES_NAMESPACE_OVERWRITE="kube-system" is not allowed`},
		"cpu limit":  {`cpu_limit_overwrite_max_allowed = "2"`, "KUBERNETES_CPU_LIMIT", "16", "KUBERNETES_CPU_LIMIT=16 is above cpu_limit_overwrite_max_allowed (2)"},
		"pod labels": {`pod_labels_overwrite_allowed = "team=.*"`, "KUBERNETES_POD_LABELS_1", "k8sdrv.io/job-id=1", `KUBERNETES_POD_LABELS_1="k8sdrv.io/job-id=1" is not allowed`},
		"node selector": {`node_selector_overwrite_allowed = "kubernetes.io/arch=.*"`, "KUBERNETES_NODE_SELECTOR_POOL", "node-role.kubernetes.io/control-plane=",
			`KUBERNETES_NODE_SELECTOR_POOL="node-role.kubernetes.io/control-plane=" is not allowed: it must match node_selector_overwrite_allowed "kubernetes.io/arch=.*" (the whole value)`},
		"node selector value": {`node_selector_overwrite_allowed = ".*"`, "KUBERNETES_NODE_SELECTOR_ARCH", "kubernetes.io/arch=amd 64",
			`KUBERNETES_NODE_SELECTOR_ARCH="kubernetes.io/arch=amd 64": "amd 64" is not a valid label value`},
	} {
		t.Run(name, func(t *testing.T) {
			j := newJob(t, jobOptions{config: tc.config})
			j.env["CUSTOM_ENV_"+tc.variable] = tc.value
			r := j.call("prepare")
			assert.Equal(t, r.code, 1, r.stderr)
			assert.Check(t, is.Contains(r.stderr, tc.want))
			assert.DeepEqual(t, j.pods(), []string(nil))
			assert.Equal(t, j.call("cleanup").code, 0)
		})
	}
}

func ensureNamespace(t *testing.T, name string) {
	skipShort(t)
	_, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		assert.NilError(t, err)
	}
}

// TestIntegrationBadJobInput: faults in the job's own input (what the
// API server or the runtime would refuse) fail prepare as a build failure,
// each on its own line, with nothing created.
func TestIntegrationBadJobInput(t *testing.T) {
	j := newJob(t, jobOptions{
		config: `service_account_overwrite_allowed = ".*"`,
		response: map[string]any{
			"image":    map[string]any{"name": "Registry.example.com/App:1"},
			"services": []any{map[string]any{"name": "postgres:16", "alias": "db_1"}, map[string]any{"name": ""}},
		},
	})
	j.env["CUSTOM_ENV_KUBERNETES_SERVICE_ACCOUNT_OVERWRITE"] = "Builder_SA"
	r := j.call("prepare")
	assert.Equal(t, r.code, 1, r.stderr)
	for _, want := range []string{
		`ERROR: k8sdrv: image "Registry.example.com/App:1": not a valid image reference`,
		`ERROR: k8sdrv: services[0] postgres:16: alias "db_1" is not a valid host name`,
		"ERROR: k8sdrv: services[1]: service without an image name",
		`ERROR: k8sdrv: KUBERNETES_SERVICE_ACCOUNT_OVERWRITE="Builder_SA" is not a valid service account name`,
	} {
		assert.Check(t, is.Contains(r.stderr, want))
	}
	assert.DeepEqual(t, j.pods(), []string(nil))
	assert.Equal(t, j.call("cleanup").code, 0)
}
