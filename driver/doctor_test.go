package driver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8sdrv/k8sdrv/config"
)

// newDoctor is a test driver whose account has every permission but those
// in denied ("pods delete", "nodes list"), and one amd64 node.
func newDoctor(t *testing.T, denied ...string) *testDriver {
	d := newTestDriver(t)
	d.client.PrependReactor("create", "selfsubjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		a := review.Spec.ResourceAttributes
		resource := a.Resource
		if a.Subresource != "" {
			resource += "/" + a.Subresource
		}
		review.Status.Allowed = true
		for _, p := range denied {
			if p == resource+" "+a.Verb {
				review.Status.Allowed = false
			}
		}
		return true, review, nil
	})
	// The fake stores what a server-side dry run would only check.
	d.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		create, ok := action.(k8stesting.CreateActionImpl)
		return ok && len(create.CreateOptions.DryRun) > 0, create.Object, nil
	})
	d.addNode(t, "node-1", "amd64")
	return d
}

func (d *testDriver) addNode(t *testing.T, name, arch string) {
	_, err := d.client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/arch": arch}},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
}

// doctor runs Doctor and returns its report's lines.
func (d *testDriver) doctor(t *testing.T, o DoctorOptions) ([]string, error) {
	t.Helper()
	var out strings.Builder
	d.Stdout = &out
	err := d.Doctor(context.Background(), d.cfg, nil, o)
	return strings.Split(strings.TrimSpace(out.String()), "\n"), err
}

// line returns the report's line for a check name.
func line(t *testing.T, lines []string, name string) string {
	t.Helper()
	for _, l := range lines {
		if strings.HasPrefix(l[6:], name+":") {
			return l
		}
	}
	t.Fatalf("no line for %q in:\n%s", name, strings.Join(lines, "\n"))
	return ""
}

// TestDoctorReportsEveryConfigProblem: each problem of the configuration
// is a FAIL line of its own, and nothing contacts the cluster.
func TestDoctorReportsEveryConfigProblem(t *testing.T) {
	d := newTestDriver(t)
	d.Connect = func(*config.Config) (Cluster, error) {
		t.Fatal("doctor connected despite a broken config")
		return nil, nil
	}
	var out strings.Builder
	d.Stdout = &out
	loadErr := errors.Join(errors.New("k8sdrv.toml:3: cpu_limit: \"two\" is not a Kubernetes quantity"), errors.New("k8sdrv.toml:5: memry_limit: unknown key"))
	err := d.Doctor(context.Background(), nil, loadErr, DoctorOptions{ConfigPath: "k8sdrv.toml"})
	assert.Assert(t, errors.Is(err, ErrDoctorFailed))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Equal(t, len(lines), 2, out.String())
	assert.Assert(t, is.Contains(lines[0], `FAIL  config: k8sdrv.toml:3: cpu_limit: "two" is not a Kubernetes quantity; fix: `))
	assert.Assert(t, is.Contains(lines[1], "FAIL  config: k8sdrv.toml:5: memry_limit"))
}

// TestDoctorPassesAGoodSetup: with every permission, the report is all ok.
func TestDoctorPassesAGoodSetup(t *testing.T) {
	d := newDoctor(t)
	lines, err := d.doctor(t, DoctorOptions{})
	assert.NilError(t, err)
	for _, p := range permissions {
		assert.Assert(t, is.Contains(line(t, lines, "permission "+p.qualified()+" "+p.verb), "ok    "))
	}
	assert.Assert(t, is.Contains(line(t, lines, "api server"), "ok    api server: reachable"))
	assert.Assert(t, is.Contains(line(t, lines, "node architecture"), "amd64 (1 node)"))
	assert.Assert(t, is.Contains(line(t, lines, "job pod"), "ok    job pod: namespace default accepts it"))
}

// TestDoctorNamesAMissingPermission: a permission every setup needs fails
// and says what to grant; an optional one that is missing does not fail.
func TestDoctorNamesAMissingPermission(t *testing.T) {
	d := newDoctor(t, "pods delete", "nodes list", "secrets get")
	lines, err := d.doctor(t, DoctorOptions{})
	assert.Assert(t, errors.Is(err, ErrDoctorFailed))
	assert.Equal(t, line(t, lines, "permission pods delete"),
		"FAIL  permission pods delete: not granted in namespace default; fix: grant delete on pods in namespace default to k8sdrv's account (examples/rbac.yaml)")
	assert.Assert(t, is.Contains(line(t, lines, "permission nodes list"), "ok    permission nodes list: not granted cluster-wide; optional: "))
	assert.Assert(t, is.Contains(line(t, lines, "permission secrets get"), "ok    permission secrets get: not granted in namespace default; not needed while resource_availability_check_max_attempts is 0"))

	d.cfg.ResourceAvailabilityCheckMaxAttempts = 3
	lines, _ = d.doctor(t, DoctorOptions{})
	assert.Assert(t, is.Contains(line(t, lines, "permission secrets get"), "FAIL  permission secrets get: not granted in namespace default; for resource_availability_check_max_attempts; fix: grant get on secrets"))
}

// TestDoctorNamesAMissingPullSecret: the service account and pull secrets
// the configuration names must exist.
func TestDoctorNamesAMissingPullSecret(t *testing.T) {
	d := newDoctor(t)
	d.cfg.ImagePullSecrets = []string{"regcred"}
	d.cfg.ServiceAccount = "ci"
	_, err := d.client.CoreV1().ServiceAccounts("default").Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	lines, err := d.doctor(t, DoctorOptions{})
	assert.Assert(t, errors.Is(err, ErrDoctorFailed))
	assert.Equal(t, line(t, lines, "service account ci"), "ok    service account ci: exists in namespace default")
	assert.Equal(t, line(t, lines, "image pull secret regcred"),
		"FAIL  image pull secret regcred: does not exist in namespace default; fix: create it (kubectl create secret docker-registry regcred -n default ...), or remove it from image_pull_secrets")
}

// TestDoctorComparesTheNodesWithTheHelperImage: a helper image for one
// architecture fails where job pods may land on nodes of another; a
// node_selector that keeps them off those nodes passes.
func TestDoctorComparesTheNodesWithTheHelperImage(t *testing.T) {
	d := newDoctor(t)
	d.addNode(t, "node-2", "arm64")
	d.cfg.HelperImage = "registry.example.com/gitlab-runner-helper:x86_64-v17.9.0"
	lines, err := d.doctor(t, DoctorOptions{})
	assert.Assert(t, errors.Is(err, ErrDoctorFailed))
	assert.Equal(t, line(t, lines, "node architecture"),
		`FAIL  node architecture: the helper image is for amd64, but job pods may run on amd64 (1 node), arm64 (1 node) (nodes node-2); fix: set node_selector "kubernetes.io/arch" = "amd64", or a helper_image for the other architectures`)

	d.cfg.NodeSelector = map[string]string{"kubernetes.io/arch": "amd64"}
	lines, err = d.doctor(t, DoctorOptions{})
	assert.NilError(t, err)
	assert.Equal(t, line(t, lines, "node architecture"), "ok    node architecture: the helper image is for amd64, as every node for job pods: amd64 (1 node)")
}

// TestDoctorPullCheck: a probe pod per image, labelled as k8sdrv's pods
// (gc finds them) and deleted afterwards.
func TestDoctorPullCheck(t *testing.T) {
	d := newDoctor(t)
	d.setStatusWhenCreated(t, running("probe"))
	var created []*corev1.Pod
	d.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if ca, ok := action.(k8stesting.CreateActionImpl); ok && len(ca.CreateOptions.DryRun) == 0 {
			created = append(created, action.(k8stesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy())
		}
		return false, nil, nil
	})
	lines, err := d.doctor(t, DoctorOptions{PullCheck: true, Runner: "tok"})
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, is.Contains(line(t, lines, "pull helper image "+d.cfg.HelperImage), "ok    "))
	assert.Assert(t, is.Contains(line(t, lines, "pull default image "+d.cfg.Image), "ok    "))
	assert.Equal(t, len(created), 2)
	for _, pod := range created {
		assert.Equal(t, pod.Labels["app.kubernetes.io/managed-by"], "k8sdrv")
		assert.Equal(t, pod.Labels["k8sdrv.io/runner"], "tok")
		assert.Equal(t, *pod.Spec.ActiveDeadlineSeconds, int64(d.cfg.PollTimeout+1))
		assert.Equal(t, len(pod.Spec.Containers), 1)
	}
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// TestDoctorJSON: --output json is an array of {name, ok, detail, fix}.
func TestDoctorJSON(t *testing.T) {
	d := newDoctor(t, "pods create")
	var out strings.Builder
	d.Stdout = &out
	err := d.Doctor(context.Background(), d.cfg, nil, DoctorOptions{JSON: true})
	assert.Assert(t, errors.Is(err, ErrDoctorFailed))
	var checks []map[string]any
	assert.NilError(t, json.Unmarshal([]byte(out.String()), &checks))
	found := false
	for _, c := range checks {
		assert.Assert(t, c["name"] != "" && c["detail"] != nil, "%v", c)
		if c["name"] == "permission pods create" {
			found = true
			assert.Equal(t, c["ok"], false)
			assert.Assert(t, is.Contains(c["fix"], "grant create on pods"))
		}
	}
	assert.Assert(t, found)
}

// TestDoctorPermissionNeedsNameRealPermissions: every permission doctor
// knows more about is one the code uses.
func TestDoctorPermissionNeedsNameRealPermissions(t *testing.T) {
	known := map[string]bool{}
	for _, p := range permissions {
		known[p.resource+" "+p.verb] = true
	}
	for key := range permissionNeeds {
		assert.Assert(t, known[key], "permissionNeeds has %q, which no kubeAPI comment names", key)
	}
}

// TestDoctorUnderNamespacePerJob: the namespaced permissions are asked
// for every namespace (a job's namespace does not exist yet), the
// namespace permissions become needed, and the job's namespace, not a
// pod, is dry-run.
func TestDoctorUnderNamespacePerJob(t *testing.T) {
	d := newDoctor(t, "namespaces create")
	d.cfg.NamespacePerJob, d.cfg.PodDisruptionBudget = true, true
	var namespaces []string
	d.client.PrependReactor("create", "selfsubjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		namespaces = append(namespaces, review.Spec.ResourceAttributes.Namespace)
		return false, nil, nil
	})
	var dryRun bool
	d.client.PrependReactor("create", "namespaces", func(action k8stesting.Action) (bool, runtime.Object, error) {
		create := action.(k8stesting.CreateActionImpl)
		dryRun = len(create.CreateOptions.DryRun) > 0
		return dryRun, create.Object, nil
	})
	lines, err := d.doctor(t, DoctorOptions{})
	assert.Assert(t, errors.Is(err, ErrDoctorFailed))
	assert.DeepEqual(t, slices.Compact(namespaces), []string{""})
	assert.Check(t, is.Contains(line(t, lines, "permission namespaces create"),
		"FAIL  permission namespaces create: not granted cluster-wide; for namespace_per_job"))
	assert.Check(t, is.Contains(line(t, lines, "permission pods create"),
		"ok    permission pods create: granted in every namespace (namespace_per_job)"))
	assert.Check(t, is.Contains(line(t, lines, "permission policy/poddisruptionbudgets create"),
		"ok    permission policy/poddisruptionbudgets create: granted in every namespace (namespace_per_job); for pod_disruption_budget"))
	assert.Check(t, is.Contains(line(t, lines, "job namespace"), "ok    job namespace: the API server would create namespace ci-job-0"))
	assert.Check(t, dryRun)
}
