package examples

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"gotest.tools/v3/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/k8sdrv/k8sdrv/config"
)

const deployRoleFile = "deploy/role.yaml"

// TestDeployRoleIsGenerated: examples/deploy's Role is the Role of
// rbac.yaml (which TestRBACRoleMatchesCode holds to the code's `// kubeAPI:`
// comments), its namespace left to kustomize. `go test ./examples -run
// TestDeployRole -update` rewrites it.
func TestDeployRoleIsGenerated(t *testing.T) {
	want := deployRole(t)
	if flag.Lookup("update").Value.String() == "true" {
		assert.NilError(t, os.WriteFile(deployRoleFile, want, 0o644))
	}
	got, err := os.ReadFile(deployRoleFile)
	assert.NilError(t, err)
	assert.Assert(t, bytes.Equal(got, want),
		"%s is not rbac.yaml's Role; rewrite it with `go test ./examples -run TestDeployRole -update`", deployRoleFile)
	// And so, through rbac.yaml, exactly the code's namespaced permissions.
	want2 := codePermissions(t)
	for r := range clusterRoleResources(t) {
		delete(want2, r)
	}
	assert.DeepEqual(t, rulePermissions(roleRules(t, deployRoleFile)), sortedValues(want2))
}

// deployRole is rbac.yaml's Role document without its namespace line,
// under a header that says where it comes from.
func deployRole(t *testing.T) []byte {
	data, err := os.ReadFile("rbac.yaml")
	assert.NilError(t, err)
	var role string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.Contains(doc, "\nkind: Role\n") {
			role = doc
		}
	}
	assert.Assert(t, role != "", "rbac.yaml has no Role")
	// rbac.yaml's own header comments precede the first document only.
	role = role[strings.Index(role, "apiVersion: "):]
	lines := strings.SplitAfter(role, "\n")
	var b bytes.Buffer
	b.WriteString("# Generated from the Role of examples/rbac.yaml (the permissions of the\n")
	b.WriteString("# `// kubeAPI:` comments in k8sdrv's code) by\n")
	b.WriteString("# `go test ./examples -run TestDeployRole -update`; DO NOT EDIT.\n")
	b.WriteString("# Its namespace is the kustomization's.\n")
	for _, line := range lines {
		if strings.HasPrefix(line, "  namespace: ") {
			continue
		}
		b.WriteString(line)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteString("\n")
	}
	return b.Bytes()
}

// TestDeployRunsK8sdrvInCluster: the kustomization's Deployment runs
// gitlab-runner as the service account the RoleBinding grants the Role to,
// in the kustomization's namespace, hands that namespace to k8sdrv, and
// mounts the configurations where config.toml's [runners.custom] calls
// every stage; k8sdrv's file names no host, so k8sdrv connects in-cluster.
func TestDeployRunsK8sdrvInCluster(t *testing.T) {
	var kust struct {
		Namespace          string
		Resources          []string
		ConfigMapGenerator []struct{ Name string } `json:"configMapGenerator"`
		SecretGenerator    []struct{ Name string } `json:"secretGenerator"`
	}
	readYAMLPart(t, "deploy/kustomization.yaml", &kust)
	for _, r := range kust.Resources {
		_, err := os.Stat("deploy/" + r)
		assert.NilError(t, err)
	}
	var sa corev1.ServiceAccount
	readYAML(t, "deploy/serviceaccount.yaml", &sa)
	var binding rbacv1.RoleBinding
	readYAML(t, "deploy/rolebinding.yaml", &binding)
	assert.DeepEqual(t, binding.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: kust.Namespace}})
	assert.Equal(t, binding.RoleRef.Name, "k8sdrv")

	var deploy appsv1.Deployment
	readYAML(t, "deploy/deployment.yaml", &deploy)
	pod := deploy.Spec.Template.Spec
	assert.Equal(t, pod.ServiceAccountName, sa.Name)
	assert.Assert(t, *pod.SecurityContext.RunAsNonRoot)
	c := pod.Containers[0]
	assert.Assert(t, *c.SecurityContext.ReadOnlyRootFilesystem && !*c.SecurityContext.AllowPrivilegeEscalation)
	assert.Assert(t, !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero())
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	assert.Equal(t, env["K8SDRV_NAMESPACE"].ValueFrom.FieldRef.FieldPath, "metadata.namespace")
	mounts := map[string]string{} // volume source name → mount path
	for _, v := range pod.Volumes {
		for _, m := range c.VolumeMounts {
			switch {
			case m.Name != v.Name:
			case v.ConfigMap != nil:
				mounts[v.ConfigMap.Name] = m.MountPath
			case v.Secret != nil:
				mounts[v.Secret.SecretName] = m.MountPath
			}
		}
	}
	assert.Equal(t, mounts[kust.SecretGenerator[0].Name], "/etc/gitlab-runner/config.toml")
	assert.Assert(t, slices.Contains(c.Command, "--config=/etc/gitlab-runner/config.toml"), "%v", c.Command)
	k8sdrvConfig := mounts[kust.ConfigMapGenerator[0].Name] + "/k8sdrv.toml"
	assertRunnerCallsK8sdrv(t, "deploy/config.toml", k8sdrvConfig)

	cfg, err := config.Load("deploy/k8sdrv.toml")
	assert.NilError(t, err)
	assert.Equal(t, cfg.Host, "")
	assert.Equal(t, cfg.Namespace, "default", "the namespace comes from K8SDRV_NAMESPACE, not the file")
}

// TestHelmValuesUseK8sdrv: the values for GitLab's chart grant the Role's
// rules and register a runner whose [runners.custom] calls every stage with
// the k8sdrv.toml the chart mounts from configMaps.
func TestHelmValuesUseK8sdrv(t *testing.T) {
	var values struct {
		RBAC struct {
			Create bool
			Rules  []rbacv1.PolicyRule
		}
		ConfigMaps map[string]string `json:"configMaps"`
		Runners    struct {
			Executor string
			Config   string
		}
	}
	readYAMLPart(t, "deploy/helm-values.yaml", &values)
	assert.Assert(t, values.RBAC.Create)
	assert.DeepEqual(t, rulePermissions(values.RBAC.Rules), rulePermissions(roleRules(t, deployRoleFile)))
	assert.Equal(t, values.Runners.Executor, "custom")
	assert.Assert(t, values.ConfigMaps["k8sdrv.toml"] != "")
	path := filepath.Join(t.TempDir(), "config.toml")
	assert.NilError(t, os.WriteFile(path, []byte(values.Runners.Config), 0o600))
	assertRunnerCallsK8sdrv(t, path, "/configmaps/k8sdrv.toml")
}

// assertRunnerCallsK8sdrv: the runner config file calls /usr/local/bin/k8sdrv
// for every stage, with --config k8sdrvConfig.
func assertRunnerCallsK8sdrv(t *testing.T, path, k8sdrvConfig string) {
	t.Helper()
	var runner struct {
		Runners []struct {
			Custom map[string]any `toml:"custom"`
		} `toml:"runners"`
	}
	_, err := toml.DecodeFile(path, &runner)
	assert.NilError(t, err)
	assert.Equal(t, len(runner.Runners), 1)
	for _, stage := range []string{"config", "prepare", "run", "cleanup"} {
		assert.Equal(t, runner.Runners[0].Custom[stage+"_exec"], "/usr/local/bin/k8sdrv", "%s: %s_exec", path, stage)
		assert.DeepEqual(t, runner.Runners[0].Custom[stage+"_args"], []any{"--config", k8sdrvConfig, stage})
	}
}

// readYAML decodes a Kubernetes object: every field must be known.
func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	assert.NilError(t, yaml.UnmarshalStrict(data, into), path)
}

// readYAMLPart decodes the fields of a file that into has.
func readYAMLPart(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	assert.NilError(t, yaml.Unmarshal(data, into), path)
}
