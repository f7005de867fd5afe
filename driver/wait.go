package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// failFastReasons are container waiting reasons that waiting cannot cure.
var failFastReasons = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
}

// pullReasons are the failures another pull policy may cure.
var pullReasons = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true}

// pullError is a container whose image could not be pulled.
type pullError struct{ error }

func (e *pullError) Unwrap() error { return e.error }

// podReady reports whether every container of the pod runs; a non-nil
// error means the pod can never get there.
func podReady(pod *corev1.Pod) (bool, error) {
	if end := podLevelEnd(pod); end != nil {
		return false, end
	}
	switch pod.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		return false, fmt.Errorf("pod %s ended (%s) before the job could run: %s", pod.Name, pod.Status.Phase, pod.Status.Message)
	}
	images := map[string]string{}
	for _, c := range pod.Spec.Containers {
		images[c.Name] = c.Image
	}
	running := 0
	for _, cs := range pod.Status.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Waiting != nil && failFastReasons[cs.State.Waiting.Reason]:
			w := cs.State.Waiting
			err := fmt.Errorf("container %s (image %q) cannot start: %s: %s", cs.Name, images[cs.Name], w.Reason, w.Message)
			if pullReasons[w.Reason] {
				return false, &pullError{err}
			}
			return false, err
		case cs.State.Terminated != nil && podbuilder.IsServiceContainer(cs.Name):
			return false, &serviceExit{container: cs.Name, end: containerEnd(pod, cs, false)}
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			err := fmt.Errorf("container %s (image %q) exited with code %d (%s) before the job could run", cs.Name, images[cs.Name], t.ExitCode, t.Reason)
			if t.Reason == "OOMKilled" {
				err = fmt.Errorf("%w: %s", err, memoryLimit(pod, cs.Name))
			}
			return false, err
		}
	}
	return running == len(pod.Spec.Containers), nil
}

// progress is the one-line summary printed while waiting, when it changes.
func progress(pod *corev1.Pod) string {
	return "Waiting for pod " + pod.Namespace + "/" + pod.Name + " to be running, " + podStatus(pod)
}

// podStatus says where the pod stands: its phase and why it is not running.
func podStatus(pod *corev1.Pod) string {
	var parts []string
	seen := false // by a scheduler: it sets PodScheduled either way
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled {
			continue
		}
		seen = true
		if c.Status == corev1.ConditionFalse && c.Reason != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", c.Reason, c.Message))
		}
	}
	if !seen && pod.Spec.NodeName == "" && len(pod.Status.ContainerStatuses) == 0 && pod.Status.Phase == corev1.PodPending {
		scheduler := pod.Spec.SchedulerName
		if scheduler == "" {
			scheduler = corev1.DefaultSchedulerName
		}
		parts = append(parts, "not yet taken by scheduler "+scheduler)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			parts = append(parts, cs.Name+" "+cs.State.Waiting.Reason)
		}
	}
	status := "status is " + string(pod.Status.Phase)
	if len(parts) > 0 {
		status += " (" + strings.Join(parts, ", ") + ")"
	}
	return status
}

// waitRunning watches the pod until it runs, fails, or timeout passes
// (see waitPod).
func (d *Driver) waitRunning(parent context.Context, cluster Cluster, cfg *config.Config, pod *corev1.Pod, early *earlyWatch, start time.Time, timeout time.Duration) error {
	w, err := d.waitPod(parent, cluster, cfg, pod, early, start, timeout)
	w.stop()
	return err
}

// waitPod watches the pod until it runs, fails, or timeout passes,
// through early's watch when that watched the pod, else through one opened
// from the created pod's resource version. A closed watch is resumed from
// the last resource version seen. While the pod is unschedulable, its
// events are read again every poll_interval for a cluster autoscaler's
// verdict (schedulingCheck). Once the pod runs, the returned waiter keeps
// its watch open (when it had one), so that waiting for the services
// costs no second one; the caller stops it.
func (d *Driver) waitPod(parent context.Context, cluster Cluster, cfg *config.Config, pod *corev1.Pod, early *earlyWatch, start time.Time, timeout time.Duration) (*podWaiter, error) {
	retry := cfg.Retry
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	// The watches live in a context of their own that the timeout ends
	// too, unless the pod runs: then the last watch is handed over open.
	watchCtx, cancelWatch := context.WithCancel(parent)
	handedOver := false
	defer func() {
		if !handedOver {
			cancelWatch()
			early.stop()
		}
	}()
	stopCancelling := context.AfterFunc(ctx, cancelWatch)
	pods := cluster.Pods(pod.Namespace)
	w := &podWaiter{
		last: pod, log: d.Log,
		sched:    &schedulingCheck{cluster: cluster, log: d.Log},
		interval: time.Duration(cfg.PollInterval) * time.Second,
		timing:   newPodTiming(start),
	}
	// finished prints where the time went once the pod runs.
	finished := func(err error) error {
		if err == nil {
			d.Log.Info().Bool(highlightField, true).Msg(w.timing.line(w.last, time.Now(), d.imagePulls(parent, cluster, pod.Namespace, pod.Name)))
		}
		return err
	}
	for {
		if done, err := w.evaluate(ctx, w.last); done {
			return w, finished(err)
		}
		watcher, err := d.watchPod(ctx, watchCtx, retry, pods, w.last, early)
		if err != nil {
			if ctx.Err() != nil {
				return w, waitEndError(parent, w.last, timeout)
			}
			return w, kubeapi.Failed("watch", "pod", pod.Namespace, pod.Name, err)
		}
		done, err := w.consume(ctx, watcher)
		if done && err == nil && stopCancelling() {
			w.open, w.cancelOpen, handedOver = watcher, early.handOver(cancelWatch), true
		} else {
			watcher.Stop()
		}
		if done {
			return w, finished(err)
		}
		if err := d.afterWatch(ctx, retry, pods, w, err); err != nil || ctx.Err() != nil {
			if ctx.Err() != nil {
				return w, waitEndError(parent, w.last, timeout)
			}
			return w, err
		}
	}
}

// afterWatch is how waitPod goes on once a watch ended before the pod ran,
// by closing (err nil) or with an error event: nil to watch again (after
// reading the pod again, or a pause), else the error that ends the wait.
func (d *Driver) afterWatch(ctx context.Context, retry config.Retry, pods kubeapi.Pods, w *podWaiter, err error) error {
	switch {
	case apierrors.IsGone(err) || apierrors.IsResourceExpired(err):
		return d.refreshPod(ctx, retry, pods, w)
	case err != nil && retriable(err):
		// A transient error: under load the API server's watch cache,
		// behind etcd, answers a watch from the created pod's version
		// "Too large resource version" (a Timeout that suggests a delay).
		// Watch again after the delay.
		pauseAPI(ctx, suggestedDelay(err))
		return nil
	}
	return err
}

// suggestedDelay is the wait an API error asks for (its Retry-After or
// retryAfterSeconds), at least firstRetryPause.
func suggestedDelay(err error) time.Duration {
	return max(kubeapi.SuggestedDelay(err), firstRetryPause)
}

// waitEndError says why waitPod stopped waiting without the pod running:
// the job was cancelled (parent ended) or poll_timeout passed.
func waitEndError(parent context.Context, pod *corev1.Pod, timeout time.Duration) error {
	if parent.Err() != nil {
		return fmt.Errorf("cancelled while waiting for pod %s/%s: %s", pod.Namespace, pod.Name, podStatus(pod))
	}
	return notRunningError(pod, timeout)
}

// refreshPod reads the pod again after its watch's resource version
// expired, so that the next watch starts from its current state.
func (d *Driver) refreshPod(ctx context.Context, retry config.Retry, pods kubeapi.Pods, w *podWaiter) error {
	name := w.last.Namespace + "/" + w.last.Name
	err := d.retryAPI(ctx, retry, "get pod "+name, func(ctx context.Context) (err error) {
		// kubeAPI: pods, get
		current, err := pods.Get(ctx, w.last.Name, metav1.GetOptions{})
		if err == nil {
			w.last = current
		}
		return err
	})
	if err != nil {
		return kubeapi.Failed("get", "pod", w.last.Namespace, w.last.Name, err)
	}
	return nil
}

// watchPod returns early's watch when that watches the pod, else opens
// one from the pod's state last seen, trying transient errors again.
// The watch lives in watchCtx; ctx bounds the tries.
func (d *Driver) watchPod(ctx, watchCtx context.Context, retry config.Retry, pods kubeapi.Pods, last *corev1.Pod, early *earlyWatch) (watch.Interface, error) {
	if watcher := early.take(ctx, last); watcher != nil {
		return watcher, nil
	}
	var watcher watch.Interface
	err := d.retryAPI(ctx, retry, "watch pod "+last.Namespace+"/"+last.Name, func(context.Context) (err error) {
		// kubeAPI: pods, watch
		watcher, err = pods.Watch(watchCtx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", last.Name).String(),
			ResourceVersion: last.ResourceVersion,
		})
		return err
	})
	return watcher, err
}

// podWaiter follows one pod's states, printing a progress line whenever
// its summary changes.
type podWaiter struct {
	last     *corev1.Pod
	lastLine string
	log      zerolog.Logger
	sched    *schedulingCheck
	interval time.Duration // between checks of an unschedulable pod
	timing   *podTiming
	// open is the watch that saw the pod running, still open, and
	// cancelOpen ends its request.
	open       watch.Interface
	cancelOpen context.CancelFunc
}

// stop ends the watch the waiter kept open, if any.
func (w *podWaiter) stop() {
	if w.open != nil {
		w.open.Stop()
		w.cancelOpen()
		w.open = nil
	}
}

func (w *podWaiter) evaluate(ctx context.Context, pod *corev1.Pod) (bool, error) {
	w.last = pod
	w.timing.observe(pod, time.Now())
	if ready, err := podReady(pod); err != nil || ready {
		return true, err
	}
	if err := w.sched.check(ctx, pod); err != nil {
		return true, err
	}
	if line := progress(pod); line != w.lastLine && pod.Status.Phase != "" {
		w.log.Info().Msg(line)
		w.lastLine = line
	}
	return false, nil
}

// consume reads watch events until the pod is running or failed (done) or
// the watch ends (not done; err says why when it was an error event).
func (w *podWaiter) consume(ctx context.Context, watcher watch.Interface) (bool, error) {
	recheck := time.NewTicker(max(w.interval, time.Second))
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case <-recheck.C:
			if err := w.sched.check(ctx, w.last); err != nil {
				return true, err
			}
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Error:
				return false, apierrors.FromObject(ev.Object)
			case watch.Deleted:
				if pod, ok := ev.Object.(*corev1.Pod); !ok || pod.UID == w.last.UID {
					return true, errors.New("the job's pod was deleted while starting")
				}
			}
			// A watch by name may show an earlier pod of that name.
			if pod, ok := ev.Object.(*corev1.Pod); ok && pod.UID == w.last.UID {
				if done, err := w.evaluate(ctx, pod); done {
					return true, err
				}
			}
		}
	}
}

func notRunningError(pod *corev1.Pod, timeout time.Duration) error {
	return fmt.Errorf("pod %s/%s not running after poll_timeout (%s): %s", pod.Namespace, pod.Name, timeout, podStatus(pod))
}
