package driver

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gcPods creates, in namespace default, pods of every kind gc must tell
// apart, at now.
func gcPods(t *testing.T, d *testDriver, now time.Time) {
	t.Helper()
	ours := func(runner string) map[string]string {
		return map[string]string{"app.kubernetes.io/managed-by": "k8sdrv", "k8sdrv.io/runner": runner, "k8sdrv.io/job-id": "9"}
	}
	deadline := int64(3600)
	started := func(ago time.Duration) *metav1.Time { s := metav1.NewTime(now.Add(-ago)); return &s }
	pods := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "failed", Labels: ours("tok")}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "succeeded", Labels: ours("tok")}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
		{ObjectMeta: metav1.ObjectMeta{Name: "past-deadline", Labels: ours("tok")}, Spec: corev1.PodSpec{ActiveDeadlineSeconds: &deadline},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: started(2 * time.Hour)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "running", Labels: ours("tok"), CreationTimestamp: *started(30 * time.Minute)},
			Spec: corev1.PodSpec{ActiveDeadlineSeconds: &deadline}, Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: started(30 * time.Minute)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "old-without-deadline", Labels: ours("tok"), CreationTimestamp: *started(50 * time.Hour)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: started(50 * time.Hour)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-runner-failed", Labels: ours("other")}, Status: corev1.PodStatus{Phase: corev1.PodFailed}},
		{ObjectMeta: metav1.ObjectMeta{Name: "not-k8sdrv-failed", Labels: map[string]string{"k8sdrv.io/runner": "tok"}}, Status: corev1.PodStatus{Phase: corev1.PodFailed}},
	}
	for _, p := range pods {
		p.Namespace = "default"
		_, err := d.client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{})
		assert.NilError(t, err)
	}
}

func TestGCListsWithoutDeletingByDefault(t *testing.T) {
	d := newTestDriver(t)
	now := time.Now()
	gcPods(t, d, now)
	var out bytes.Buffer
	d.Stdout = &out
	assert.NilError(t, d.GC(context.Background(), d.cfg, GCOptions{Runner: "tok", Grace: time.Minute, Now: func() time.Time { return now }}))
	assert.Equal(t, len(d.podNames(t)), 7, "a dry run deletes nothing")
	for _, want := range []string{
		"would delete pod default/failed (job 9): terminated (Failed: DeadlineExceeded)\n",
		"would delete pod default/succeeded (job 9): terminated (Succeeded)\n",
		"would delete pod default/past-deadline (job 9): past its activeDeadlineSeconds (3600 s) by 1h0m0s\n",
		"gc: namespace default: would delete 3 pod(s)\n",
	} {
		assert.Assert(t, strings.Contains(out.String(), want), "%q not in:\n%s", want, out.String())
	}
}

func TestGCDeletesOnlyThisRunnersPodsWhoseJobIsOver(t *testing.T) {
	d := newTestDriver(t)
	now := time.Now()
	gcPods(t, d, now)
	assert.NilError(t, d.GC(context.Background(), d.cfg, GCOptions{Runner: "tok", Delete: true, MaxAge: 48 * time.Hour, Now: func() time.Time { return now }}))
	left := d.podNames(t)
	sort.Strings(left)
	assert.DeepEqual(t, left, []string{"not-k8sdrv-failed", "other-runner-failed", "running"})

	assert.NilError(t, d.GC(context.Background(), d.cfg, GCOptions{AllRunners: true, Delete: true, Now: func() time.Time { return now }}))
	left = d.podNames(t)
	sort.Strings(left)
	assert.DeepEqual(t, left, []string{"not-k8sdrv-failed", "running"}) // only pods with k8sdrv's labels, ever
}

func TestGCNeedsARunnerOrAllRunners(t *testing.T) {
	d := newTestDriver(t)
	err := d.GC(context.Background(), d.cfg, GCOptions{Delete: true, Now: time.Now})
	assert.ErrorContains(t, err, "give --runner <short token>")
}
