package driver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
)

func TestExplainEnd(t *testing.T) {
	pod := func(change func(p *corev1.Pod)) *corev1.Pod {
		p := testPod(corev1.PodRunning, running("build"), running("helper"))
		p.Spec.NodeName = "node-1"
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
		change(p)
		return p
	}
	oom := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}
	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		container string
		want      string // empty: nothing ended
		build     bool
		code      int
	}{
		{name: "running", pod: pod(func(*corev1.Pod) {}), container: "build"},
		{name: "evicted", container: "build", pod: pod(func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
		}), want: "pod ci/p was evicted from node node-1: The node was low on resource: memory."},
		{name: "preempted", container: "helper", pod: pod(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "PreemptionByScheduler", Message: "default-scheduler: preempting to accommodate a higher priority pod"}}
		}), want: "pod ci/p is being stopped by the cluster (PreemptionByScheduler): default-scheduler: preempting to accommodate a higher priority pod"},
		{name: "deadline", container: "build", pod: pod(func(p *corev1.Pod) {
			p.Spec.ActiveDeadlineSeconds = new(int64(3601))
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
		}), want: "the job's timeout ran out: pod ci/p was stopped at its activeDeadlineSeconds (1h0m1s): Pod was active on the node longer than the specified deadline", build: true},
		{name: "the script out of memory", container: "build", pod: pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = oom
		}), want: "container build was killed for lack of memory (OOMKilled, exit code 137; its memory limit is 64Mi)", build: true, code: 137},
		{name: "the helper out of memory", container: "helper", pod: pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses[1].State = oom
		}), want: "container helper was killed for lack of memory (OOMKilled, exit code 137; it has no memory limit: the node ran out)"},
		{name: "another container's end is not the stage's", container: "helper", pod: pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = oom
		})},
		{name: "restarted", container: "build", pod: pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].RestartCount = 1
			p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 255, Reason: "Unknown", Message: "node rebooted"}}
		}), want: "container build restarted (1 times): its last run terminated: exit code 255, reason Unknown: node rebooted"},
		{name: "being deleted", container: "build", pod: pod(func(p *corev1.Pod) {
			p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}), want: "pod ci/p is being deleted while the stage runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end := explainEnd(tc.pod, tc.container)
			if tc.want == "" {
				assert.Assert(t, end == nil, end)
				return
			}
			assert.Assert(t, end != nil)
			assert.Equal(t, end.Error(), tc.want)
			assert.Equal(t, end.build, tc.build)
			assert.Equal(t, end.code, tc.code)
		})
	}
}

func TestExitCodeOfAPodEnd(t *testing.T) {
	codeFile := filepath.Join(t.TempDir(), "code")
	env := RunnerEnv{BuildFailureExitCode: 1, SystemFailureExitCode: 2, BuildExitCodeFile: codeFile}
	for _, tc := range []struct {
		end      *podEnd
		want     int
		codeFile string
	}{
		{&podEnd{msg: "pod ci/p was evicted from node n: low memory"}, 2, ""},
		{&podEnd{msg: "container build was killed for lack of memory", build: true, code: 137}, 1, "137\n"},
		{&podEnd{msg: "the job's timeout ran out", build: true}, 1, ""},
	} {
		_ = os.Remove(codeFile)
		var log bytes.Buffer
		err := errors.Join(errors.New("stage build_script in pod ci/p"), tc.end)
		assert.Equal(t, ExitCode(err, env, NewLogger(&log, false)), tc.want)
		assert.Assert(t, bytes.Contains(log.Bytes(), []byte("ERROR: k8sdrv: "+tc.end.msg)), log.String())
		data, _ := os.ReadFile(codeFile)
		assert.Equal(t, string(data), tc.codeFile)
	}
}

// TestWatchPodEnd: the watch during a stage returns the pod's end as soon
// as its status shows one.
func TestWatchPodEnd(t *testing.T) {
	d := newTestDriver(t)
	w := watch.NewFake()
	d.client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) { return true, w, nil })
	state := &State{Namespace: "ci", Pod: "p", UID: "u"}
	p := testPod(corev1.PodRunning, running("build"), running("helper"))
	p.UID = "u"
	go func() {
		w.Add(p.DeepCopy())
		p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "disk pressure"
		w.Modify(p)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := watchPodEnd(ctx, fakeCluster{Clientset: d.client, t: t}, state, "build")
	assert.Error(t, err, "pod ci/p was evicted from node : disk pressure")
}
