package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// quotaNamespace creates a fresh namespace whose ResourceQuota allows
// pods pods, waits until the quota controller has counted it and the
// namespace's default service account exists, and deletes the namespace
// after the test.
func quotaNamespace(t *testing.T, pods int64) string {
	t.Helper()
	skipShort(t)
	ctx := context.Background()
	name := fmt.Sprintf("k8sdrv-quota-%d", time.Now().UnixNano()%1e9)
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	t.Cleanup(func() {
		assert.Check(t, kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}))
	})
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "ci-pods"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(pods, resource.DecimalSI)}},
	}
	_, err = kube.CoreV1().ResourceQuotas(name).Create(ctx, quota, metav1.CreateOptions{})
	assert.NilError(t, err)
	waitFor(t, 30*time.Second, func() bool {
		q, err := kube.CoreV1().ResourceQuotas(name).Get(ctx, "ci-pods", metav1.GetOptions{})
		_, saErr := kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil && len(q.Status.Hard) > 0 && saErr == nil
	})
	return name
}

// TestIntegrationQuotaWait: in a namespace whose quota allows one pod,
// job A holds it; job B's prepare waits, saying which quota is used up,
// and starts (and runs) as soon as A's cleanup deletes A's pod.
func TestIntegrationQuotaWait(t *testing.T) {
	ns := quotaNamespace(t, 1)
	config := fmt.Sprintf("namespace = %q\n", ns)
	a := newJob(t, jobOptions{config: config})
	b := newJob(t, jobOptions{config: config, pollTimeout: 60})
	r := a.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)

	cmd := b.command(context.Background(), "prepare")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	assert.NilError(t, cmd.Start())
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(stderr.String(), "Waiting for quota") })
	time.Sleep(2 * time.Second) // several tries, still one line
	assert.Equal(t, len(b.pods()), 0)
	released := time.Now()
	r = a.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.NilError(t, cmd.Wait(), stderr.String())
	t.Logf("B started %s after A's cleanup began", time.Since(released).Round(time.Millisecond))
	log := stderr.String()
	assert.Equal(t, strings.Count(log, "Waiting for quota"), 1, log)
	assert.Check(t, is.Contains(log, "Waiting for quota ci-pods in namespace "+ns+" (pods: 1 of 1 used, 1 requested); trying again until quota_wait_timeout (1m0s) passes"))
	assert.Check(t, !strings.Contains(log, "WARNING"), log)

	out := b.run("build_script", "echo B runs\n")
	assert.Equal(t, out.code, 0, out.stderr)
	assert.Equal(t, out.stdout, "B runs\n")
	assert.Equal(t, b.call("cleanup").code, 0)
}

// TestIntegrationUnschedulableWaitsForRoom: a pod that would fit the
// node were it empty waits while another pod holds the node's cpu; a
// cluster autoscaler's TriggeredScaleUp event (made by hand here) is
// reported; once the other pod is gone, the job's pod starts.
func TestIntegrationUnschedulableWaitsForRoom(t *testing.T) {
	skipShort(t)
	requireKWOK(t, "its one node has 32 cpus to fill")
	ctx := context.Background()
	filler := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "k8sdrv-e2e-filler-", Namespace: "default"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64),
			Containers: []corev1.Container{{Name: "filler", Image: "filler:1", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("30")}}}},
		},
	}
	filler, err := kube.CoreV1().Pods("default").Create(ctx, filler, metav1.CreateOptions{})
	assert.NilError(t, err)
	deleteFiller := func() {
		_ = kube.CoreV1().Pods("default").Delete(context.Background(), filler.Name, metav1.DeleteOptions{})
	}
	t.Cleanup(deleteFiller)
	waitFor(t, 20*time.Second, func() bool {
		p, err := kube.CoreV1().Pods("default").Get(ctx, filler.Name, metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != ""
	})

	j := newJob(t, jobOptions{pollTimeout: 60, config: "cpu_request = \"4\"\npoll_interval = 1\n"})
	cmd := j.command(ctx, "prepare")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	assert.NilError(t, cmd.Start())
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(stderr.String(), "Insufficient cpu") })
	pods := j.pods()
	assert.Equal(t, len(pods), 1)
	name := strings.SplitN(pods[0], "/", 2)[1]
	pod, err := kube.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	assert.NilError(t, err)
	_, err = kube.CoreV1().Events("default").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: name + ".", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name, UID: pod.UID},
		Reason:         "TriggeredScaleUp", Message: "pod triggered scale-up: [{pool-e2e 1->2 (max: 3)}]",
		Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "cluster-autoscaler"},
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1,
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(stderr.String(), "The cluster autoscaler is adding a node") })

	deleteFiller()
	assert.NilError(t, cmd.Wait(), stderr.String())
	log := stderr.String()
	assert.Check(t, is.Contains(log, "The cluster autoscaler is adding a node for pod default/"+name+": pod triggered scale-up: [{pool-e2e 1->2 (max: 3)}]"))
	assert.Equal(t, strings.Count(log, "The cluster autoscaler is adding a node"), 1, log)
	assert.Equal(t, j.call("cleanup").code, 0)
}
