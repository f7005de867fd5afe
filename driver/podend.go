package driver

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// podEnd says, in one line, why the job's pod or the stage's container
// ended before the job was done, as the pod's status tells it. Most are
// system failures, which GitLab's `retry: when: runner_system_failure`
// retries; the job's own doing is a build failure: its build container
// out of memory while it runs the user's script (code 137), or its
// timeout running out (activeDeadlineSeconds).
type podEnd struct {
	msg   string
	build bool
	code  int // the exit code to report for a build failure; 0: none
}

func (e *podEnd) Error() string { return e.msg }

// explainEnd returns why the pod, or the container the stage runs in
// ("" during prepare), ended abnormally, or nil while nothing has.
func explainEnd(pod *corev1.Pod, container string) *podEnd {
	if end := podLevelEnd(pod); end != nil {
		return end
	}
	name := pod.Namespace + "/" + pod.Name
	for _, cs := range pod.Status.ContainerStatuses {
		if container != "" && cs.Name != container {
			continue
		}
		if end := containerEnd(pod, cs, container == podbuilder.BuildContainer); end != nil {
			return end
		}
	}
	switch {
	case pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded:
		return &podEnd{msg: fmt.Sprintf("pod %s ended (%s): %s", name, pod.Status.Phase, joinNonEmpty(pod.Status.Reason, pod.Status.Message))}
	case pod.DeletionTimestamp != nil && container != "":
		return &podEnd{msg: fmt.Sprintf("pod %s is being deleted while the stage runs", name)}
	}
	return nil
}

// podLevelEnd explains a pod stopped by the cluster as a whole: evicted
// by its node, disrupted (preemption, a node drain, the taint manager,
// the pod garbage collector), or past its activeDeadlineSeconds.
func podLevelEnd(pod *corev1.Pod) *podEnd {
	name := pod.Namespace + "/" + pod.Name
	status := pod.Status
	if status.Reason == "Evicted" {
		return &podEnd{msg: fmt.Sprintf("pod %s was evicted from node %s: %s", name, pod.Spec.NodeName, status.Message)}
	}
	for _, c := range status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return &podEnd{msg: fmt.Sprintf("pod %s is being stopped by the cluster (%s): %s", name, c.Reason, c.Message)}
		}
	}
	if status.Reason == "DeadlineExceeded" {
		return &podEnd{build: true, msg: fmt.Sprintf("the job's timeout ran out: pod %s was stopped at its activeDeadlineSeconds (%s): %s", name, deadline(pod), status.Message)}
	}
	return nil
}

// containerEnd explains a container that terminated or restarted; a
// build container killed for memory while it runs the user's script is
// the job's own failure.
func containerEnd(pod *corev1.Pod, cs corev1.ContainerStatus, userScript bool) *podEnd {
	t, restarted := cs.State.Terminated, false
	if t == nil && cs.RestartCount > 0 {
		t, restarted = cs.LastTerminationState.Terminated, true
		if t == nil {
			return &podEnd{msg: fmt.Sprintf("container %s restarted (%d times)", cs.Name, cs.RestartCount)}
		}
	}
	if t == nil {
		return nil
	}
	what := "container " + cs.Name
	if restarted {
		what = fmt.Sprintf("container %s restarted (%d times): its last run", cs.Name, cs.RestartCount)
	}
	if t.Reason == "OOMKilled" {
		end := &podEnd{msg: fmt.Sprintf("%s was killed for lack of memory (OOMKilled, exit code %d; %s)", what, t.ExitCode, memoryLimit(pod, cs.Name))}
		if userScript {
			end.build, end.code = true, 137 // as the script's own death by the OOM killer reads
		}
		return end
	}
	return &podEnd{msg: fmt.Sprintf("%s terminated: exit code %d, reason %s", what, t.ExitCode, terminatedReason(t))}
}

func memoryLimit(pod *corev1.Pod, container string) string {
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && c.Name == container {
			return "its memory limit is " + q.String()
		}
	}
	if pod.Spec.Resources != nil {
		if q, ok := pod.Spec.Resources.Limits[corev1.ResourceMemory]; ok {
			return "the pod's memory limit is " + q.String()
		}
	}
	return "it has no memory limit: the node ran out"
}

func deadline(pod *corev1.Pod) string {
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		return (time.Duration(*d) * time.Second).String()
	}
	return "unset"
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ": " + b
}

// watchPodEnd watches the job's pod while a stage runs and returns, as
// soon as the pod's status shows it, why the pod or the stage's container
// ended; nil when ctx ends first. A watch that fails is started again: the
// stage's own reconnects deal with an unreachable API server.
func watchPodEnd(ctx context.Context, cluster Cluster, state *State, container string) error {
	pods := cluster.Pods(state.Namespace)
	for ctx.Err() == nil {
		// kubeAPI: pods, watch
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", state.Pod).String()})
		if err != nil {
			retryAfter, _ := kubeapi.RetryAfter(err)
			sleepCtx(ctx, max(time.Second, retryAfter))
			continue
		}
		err = podEndFrom(w, state, container)
		w.Stop()
		if err != nil {
			return err
		}
		// The API server ended the watch: its timeout, or an error event
		// (a watch cache behind etcd under load). Not at once again.
		sleepCtx(ctx, time.Second)
	}
	return nil
}

// podEndFrom reads one watch until it closes (nil) or shows the pod's end.
func podEndFrom(w watch.Interface, state *State, container string) error {
	for ev := range w.ResultChan() {
		pod, ok := ev.Object.(*corev1.Pod)
		switch {
		case !ok || pod.Name != state.Pod:
			continue
		case ev.Type == watch.Deleted || string(pod.UID) != state.UID:
			return fmt.Errorf("pod %s/%s was deleted while the stage ran", state.Namespace, state.Pod)
		}
		if end := explainEnd(pod, container); end != nil {
			return end
		}
	}
	return nil
}

// sleepCtx waits d, or less when ctx ends first; it reports whether it
// waited all of d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
