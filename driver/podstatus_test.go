package driver

import (
	"errors"
	"testing"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testPod is a pod of two containers (build, helper) in the given phase
// with the given container statuses.
func testPod(phase corev1.PodPhase, statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ci"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "build", Image: "alpine:3"}, {Name: "helper", Image: "helper:1"},
		}},
		Status: corev1.PodStatus{Phase: phase, ContainerStatuses: statuses},
	}
}

func terminated(name string, code int32, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}}
}

func TestPodReady(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		ready     bool
		err       string
		pullError bool
	}{
		{name: "no statuses yet", pod: testPod(corev1.PodPending)},
		{name: "one of two running", pod: testPod(corev1.PodPending, running("build"), waiting("helper", "ContainerCreating"))},
		{name: "all running", pod: testPod(corev1.PodRunning, running("build"), running("helper")), ready: true},
		{name: "image pull fails", pod: testPod(corev1.PodPending, waiting("build", "ErrImagePull"), running("helper")),
			err: `container build (image "alpine:3") cannot start: ErrImagePull: details`, pullError: true},
		{name: "image never pulled", pod: testPod(corev1.PodPending, running("build"), waiting("helper", "ErrImageNeverPull")),
			err: `container helper (image "helper:1") cannot start: ErrImageNeverPull: details`, pullError: true},
		{name: "bad config is not a pull error", pod: testPod(corev1.PodPending, waiting("build", "CreateContainerConfigError")),
			err: `container build (image "alpine:3") cannot start: CreateContainerConfigError: details`},
		{name: "container exited", pod: testPod(corev1.PodRunning, terminated("build", 127, "Error"), running("helper")),
			err: `container build (image "alpine:3") exited with code 127 (Error) before the job could run`},
		{name: "pod failed", pod: func() *corev1.Pod {
			p := testPod(corev1.PodFailed)
			p.Status.Message = "Pod was active on the node longer than the specified deadline"
			return p
		}(), err: "pod p ended (Failed) before the job could run: Pod was active on the node longer than the specified deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready, err := podReady(tc.pod)
			assert.Equal(t, ready, tc.ready)
			if tc.err == "" {
				assert.NilError(t, err)
				return
			}
			assert.Error(t, err, tc.err)
			var pull *pullError
			assert.Equal(t, errors.As(err, &pull), tc.pullError)
		})
	}
}

func TestPodStatus(t *testing.T) {
	unschedulable := testPod(corev1.PodPending)
	unschedulable.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
		Message: "0/3 nodes are available: 3 Insufficient cpu.",
	}}
	for _, tc := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{testPod(corev1.PodPending), "status is Pending (not yet taken by scheduler default-scheduler)"},
		{func() *corev1.Pod {
			p := testPod(corev1.PodPending)
			p.Spec.SchedulerName = "batch"
			return p
		}(), "status is Pending (not yet taken by scheduler batch)"},
		{func() *corev1.Pod {
			p := testPod(corev1.PodPending)
			p.Spec.NodeName = "node-1" // bound by hand: no scheduler involved
			return p
		}(), "status is Pending"},
		{unschedulable, "status is Pending (Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.)"},
		{testPod(corev1.PodPending, waiting("build", "ContainerCreating"), waiting("helper", "PodInitializing")),
			"status is Pending (build ContainerCreating, helper PodInitializing)"},
		{testPod(corev1.PodRunning, running("build"), running("helper")), "status is Running"},
	} {
		assert.Equal(t, podStatus(tc.pod), tc.want)
	}
	assert.Equal(t, progress(unschedulable), "Waiting for pod ci/p to be running, status is Pending (Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.)")
}
