package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The test here deploys examples/deploy as an operator would (an overlay
// of it, `kubectl apply -k`) on the real node and runs jobs through the
// in-cluster runner: gitlab-runner in a pod, k8sdrv beside it connecting
// with the pod's service account.

// deployImage is the image name examples/deploy's kustomization sets.
const deployImage = "registry.example.com/ci/gitlab-runner-k8sdrv"

// TestRealInClusterRunner: examples/deploy, applied with only the
// settings of this machine changed, runs a job to success with its output
// in the job log; k8sdrv acts as the kustomization's service account with
// the generated Role and nothing more; and once the Role lacks one verb
// (pods/exec create), a job fails naming the missing permission. Nothing
// is left afterwards.
func TestRealInClusterRunner(t *testing.T) {
	requireReal(t)
	node, nodeIP := firstNode(t)
	if node != localRealNode {
		t.Skipf("needs the real node of hack/cluster (CLUSTER=real), not node %s: the runner image is imported into its containerd", node)
	}
	runner := gitlabRunnerBinary(t)
	image := fmt.Sprintf("k8sdrv.local/gitlab-runner-k8sdrv:e2e-%d", os.Getpid())
	importRunnerImage(t, image, runner, binary)

	// The runner's pod reaches the host's addresses through the CNI
	// bridge: the fake GitLab listens on the node's address.
	coord := newCoordinatorOn(t, runnerToken, net.JoinHostPort(nodeIP, "0"))
	d := &inClusterRunner{
		ns:     fmt.Sprintf("k8sdrv-deploy-%d", time.Now().UnixNano()%1e9),
		image:  image,
		nodeIP: nodeIP,
		gitlab: coord.URL(),
	}
	t.Cleanup(func() { d.remove(t) })
	d.apply(t, "")
	d.kubectl(t, "rollout", "status", "deployment/gitlab-runner", "--timeout=120s")

	t.Run("job passes", func(t *testing.T) {
		id := newRunnerJobID()
		coord.addJob(ciJob{
			id:     id,
			token:  "job-token-deploy-0001",
			image:  envOr("K8SDRV_E2E_IMAGE", "debian:bookworm"),
			script: []string{`printf 'in-%s\n' cluster`, `test -e /var/run/secrets/kubernetes.io/serviceaccount/token || printf 'no-api-%s\n' token`},
		}.payload(coord.URL()))
		trace, states, final := awaitJob(t, coord, id)
		assert.DeepEqual(t, states, []string{"running", "success"})
		assert.Equal(t, final.FailureReason, "")
		assertInOrder(t, trace,
			"Using Custom executor with driver k8sdrv",
			"Created pod "+d.ns+"/runner-",
			"in-cluster\n", "no-api-token\n",
			"Job succeeded")
		d.assertNoJobPods(t)
	})

	t.Run("k8sdrv has the Role and nothing more", func(t *testing.T) {
		d.assertIdentity(t)
	})

	t.Run("Role without pods/exec create", func(t *testing.T) {
		d.apply(t, withoutExecCreate)
		id := newRunnerJobID()
		coord.addJob(ciJob{
			id:     id,
			token:  "job-token-deploy-0002",
			image:  envOr("K8SDRV_E2E_IMAGE", "debian:bookworm"),
			script: []string{`printf 'not-%s\n' reached`},
		}.payload(coord.URL()))
		trace, _, final := awaitJob(t, coord, id)
		assert.Equal(t, final.State, "failed")
		assert.Equal(t, final.FailureReason, "runner_system_failure")
		assertInOrder(t, trace,
			"Created pod "+d.ns+"/runner-",
			": Forbidden: ",
			"(hint: k8sdrv's account needs create and get on pods/exec in namespace "+d.ns+"; see examples/rbac.yaml)",
			"ERROR: Job failed (system failure)")
		assert.Assert(t, !strings.Contains(trace, "not-reached"))
		d.assertNoJobPods(t)
	})
}

// withoutExecCreate is a JSON patch of the Role that leaves pods/exec only
// get; the test op makes it fail loudly if the Role's rules are reordered.
const withoutExecCreate = `
  - target: {kind: Role, name: k8sdrv}
    patch: |
      - {op: test, path: /rules/1/resources, value: ["pods/exec"]}
      - {op: test, path: /rules/1/verbs, value: ["create", "get"]}
      - {op: replace, path: /rules/1/verbs, value: ["get"]}
`

// inClusterRunner is examples/deploy applied in a namespace of its own.
type inClusterRunner struct {
	ns     string
	image  string // the runner image, imported on the node
	nodeIP string
	gitlab string // the fake GitLab's URL
}

// apply writes an overlay of examples/deploy with this machine's settings
// (and extraPatches, kustomize `patches` entries) and applies it with
// `kubectl apply -k`.
func (d *inClusterRunner) apply(t *testing.T, extraPatches string) {
	t.Helper()
	dir := t.TempDir()
	base, err := filepath.Abs("../examples/deploy")
	assert.NilError(t, err)
	// kustomize takes bases by relative path only.
	rel, err := filepath.Rel(dir, base)
	assert.NilError(t, err)
	apiServer, err := url.Parse(restConfig.Host)
	assert.NilError(t, err)
	name, tag, _ := strings.Cut(d.image, ":")

	writeFile(t, filepath.Join(dir, "config.toml"), replaceAll(t, readFile(t, base+"/config.toml"),
		`url = "https://gitlab.example.com"`, fmt.Sprintf("url = %q", d.gitlab),
		`token = "glrt-REPLACE-WITH-YOUR-RUNNER-TOKEN"`, fmt.Sprintf("token = %q", runnerToken),
		"check_interval = 3", "check_interval = 1"))
	image := envOr("K8SDRV_E2E_IMAGE", "debian:bookworm")
	writeFile(t, filepath.Join(dir, "k8sdrv.toml"), replaceAll(t, readFile(t, base+"/k8sdrv.toml"),
		`image = "alpine:3.20"`, fmt.Sprintf("image = %q", image),
		`helper_image = "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v17.9.0"`,
		fmt.Sprintf("helper_image = %q\n%s", envOr("K8SDRV_E2E_HELPER_IMAGE", image), clusterConfig(dir)),
		// The node has 2 cores: the runner, a job pod and other tests' pods
		// must fit beside each other.
		`cpu_request = "500m"`, `cpu_request = "100m"`))
	writeFile(t, filepath.Join(dir, "kustomization.yaml"), fmt.Sprintf(`namespace: %[1]s
resources:
  - %[2]s
images:
  - name: %[3]s
    newName: %[4]s
    newTag: %[5]q
configMapGenerator:
  - name: k8sdrv-config
    behavior: replace
    files: [k8sdrv.toml]
secretGenerator:
  - name: gitlab-runner-config
    behavior: replace
    files: [config.toml]
patches:
  - target: {kind: RoleBinding, name: k8sdrv}
    patch: |
      - {op: replace, path: /subjects/0/namespace, value: %[1]s}
  # The image is on the node only; this node has no kube-proxy, so the
  # kubernetes Service's address does not route and in-cluster clients are
  # pointed at the API server's own address instead.
  - target: {kind: Deployment, name: gitlab-runner}
    patch: |
      - {op: add, path: /spec/template/spec/containers/0/imagePullPolicy, value: Never}
      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_HOST, value: %[6]q}}
      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_PORT, value: %[7]q}}
%[8]s`, d.ns, rel, deployImage, name, tag, d.nodeIP, apiServer.Port(), extraPatches))
	d.kubectl(t, "apply", "-k", dir)
}

// remove deletes the namespace, and with it everything the kustomization
// created, and waits until it is gone; after a failure it first shows the
// runner's log.
func (d *inClusterRunner) remove(t *testing.T) {
	if t.Failed() {
		out, _ := d.kubectlOutput(t, "logs", "deployment/gitlab-runner", "--tail=200")
		t.Logf("gitlab-runner's log:\n%s", out)
		out, _ = d.kubectlOutput(t, "get", "events", "--sort-by=.lastTimestamp")
		t.Logf("events:\n%s", out)
	}
	d.kubectl(t, "delete", "namespace", d.ns, "--wait=true", "--timeout=120s")
	_, err := kube.CoreV1().Namespaces().Get(context.Background(), d.ns, metav1.GetOptions{})
	assert.Assert(t, apierrors.IsNotFound(err), "namespace %s is still there: %v", d.ns, err)
}

// assertNoJobPods waits until no job pod is left in the namespace: the
// runner reports the job's end before cleanup's delete has taken effect.
func (d *inClusterRunner) assertNoJobPods(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		pods, err := kube.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=k8sdrv"})
		assert.NilError(t, err)
		if len(pods.Items) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job pod %s is still there (deletion requested at %v)", pods.Items[0].Name, pods.Items[0].DeletionTimestamp)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// assertIdentity: k8sdrv in the runner's pod is the kustomization's
// service account (k8sdrv doctor, run there, says so and finds every
// permission the code needs), and the API server grants that account the
// generated Role's permissions in its namespace and nothing else.
func (d *inClusterRunner) assertIdentity(t *testing.T) {
	t.Helper()
	user := "system:serviceaccount:" + d.ns + ":k8sdrv"
	out, err := d.kubectlOutput(t, "exec", "deployment/gitlab-runner", "--", "k8sdrv", "--config", "/etc/k8sdrv/k8sdrv.toml", "doctor")
	assert.NilError(t, err, out)
	assert.Assert(t, is.Contains(out, ", as "+user+"\n"))
	for _, p := range []string{"pods create", "pods delete", "pods watch", "pods/exec create"} {
		assert.Assert(t, is.Contains(out, "ok    permission "+p+": granted in namespace "+d.ns+"\n"))
	}

	ctx := context.Background()
	bindings, err := kube.RbacV1().RoleBindings(d.ns).List(ctx, metav1.ListOptions{})
	assert.NilError(t, err)
	assert.Equal(t, len(bindings.Items), 1)
	assert.Equal(t, bindings.Items[0].RoleRef.Kind+"/"+bindings.Items[0].RoleRef.Name, "Role/k8sdrv")
	cluster, err := kube.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	assert.NilError(t, err)
	for _, b := range cluster.Items {
		for _, s := range b.Subjects {
			assert.Assert(t, !(s.Kind == "ServiceAccount" && s.Namespace == d.ns), "ClusterRoleBinding %s names %s", b.Name, s.Name)
		}
	}
	role, err := kube.RbacV1().Roles(d.ns).Get(ctx, "k8sdrv", metav1.GetOptions{})
	assert.NilError(t, err)
	for _, rule := range role.Rules {
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				for _, v := range rule.Verbs {
					assert.Assert(t, d.allowed(t, user, d.ns, g, r, v), "%s may not %s %s (API group %q)", user, v, r, g)
				}
			}
		}
	}
	for _, denied := range []struct{ ns, resource, verb string }{
		{d.ns, "pods", "patch"},
		{d.ns, "secrets", "list"},
		{d.ns, "configmaps", "get"},
		{d.ns, "pods/attach", "create"},
		{"default", "pods", "create"},
		{"", "nodes", "list"},
	} {
		assert.Assert(t, !d.allowed(t, user, denied.ns, "", denied.resource, denied.verb), "%s may %s %s in %q", user, denied.verb, denied.resource, denied.ns)
	}
}

// allowed asks the API server whether the service account user may do
// verb on resource ("pods/exec": resource and subresource) in ns.
func (d *inClusterRunner) allowed(t *testing.T, user, ns, group, resource, verb string) bool {
	t.Helper()
	res, sub, _ := strings.Cut(resource, "/")
	review, err := kube.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + d.ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Group: group, Resource: res, Subresource: sub,
			},
		},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	return review.Status.Allowed
}

func (d *inClusterRunner) kubectl(t *testing.T, args ...string) {
	t.Helper()
	out, err := d.kubectlOutput(t, args...)
	assert.NilError(t, err, "kubectl %s:\n%s", strings.Join(args, " "), out)
}

func (d *inClusterRunner) kubectlOutput(t *testing.T, args ...string) (string, error) {
	cmd := exec.Command(kubectlBinary(t), append([]string{"--kubeconfig", kubeconfig, "--namespace", d.ns}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlBinary is the kubectl of the local clusters' binaries
// (hack/cluster/build.sh), or K8SDRV_E2E_KUBECTL.
func kubectlBinary(t *testing.T) string {
	t.Helper()
	if k := os.Getenv("K8SDRV_E2E_KUBECTL"); k != "" {
		return k
	}
	out, err := exec.Command("bash", "-c", `source ../hack/cluster/env.sh && echo "$CLUSTER_BIN/kubectl"`).Output()
	assert.NilError(t, err)
	return strings.TrimSpace(string(out))
}

// localRealNode is the name of the node of hack/cluster's real cluster
// (NODE_NAME in real-env.sh).
const localRealNode = "k8sdrv-node"

// firstNode is the name and address of the cluster's first node.
func firstNode(t *testing.T) (name, internalIP string) {
	t.Helper()
	nodes, err := kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	assert.NilError(t, err)
	assert.Assert(t, len(nodes.Items) > 0)
	i := slices.IndexFunc(nodes.Items[0].Status.Addresses, func(a corev1.NodeAddress) bool { return a.Type == corev1.NodeInternalIP })
	assert.Assert(t, i >= 0, "node %s has no InternalIP", nodes.Items[0].Name)
	return nodes.Items[0].Name, nodes.Items[0].Status.Addresses[i].Address
}

// awaitJob waits until the runner has taken job id and reported its final
// state.
func awaitJob(t *testing.T, coord *coordinator, id int64) (trace string, states []string, final jobUpdate) {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	for coord.job(id) == nil {
		select {
		case <-deadline:
			t.Fatalf("the in-cluster runner never requested job %d", id)
		case <-time.After(200 * time.Millisecond):
		}
	}
	select {
	case <-coord.job(id).finished:
	case <-deadline:
		trace, _, _ := coord.snapshot(id)
		t.Fatalf("job %d did not finish; its trace:\n%s", id, trace)
	}
	trace, states, final = coord.snapshot(id)
	t.Logf("job %d trace:\n%s", id, trace)
	return trace, states, final
}

// replaceAll replaces each old with its new in s, failing when one is not
// there: the example files changed under the test.
func replaceAll(t *testing.T, s string, oldNew ...string) string {
	t.Helper()
	for i := 0; i < len(oldNew); i += 2 {
		assert.Assert(t, strings.Contains(s, oldNew[i]), "the example lacks %q", oldNew[i])
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	return string(data)
}
