package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// k8sdrvRules are the namespaced rules of examples/rbac.yaml's Role.
var k8sdrvRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "delete", "get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create", "get"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts", "secrets"}, Verbs: []string{"get"}},
}

// doctorNamespace creates a namespace of the test's own, deleted after it.
func doctorNamespace(t *testing.T) string {
	t.Helper()
	return testNamespace(t, "doctor")
}

// testNamespace creates a namespace of the test's own, named after prefix,
// deleted after it.
func testNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), jobSeq.Add(1))
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	return ns
}

// serviceAccountToken creates service account name in ns, bound to a Role
// with rules, and returns a token of it (TokenRequest).
func serviceAccountToken(t *testing.T, ns, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := context.Background()
	_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	_, err = kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	assert.NilError(t, err)
	_, err = kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	assert.NilError(t, err)
	return tr.Status.Token
}

// caFile writes the cluster's CA to a file and returns its path.
func caFile(t *testing.T) string {
	t.Helper()
	data := restConfig.CAData
	if len(data) == 0 {
		var err error
		data, err = os.ReadFile(restConfig.CAFile)
		assert.NilError(t, err)
	}
	path := filepath.Join(t.TempDir(), "ca.crt")
	assert.NilError(t, os.WriteFile(path, data, 0o600))
	return path
}

// tokenKubeconfig writes a kubeconfig that authenticates with token.
func tokenKubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: restConfig.Host, CertificateAuthority: caFile(t)}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	assert.NilError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// runDoctor runs `k8sdrv doctor` with a config file of lines and the given
// kubeconfig; secret must appear in nothing it prints.
func runDoctor(t *testing.T, kubeconfigPath, lines, secret string, args ...string) result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k8sdrv.toml")
	config := fmt.Sprintf("helper_image = %q\npoll_timeout = 30\ncleanup_resources_timeout = \"30s\"\n%s\n",
		envOr("K8SDRV_E2E_HELPER_IMAGE", "gitlab-runner-helper:local"), lines)
	if !strings.Contains(lines, "image = ") {
		config += fmt.Sprintf("image = %q\n", envOr("K8SDRV_E2E_IMAGE", "alpine:3"))
	}
	assert.NilError(t, os.WriteFile(path, []byte(config), 0o600))
	cmd := exec.Command(binary, append([]string{"--config", path, "doctor"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "KUBECONFIG=" + kubeconfigPath}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if exitErr, ok := err.(*exec.ExitError); ok {
		r.code = exitErr.ExitCode()
	} else {
		assert.NilError(t, err)
	}
	if secret != "" {
		assert.Assert(t, !strings.Contains(r.stdout+r.stderr, secret), "doctor printed the bearer token")
	}
	t.Logf("k8sdrv doctor %v (exit %d):\n%s%s", args, r.code, r.stdout, r.stderr)
	return r
}

// TestIntegrationDoctorPassesACorrectSetup: k8sdrv's account with the Role
// of examples/rbac.yaml (no ClusterRole: nodes list is optional), its
// bearer token in the k8sdrv config, a service account and pull secret
// that exist: every check passes, the probe pods of --pull-check are gone
// afterwards, and the token is printed nowhere.
func TestIntegrationDoctorPassesACorrectSetup(t *testing.T) {
	skipShort(t)
	ns := doctorNamespace(t)
	token := serviceAccountToken(t, ns, "k8sdrv", k8sdrvRules)
	_, err := kube.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	lines := fmt.Sprintf("host = %q\nca_file = %q\nbearer_token = %q\nnamespace = %q\nservice_account = \"k8sdrv\"\nimage_pull_secrets = [\"regcred\"]\n",
		restConfig.Host, caFile(t), token, ns)

	r := runDoctor(t, "/nonexistent", lines, token, "--pull-check", "--runner", "doctorE2E")
	assert.Equal(t, r.code, 0)
	assert.Assert(t, !strings.Contains(r.stdout, "FAIL"))
	wants := []string{
		"ok    api server: reachable, Kubernetes v",
		"as system:serviceaccount:" + ns + ":k8sdrv",
		"ok    permission pods delete: granted in namespace " + ns,
		"ok    permission nodes list: not granted cluster-wide; optional: ",
		"ok    service account k8sdrv: exists in namespace " + ns,
		"ok    image pull secret regcred: exists in namespace " + ns,
		"ok    job pod: namespace " + ns + " accepts it",
		"ok    node architecture: not checked",
		"ok    pull helper image ",
	}
	// The default image is checked too unless it is the helper image (the
	// real node's suite runs both from one local image).
	if envOr("K8SDRV_E2E_IMAGE", "alpine:3") != envOr("K8SDRV_E2E_HELPER_IMAGE", "gitlab-runner-helper:local") {
		wants = append(wants, "ok    pull default image ")
	} else {
		assert.Assert(t, !strings.Contains(r.stdout, "pull default image"), "the same image checked twice")
	}
	for _, want := range wants {
		assert.Assert(t, is.Contains(r.stdout, want))
	}
	pods, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	assert.NilError(t, err)
	assert.Equal(t, len(pods.Items), 0)
}

// TestIntegrationDoctorNamesWhatToFix: a Role that lacks one verb, a
// namespace that does not exist, a pull secret that does not: each is a
// FAIL line naming what to fix, and doctor exits 1.
func TestIntegrationDoctorNamesWhatToFix(t *testing.T) {
	skipShort(t)
	t.Run("missing permission", func(t *testing.T) {
		ns := doctorNamespace(t)
		rules := append([]rbacv1.PolicyRule(nil), k8sdrvRules...)
		rules[0] = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch"}}
		token := serviceAccountToken(t, ns, "k8sdrv-nodelete", rules)
		r := runDoctor(t, tokenKubeconfig(t, token), fmt.Sprintf("namespace = %q", ns), token)
		assert.Equal(t, r.code, 1)
		assert.Assert(t, is.Contains(r.stdout, fmt.Sprintf(
			"FAIL  permission pods delete: not granted in namespace %s; fix: grant delete on pods in namespace %s to system:serviceaccount:%s:k8sdrv-nodelete (examples/rbac.yaml)", ns, ns, ns)))
		assert.Equal(t, strings.Count(r.stdout, "FAIL"), 1)
	})
	t.Run("nonexistent namespace", func(t *testing.T) {
		r := runDoctor(t, kubeconfig, `namespace = "doctor-nonexistent"`, "", "--output", "json")
		assert.Equal(t, r.code, 1)
		var checks []struct {
			Name, Detail, Fix string
			OK                bool
		}
		assert.NilError(t, json.Unmarshal([]byte(r.stdout), &checks))
		var failed []string
		for _, c := range checks {
			if !c.OK {
				failed = append(failed, c.Name+": "+c.Detail+"; fix: "+c.Fix)
			}
		}
		assert.Equal(t, len(failed), 1, "%v", failed)
		assert.Assert(t, is.Contains(failed[0], `job pod: server-side dry run: create pod in namespace doctor-nonexistent: NotFound: namespaces "doctor-nonexistent" not found`))
		assert.Assert(t, is.Contains(failed[0], "fix: create namespace doctor-nonexistent, or set namespace"))
	})
	t.Run("absent pull secret", func(t *testing.T) {
		ns := doctorNamespace(t)
		r := runDoctor(t, kubeconfig, fmt.Sprintf("namespace = %q\nimage_pull_secrets = [\"absent\"]", ns), "")
		assert.Equal(t, r.code, 1)
		assert.Assert(t, is.Contains(r.stdout, fmt.Sprintf(
			"FAIL  image pull secret absent: does not exist in namespace %s; fix: create it (kubectl create secret docker-registry absent -n %s ...), or remove it from image_pull_secrets", ns, ns)))
		assert.Equal(t, strings.Count(r.stdout, "FAIL"), 1)
	})
	t.Run("image that does not pull", func(t *testing.T) {
		requireKWOK(t, "an image that fails to pull by its name")
		ns := doctorNamespace(t)
		r := runDoctor(t, kubeconfig, fmt.Sprintf("namespace = %q\nimage = \"registry.example.com/doesnotexist:1\"", ns), "", "--pull-check")
		assert.Equal(t, r.code, 1)
		assert.Assert(t, is.Contains(r.stdout, `FAIL  pull default image registry.example.com/doesnotexist:1: container build (image "registry.example.com/doesnotexist:1") cannot start: ErrImagePull`))
		assert.Assert(t, is.Contains(r.stdout, "ok    pull helper image "))
		assert.Equal(t, strings.Count(r.stdout, "FAIL"), 1)
		pods, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		assert.NilError(t, err)
		for _, p := range pods.Items {
			assert.Assert(t, p.DeletionTimestamp != nil, "probe pod %s left behind", p.Name)
		}
	})
	t.Run("broken config", func(t *testing.T) {
		r := runDoctor(t, kubeconfig, "cpu_limit = \"two\"\nresource_availability_check_max_attempts = -1", "")
		assert.Equal(t, r.code, 1)
		assert.Equal(t, strings.Count(r.stdout, "FAIL  config: "), 2, r.stdout)
		assert.Assert(t, !strings.Contains(r.stdout, "api server"))
	})
}
