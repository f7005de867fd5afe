package driver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// serviceExit is a service container that terminated, or restarted,
// before the job's stages could start.
type serviceExit struct {
	container string
	end       *podEnd
}

func (e *serviceExit) Error() string { return e.end.msg }

// waitServices waits, at most wait_for_services_timeout, until every
// service with ports to wait for listens on them (portProbe: one exec in
// the helper container), while the pod watch that saw the pod running
// stays open: a service container that terminates or restarts meanwhile
// ends the wait at once. Once all listen, one line says after how long.
func (d *Driver) waitServices(parent context.Context, cluster Cluster, cfg *config.Config, w *podWaiter, services []podbuilder.Service) error {
	limit, on := cfg.ServicesWait()
	waited := withPorts(services)
	if !on || len(waited) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	pod := w.last
	probe := newPortProbe(cluster.Executor(pod.Namespace, pod.Name), time.Now())
	done := make(chan error, 1)
	go func() { done <- probe.run(ctx, allPorts(waited)) }()
	stopProbe := func() {
		cancel()
		<-done
	}
	resume := true // from the last version seen; after an error event, from now
	for {
		if w.open == nil {
			d.watchAgain(ctx, cluster, cfg, w, resume)
		}
		var events <-chan watch.Event
		if w.open != nil {
			events = w.open.ResultChan()
		}
		select {
		case err := <-done:
			return d.probed(parent, cluster, w.last, probe, waited, limit, err)
		case ev, ok := <-events:
			if !ok || ev.Type == watch.Error {
				w.stop()     // the API server ended it; watch again
				resume = !ok // closed: resume; an error event (too old): from now
				if ev.Type == watch.Error {
					// Not at once: the error may be a watch cache behind etcd.
					pauseAPI(ctx, suggestedDelay(apierrors.FromObject(ev.Object)))
				}
				continue
			}
			if ev.Type == watch.Deleted {
				stopProbe()
				return fmt.Errorf("the job's pod %s/%s was deleted while k8sdrv waited for its services", pod.Namespace, pod.Name)
			}
			if p, ok := ev.Object.(*corev1.Pod); ok {
				w.last = p
				if err := servicesEnd(p); err != nil {
					stopProbe()
					return err
				}
			}
		}
	}
}

// probed is the end of waitServices once the port probe returned err:
// nil when every port listens (the line saying so is printed), else why
// not, with the last lines of the services that never listened when their
// pod ended.
func (d *Driver) probed(parent context.Context, cluster Cluster, pod *corev1.Pod, probe *portProbe, waited []podbuilder.Service, limit time.Duration, err error) error {
	if err == nil {
		d.Log.Info().Msg(probe.line(waited))
		return nil
	}
	if parent.Err() != nil {
		return fmt.Errorf("cancelled while waiting for the services of pod %s/%s to listen", pod.Namespace, pod.Name)
	}
	err = probe.failure(err, waited, limit)
	var late *podEnd
	if errors.As(err, &late) {
		for _, svc := range probe.late(waited) {
			d.printServiceLog(parent, cluster, pod, svc, false)
		}
	}
	return err
}

// watchAgain watches the pod (from the last version seen when resume is
// set) after the API server ended the watch. Without a watch the probe
// still decides; only a service's end would be seen late, at the timeout.
func (d *Driver) watchAgain(ctx context.Context, cluster Cluster, cfg *config.Config, w *podWaiter, resume bool) {
	pod := w.last
	version := ""
	if resume {
		version = pod.ResourceVersion
	}
	watchCtx, cancelWatch := context.WithCancel(context.WithoutCancel(ctx))
	var watcher watch.Interface
	err := d.retryAPI(ctx, cfg.Retry, "watch pod "+pod.Namespace+"/"+pod.Name, func(context.Context) (err error) {
		// kubeAPI: pods, watch
		watcher, err = cluster.Pods(pod.Namespace).Watch(watchCtx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
			ResourceVersion: version,
		})
		return err
	})
	if err != nil {
		cancelWatch()
		d.Log.Debug().Err(err).Msg("no pod watch while waiting for the services")
		sleepCtx(ctx, time.Second)
		return
	}
	w.open, w.cancelOpen = watcher, cancelWatch
}

// servicesEnd says why the pod can no longer run the job, once it has
// run: a service container that terminated or restarted (a
// *serviceExit), or the pod or another container ended.
func servicesEnd(pod *corev1.Pod) error {
	if end := podLevelEnd(pod); end != nil {
		return end
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if end := containerEnd(pod, cs, false); end != nil && podbuilder.IsServiceContainer(cs.Name) {
			return &serviceExit{container: cs.Name, end: end}
		}
	}
	if end := explainEnd(pod, ""); end != nil {
		return end
	}
	return nil
}

// explainServiceExit turns a service's end into the job's failure: its
// last log lines printed, one line naming the service, its exit code and
// reason. A service the job asked for that fails is the job's own
// failure (its image, command or variables); one of the configuration's
// [[services]] is the operator's, a system failure. Other errors pass
// unchanged.
func (d *Driver) explainServiceExit(ctx context.Context, cluster Cluster, pod *corev1.Pod, services []podbuilder.Service, err error) error {
	var exit *serviceExit
	if !errors.As(err, &exit) {
		return err
	}
	svc := serviceOf(services, exit.container)
	restarted := false
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == exit.container {
			restarted = cs.State.Terminated == nil && cs.RestartCount > 0
		}
	}
	d.printServiceLog(ctx, cluster, pod, svc, restarted)
	return &podEnd{
		build: svc.Job,
		msg:   fmt.Sprintf("service %s failed before the job's stages could start: %s", svc.Name(), exit.end.msg),
	}
}

// serviceOf finds the service of a container; one the list lacks (a
// pod_spec patch added it) is named by its container alone.
func serviceOf(services []podbuilder.Service, container string) podbuilder.Service {
	for _, s := range services {
		if s.Container == container {
			return s
		}
	}
	return podbuilder.Service{Container: container, Image: container}
}

// serviceLogLines is how many of a failed service's last log lines the
// job log shows, and logLineMax how much of each.
const (
	serviceLogLines = 10
	logLineMax      = 500
)

// printServiceLog prints the last lines a service container logged (of
// its previous run when it restarted), or why they cannot be shown.
func (d *Driver) printServiceLog(ctx context.Context, cluster Cluster, pod *corev1.Pod, svc podbuilder.Service, previous bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tail, limit := int64(serviceLogLines), int64(64<<10)
	data, err := cluster.PodLogs(ctx, pod.Namespace, pod.Name, &corev1.PodLogOptions{
		Container: svc.Container, Previous: previous, TailLines: &tail, LimitBytes: &limit,
	})
	switch {
	case err != nil:
		d.Log.Info().Msgf("Service %s: its log cannot be read: %v", svc.Name(), err)
		return
	case len(strings.TrimSpace(string(data))) == 0:
		d.Log.Info().Msgf("Service %s logged nothing", svc.Name())
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	d.Log.Info().Msgf("Last lines of service %s (container %s):", svc.Name(), svc.Container)
	for _, line := range lines[max(0, len(lines)-serviceLogLines):] {
		if len(line) > logLineMax {
			line = line[:logLineMax] + " [...]"
		}
		d.Log.Info().Msg("  " + line)
	}
}

// withPorts returns the services that have ports to wait for.
func withPorts(services []podbuilder.Service) []podbuilder.Service {
	var out []podbuilder.Service
	for _, s := range services {
		if len(s.Ports) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// allPorts returns every port of the services, each once.
func allPorts(services []podbuilder.Service) []int {
	var ports []int
	for _, s := range services {
		for _, p := range s.Ports {
			if !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	return ports
}
