package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const namespacePerJob = "namespace_per_job = true\n"

// jobNamespace returns the job's own namespace, or nil once it is gone.
func (j *job) jobNamespace() *corev1.Namespace {
	j.t.Helper()
	ns, err := kube.CoreV1().Namespaces().Get(context.Background(), "ci-job-"+j.id, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	assert.NilError(j.t, err)
	return ns
}

// assertNamespaceDeleted: gone, or terminating (the namespace controller
// empties it first).
func (j *job) assertNamespaceDeleted() {
	j.t.Helper()
	if ns := j.jobNamespace(); ns != nil {
		assert.Assert(j.t, ns.DeletionTimestamp != nil, "namespace %s is not being deleted: %s", ns.Name, ns.Status.Phase)
	}
}

// TestIntegrationNamespacePerJob: the job's namespace ci-job-<id> exists,
// with the job's labels, while the job runs, holds its pod, and is
// deleted by cleanup.
func TestIntegrationNamespacePerJob(t *testing.T) {
	j := newJob(t, jobOptions{config: namespacePerJob})
	assert.Equal(t, j.call("config").code, 0)
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Check(t, is.Contains(r.stderr, "Created namespace ci-job-"+j.id))
	ns := j.jobNamespace()
	assert.Assert(t, ns != nil)
	assert.Equal(t, ns.Labels["app.kubernetes.io/managed-by"], "k8sdrv")
	assert.Equal(t, ns.Labels["k8sdrv.io/job-id"], j.id)
	assert.Equal(t, ns.Labels["k8sdrv.io/runner"], "e2eTok12")
	pods := j.pods()
	assert.Equal(t, len(pods), 1)
	assert.Assert(t, strings.HasPrefix(pods[0], "ci-job-"+j.id+"/"), pods[0])

	r = j.run("build_script", "echo hello from $CI_JOB_ID\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Check(t, is.Contains(r.stdout, "hello from "+j.id))

	r = j.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
	j.assertNamespaceDeleted()
}

// TestIntegrationNamespacePerJobAfterAKill: k8sdrv killed (SIGKILL) during
// prepare once the namespace exists, or a finished prepare whose state
// file is gone: cleanup finds the namespace (by the state, or by its
// labels) and deletes it.
func TestIntegrationNamespacePerJobAfterAKill(t *testing.T) {
	t.Run("killed in prepare", func(t *testing.T) {
		for round := range killRounds {
			j := newJob(t, jobOptions{config: namespacePerJob})
			killWhen(t, j, func() bool { return j.jobNamespace() != nil }, "prepare")
			time.Sleep(300 * time.Millisecond) // a request the killed call had sent may still land
			r := j.call("cleanup")
			assert.Equal(t, r.code, 0, "round %d: %s", round, r.stderr)
			j.assertNamespaceDeleted()
			assert.DeepEqual(t, j.pods(), []string(nil))
		}
	})
	t.Run("no state file", func(t *testing.T) {
		j := newJob(t, jobOptions{config: namespacePerJob})
		r := j.call("prepare")
		assert.Equal(t, r.code, 0, r.stderr)
		assert.NilError(t, os.Remove(filepath.Join(j.tmp, "k8sdrv-state.json")))
		r = j.call("cleanup")
		assert.Equal(t, r.code, 0, r.stderr)
		j.assertNamespaceDeleted()
	})
}

// TestIntegrationNamespacePerJobRefusesAForeignNamespace: a namespace
// named like the job's but not made by k8sdrv for this job fails
// prepare, and cleanup leaves it alone.
func TestIntegrationNamespacePerJobRefusesAForeignNamespace(t *testing.T) {
	j := newJob(t, jobOptions{config: namespacePerJob})
	name := "ci-job-" + j.id
	_, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	r := j.call("prepare")
	assert.Equal(t, r.code, 2, r.stderr)
	assert.Check(t, is.Contains(r.stderr, "namespace "+name+" exists and is not this job's"))
	assert.Equal(t, j.call("cleanup").code, 0)
	ns := j.jobNamespace()
	assert.Assert(t, ns != nil && ns.DeletionTimestamp == nil, "cleanup touched a namespace that is not the job's")
}

// TestIntegrationGCCollectsAJobNamespace: a crashed runner's job
// namespace is listed by gc once its pod is past its deadline, and
// deleted with --delete; a running job's namespace is left alone.
func TestIntegrationGCCollectsAJobNamespace(t *testing.T) {
	runner := "gcns" + strconv.Itoa(os.Getpid())
	over := newJob(t, jobOptions{config: namespacePerJob})
	over.env["CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN"] = runner
	over.env["CUSTOM_ENV_CI_JOB_TIMEOUT"] = "3"
	live := newJob(t, jobOptions{config: namespacePerJob})
	live.env["CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN"] = runner
	for _, j := range []*job{over, live} {
		r := j.call("prepare")
		assert.Equal(t, r.code, 0, r.stderr)
	}
	time.Sleep(5 * time.Second) // past the first job's activeDeadlineSeconds (4 s)
	r := live.call("gc", "--runner", runner, "--grace", "0s")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, is.Contains(r.stdout, "would delete namespace ci-job-"+over.id+" (job "+over.id+"): pod "), r.stdout)
	assert.Assert(t, !strings.Contains(r.stdout, "ci-job-"+live.id), r.stdout)

	r = live.call("gc", "--runner", runner, "--grace", "0s", "--delete")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, is.Contains(r.stdout, "deleted namespace ci-job-"+over.id), r.stdout)
	over.assertNamespaceDeleted()
	assert.Assert(t, live.jobNamespace().DeletionTimestamp == nil)
	assert.Equal(t, live.call("cleanup").code, 0)
	live.assertNamespaceDeleted()
}

// TestIntegrationPodDisruptionBudget: with pod_disruption_budget, the
// job's pod has a budget while the job runs, the eviction API refuses to
// evict it (what a node drain uses), and the budget goes with the pod.
func TestIntegrationPodDisruptionBudget(t *testing.T) {
	j := newJob(t, jobOptions{config: "pod_disruption_budget = true\n"})
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	pods := j.pods()
	assert.Equal(t, len(pods), 1)
	ns, pod, _ := strings.Cut(pods[0], "/")
	pdb, err := kube.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), pod+"-pdb", metav1.GetOptions{})
	assert.NilError(t, err)
	assert.Equal(t, pdb.OwnerReferences[0].Name, pod)
	assert.Equal(t, pdb.Spec.MinAvailable.IntValue(), 1)

	err = kube.CoreV1().Pods(ns).EvictV1(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns}})
	assert.Assert(t, apierrors.IsTooManyRequests(err), "eviction of a job pod with a budget: %v", err)

	r = j.run("build_script", "echo still here\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Check(t, is.Contains(r.stdout, "still here"))
	r = j.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
	// The garbage collector deletes the budget once its owner is gone.
	waitFor(t, time.Minute, func() bool {
		_, err := kube.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), pod+"-pdb", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
