package driver

import (
	"context"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

func TestAllInsufficient(t *testing.T) {
	for msg, want := range map[string]bool{
		"0/3 nodes are available: 3 Insufficient cpu.":                                                                                      true,
		"0/3 nodes are available: 2 Insufficient cpu, 1 Insufficient memory.":                                                               true,
		"0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.": true,
		"0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.":                                 false,
		"0/2 nodes are available: 2 Too many pods.":                                                                                         false,
		"0/0 nodes are available":             false,
		"no nodes available to schedule pods": false,
	} {
		assert.Equal(t, allInsufficient(msg), want, msg)
	}
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	req := func(cpu, mem string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}}
		if cpu != "" {
			r.Requests[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			r.Requests[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return r
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Resources: req("1", "1Gi")}, {Resources: req("500m", "")}},
		InitContainers: []corev1.Container{
			{Resources: req("4", "")},                           // alone, before the others: the largest cpu
			{Resources: req("", "1Gi"), RestartPolicy: &always}, // a sidecar runs beside them
		},
		Overhead: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
	}}
	assert.Equal(t, describe(podRequests(pod)), "cpu 4, memory 2176Mi")
	pod.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("6")}}
	assert.Equal(t, describe(podRequests(pod)), "cpu 6, memory 2176Mi")
}

// bigPod is an unschedulable pod requesting cpu.
func bigPod(cpu, message string) *corev1.Pod {
	p := testPod(corev1.PodPending)
	p.UID = "uid-p"
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: message}}
	return p
}

func addNode(t *testing.T, d *testDriver, name, cpu, memory string) {
	t.Helper()
	_, err := d.client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
}

func addPodEvent(t *testing.T, d *testDriver, pod *corev1.Pod, reason, message string, age time.Duration) {
	t.Helper()
	_, err := d.client.CoreV1().Events(pod.Namespace).Create(context.Background(), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: pod.Name + "." + reason, Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Reason:         reason, Message: message, Type: corev1.EventTypeNormal,
		Source:        corev1.EventSource{Component: "cluster-autoscaler"},
		LastTimestamp: metav1.NewTime(time.Now().Add(-age)),
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
}

func TestSchedulingCheck(t *testing.T) {
	insufficient := "0/2 nodes are available: 2 Insufficient cpu."
	mixed := "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {gpu: }."
	for _, tc := range []struct {
		name   string
		pod    *corev1.Pod
		setup  func(t *testing.T, d *testDriver, pod *corev1.Pod)
		err    string // empty: keep waiting
		logged string
	}{
		{name: "larger than every node", pod: bigPod("40", insufficient),
			err: "pod ci/p fits no node of the cluster even when empty: it requests cpu 40, and the largest node (big) has 32 allocatable (hint: lower the job's requests, or add larger nodes) (0/2 nodes are available: 2 Insufficient cpu.)"},
		{name: "fits an empty node: the nodes are busy", pod: bigPod("20", insufficient)},
		{name: "another reason than room", pod: bigPod("40", mixed)},
		{name: "the nodes cannot be listed", pod: bigPod("40", insufficient), setup: func(t *testing.T, d *testDriver, _ *corev1.Pod) {
			d.client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", nil)
			})
		}},
		{name: "an autoscaler adds a node", pod: bigPod("40", insufficient), setup: func(t *testing.T, d *testDriver, pod *corev1.Pod) {
			addPodEvent(t, d, pod, reasonNotTriggerScaleUp, "pod didn't trigger scale-up: 1 max node group size reached", time.Minute)
			addPodEvent(t, d, pod, reasonTriggeredScaleUp, "pod triggered scale-up: [{pool-xl 0->1 (max: 3)}]", time.Second)
		}, logged: "The cluster autoscaler is adding a node for pod ci/p: pod triggered scale-up: [{pool-xl 0->1 (max: 3)}]"},
		{name: "the autoscaler adds none", pod: bigPod("40", mixed), setup: func(t *testing.T, d *testDriver, pod *corev1.Pod) {
			addPodEvent(t, d, pod, reasonNotTriggerScaleUp, "pod didn't trigger scale-up: 2 Insufficient cpu", time.Second)
		}, err: "it requests cpu 40, and the largest node (big) has 32 allocatable (hint: lower the job's requests, or add larger nodes); the cluster autoscaler adds no node: pod didn't trigger scale-up: 2 Insufficient cpu"},
		{name: "the autoscaler adds none, but the pod fits", pod: bigPod("20", mixed), setup: func(t *testing.T, d *testDriver, pod *corev1.Pod) {
			addPodEvent(t, d, pod, reasonNotTriggerScaleUp, "pod didn't trigger scale-up", time.Second)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDriver(t)
			addNode(t, d, "small", "4", "16Gi")
			addNode(t, d, "big", "32", "64Gi")
			if tc.setup != nil {
				tc.setup(t, d, tc.pod)
			}
			s := &schedulingCheck{cluster: fakeCluster{Clientset: d.client, t: t}, log: d.Log}
			err := s.check(context.Background(), tc.pod)
			if tc.err == "" {
				assert.NilError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
			// The next check of the same state compares nothing again and
			// prints nothing new.
			assert.NilError(t, s.check(context.Background(), tc.pod))
			if tc.logged != "" {
				assert.Equal(t, strings.Count(d.stderr.String(), tc.logged), 1, d.stderr.String())
			}
		})
	}
}

// TestPrepareFailsAtOnceWhenThePodFitsNoNode: the watch's first
// Unschedulable status ends prepare, long before poll_timeout, and the
// pod is deleted.
func TestPrepareFailsAtOnceWhenThePodFitsNoNode(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.PollTimeout = 30
	d.cfg.CPURequest = "4000"
	addNode(t, d, "kwok-node-0", "32", "256Gi")
	d.setStatusWhenCreated(t)
	d.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pod := action.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient cpu."}}
		return false, nil, nil
	})
	start := time.Now()
	err := d.prepare(context.Background())
	assert.Assert(t, time.Since(start) < 5*time.Second)
	assert.ErrorContains(t, err, "fits no node of the cluster even when empty: it requests cpu 4k, and the largest node (kwok-node-0) has 32 allocatable")
	assert.ErrorContains(t, err, "(0/1 nodes are available: 1 Insufficient cpu.)")
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}
