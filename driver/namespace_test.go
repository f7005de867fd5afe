package driver

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8sdrv/k8sdrv/config"
)

// jobLabels are the labels of a job of the test driver's runner.
func jobLabels(jobID string) map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": "k8sdrv", "k8sdrv.io/job-id": jobID,
		"k8sdrv.io/project-id": "7", "k8sdrv.io/runner": "tok", "k8sdrv.io/concurrent-id": "0"}
}

func (d *testDriver) createNamespace(t *testing.T, name string, labels map[string]string, created time.Time) {
	t.Helper()
	_, err := d.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, UID: types.UID("uid-" + name), Labels: labels, CreationTimestamp: metav1.NewTime(created),
	}}, metav1.CreateOptions{})
	assert.NilError(t, err)
}

func (d *testDriver) namespaceNames(t *testing.T) []string {
	t.Helper()
	list, err := d.client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	assert.NilError(t, err)
	var names []string
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	sort.Strings(names)
	return names
}

// TestNamespacePerJobLifecycle: prepare creates ci-job-<id> with the
// job's labels, records it, creates the pod in it; cleanup deletes it.
func TestNamespacePerJobLifecycle(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.NamespacePerJob = true
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))

	ns, err := d.client.CoreV1().Namespaces().Get(context.Background(), "ci-job-42", metav1.GetOptions{})
	assert.NilError(t, err)
	assert.DeepEqual(t, ns.Labels, jobLabels("42"))
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	assert.DeepEqual(t, state.JobNamespace, &NamespaceRef{Name: "ci-job-42", UID: string(ns.UID)})
	assert.Equal(t, state.Namespace, "ci-job-42")
	assert.Check(t, is.Contains(d.stderr.String(), "Created namespace ci-job-42"))

	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.namespaceNames(t), []string(nil))
}

// TestNamespacePerJobRefusesAForeignNamespace: a namespace of that name
// without this job's labels is neither used nor deleted.
func TestNamespacePerJobRefusesAForeignNamespace(t *testing.T) {
	for name, labels := range map[string]map[string]string{
		"unlabelled":    nil,
		"another job's": jobLabels("43"),
		"not k8sdrv's":  {"k8sdrv.io/job-id": "42"},
	} {
		t.Run(name, func(t *testing.T) {
			d := newTestDriver(t)
			d.cfg.NamespacePerJob = true
			d.createNamespace(t, "ci-job-42", labels, time.Now())
			err := d.prepare(context.Background())
			assert.Error(t, err, "namespace ci-job-42 exists and is not this job's (it lacks k8sdrv's labels of job 42): k8sdrv neither uses nor deletes it; delete it, or let another job ID run")
			assert.DeepEqual(t, d.podNames(t), []string(nil))
			assert.NilError(t, d.cleanup())
			assert.DeepEqual(t, d.namespaceNames(t), []string{"ci-job-42"})
		})
	}
}

// TestNamespacePerJobCleanupWithoutState finds the job's namespace by its
// labels, and only it.
func TestNamespacePerJobCleanupWithoutState(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.NamespacePerJob = true
	d.createNamespace(t, "ci-job-42", jobLabels("42"), time.Now())
	d.createNamespace(t, "ci-job-43", jobLabels("43"), time.Now())
	d.createNamespace(t, "team-a", map[string]string{"k8sdrv.io/job-id": "42"}, time.Now())
	_, err := d.client.CoreV1().Pods("ci-job-42").Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "job-pod", Namespace: "ci-job-42", Labels: jobLabels("42")},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.namespaceNames(t), []string{"ci-job-43", "team-a"})
	assert.DeepEqual(t, d.podNames(t), []string(nil)) // deleted with its grace period, not left to the namespace controller
}

// TestNamespacePerJobDryRun shows the namespace before the pod.
func TestNamespacePerJobDryRun(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.NamespacePerJob, d.cfg.PodDisruptionBudget = true, true
	d.Connect = func(*config.Config) (Cluster, error) { t.Fatal("dry run connected"); return nil, nil }
	var out bytes.Buffer
	d.Stdout = &out
	assert.NilError(t, d.dryRun())
	docs := strings.Split(out.String(), "---\n")
	assert.Equal(t, len(docs), 3, out.String())
	assert.Check(t, is.Contains(docs[0], "kind: Namespace\n"))
	assert.Check(t, is.Contains(docs[0], "name: ci-job-42\n"))
	assert.Check(t, is.Contains(docs[1], "kind: Pod\n"))
	assert.Check(t, is.Contains(docs[1], "namespace: ci-job-42\n"))
	assert.Check(t, is.Contains(docs[2], "kind: PodDisruptionBudget\n"))
}

// TestPrepareCreatesTheDisruptionBudget: owned by the pod, selecting the
// job's labels, named after the pod.
func TestPrepareCreatesTheDisruptionBudget(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.PodDisruptionBudget = true
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	pdb, err := d.client.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), state.Pod+"-pdb", metav1.GetOptions{})
	assert.NilError(t, err)
	assert.DeepEqual(t, pdb.OwnerReferences, []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: state.Pod, UID: types.UID(state.UID)}})
	assert.DeepEqual(t, pdb.Spec.Selector.MatchLabels, jobLabels("42"))
	assert.Equal(t, pdb.Spec.MinAvailable.IntValue(), 1)
}

// TestGCCollectsJobNamespaces: a namespace whose pods are over, or that
// holds none past --grace, is collected; one whose job runs, a young
// empty one, another runner's and an unlabelled one are not.
func TestGCCollectsJobNamespaces(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.NamespacePerJob = true
	now := time.Now()
	other := jobLabels("4")
	other["k8sdrv.io/runner"] = "other"
	for name, labels := range map[string]map[string]string{
		"ci-job-1": jobLabels("1"), "ci-job-2": jobLabels("2"), "ci-job-3": jobLabels("3"), "ci-job-4": other, "ci-job-5": nil,
	} {
		d.createNamespace(t, name, labels, now.Add(-time.Hour))
	}
	d.createNamespace(t, "ci-job-6", jobLabels("6"), now)
	for ns, phase := range map[string]corev1.PodPhase{"ci-job-1": corev1.PodFailed, "ci-job-2": corev1.PodRunning} {
		_, err := d.client.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "job-pod", Namespace: ns, Labels: jobLabels(strings.TrimPrefix(ns, "ci-job-"))},
			Status:     corev1.PodStatus{Phase: phase},
		}, metav1.CreateOptions{})
		assert.NilError(t, err)
	}
	var out bytes.Buffer
	d.Stdout = &out
	opts := GCOptions{Runner: "tok", Grace: time.Minute, Now: func() time.Time { return now }}
	assert.NilError(t, d.GC(context.Background(), d.cfg, opts))
	for _, want := range []string{
		"would delete namespace ci-job-1 (job 1): pod job-pod terminated (Failed)\n",
		"would delete namespace ci-job-3 (job 3): holds no pod of its job, 1h0m0s old\n",
		"gc: job namespaces (namespace_per_job): would delete 2\n",
	} {
		assert.Check(t, is.Contains(out.String(), want))
	}
	opts.Delete = true
	assert.NilError(t, d.GC(context.Background(), d.cfg, opts))
	assert.DeepEqual(t, d.namespaceNames(t), []string{"ci-job-2", "ci-job-4", "ci-job-5", "ci-job-6"})
}

// TestNamespacePerJobWaitsForItsTerminatingNamespace: the namespace of an
// earlier prepare of this job, still terminating after its cleanup, is
// waited for and made again.
func TestNamespacePerJobWaitsForItsTerminatingNamespace(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.NamespacePerJob = true
	gone := metav1.Now()
	_, err := d.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: "ci-job-42", UID: "uid-old", Labels: jobLabels("42"), DeletionTimestamp: &gone, Finalizers: []string{"kubernetes"},
	}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	d.client.PrependWatchReactor("namespaces", func(k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFake()
		go func() {
			old, _ := d.client.CoreV1().Namespaces().Get(context.Background(), "ci-job-42", metav1.GetOptions{})
			assert.Check(t, d.client.CoreV1().Namespaces().Delete(context.Background(), "ci-job-42", metav1.DeleteOptions{}))
			w.Delete(old)
		}()
		return true, w, nil
	})
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
	assert.Check(t, is.Contains(d.stderr.String(), "Namespace ci-job-42 of an earlier prepare of this job is terminating; waiting for it to go"))
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	assert.Assert(t, state.JobNamespace.UID != "uid-old")
	ns, err := d.client.CoreV1().Namespaces().Get(context.Background(), "ci-job-42", metav1.GetOptions{})
	assert.NilError(t, err)
	assert.Assert(t, ns.DeletionTimestamp == nil)
}

// TestNamespacePerJobCleanupOfAStateWithoutPod: prepare killed after
// recording its namespace but before recording its pod; cleanup deletes
// the job's pods there too, not only the namespace.
func TestNamespacePerJobCleanupOfAStateWithoutPod(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.NamespacePerJob = true
	d.createNamespace(t, "ci-job-42", jobLabels("42"), time.Now())
	_, err := d.client.CoreV1().Pods("ci-job-42").Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unrecorded", Namespace: "ci-job-42", Labels: jobLabels("42")},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	id := d.identity()
	assert.NilError(t, saveState(d.Env.TmpDir, &State{Job: &id, JobNamespace: &NamespaceRef{Name: "ci-job-42", UID: "uid-ci-job-42"}}))
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string(nil))
	assert.DeepEqual(t, d.namespaceNames(t), []string(nil))
}
