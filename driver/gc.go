package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// GCOptions say which of k8sdrv's pods gc looks at and which it collects.
type GCOptions struct {
	// Namespaces to look in; none: the configured namespace.
	Namespaces []string
	// Runner is the short token (CI_RUNNER_SHORT_TOKEN) of the runner
	// whose pods gc may touch; AllRunners lifts that bound.
	Runner     string
	AllRunners bool
	// Grace is how long a pod may outlive its activeDeadlineSeconds
	// before it counts as over (the kubelet needs a moment to stop it).
	Grace time.Duration
	// MaxAge, when set, makes any pod older than it garbage: for pods
	// without a deadline (FF_USE_POD_ACTIVE_DEADLINE_SECONDS off).
	MaxAge time.Duration
	// Delete deletes what gc found; without it gc only reports.
	Delete bool
	Now    func() time.Time
}

// GC finds k8sdrv's pods whose job is over (terminated, past their
// activeDeadlineSeconds plus Grace, or older than MaxAge) and, under
// namespace_per_job, the jobs' namespaces whose job is over
// (gcJobNamespaces), and reports them, one line each on stdout; with
// Delete it deletes them. It selects by k8sdrv's labels and the
// runner's, and checks both again on every object it lists, so it never
// touches anything else.
func (d *Driver) GC(ctx context.Context, cfg *config.Config, o GCOptions) error {
	if o.Runner == "" && !o.AllRunners {
		return errors.New("gc: give --runner <short token> (this runner's pods) or --all-runners")
	}
	cluster, err := d.clusterAccess(cfg)
	if err != nil {
		return err
	}
	if len(o.Namespaces) == 0 {
		o.Namespaces = []string{cfg.Namespace}
	}
	selector := podbuilder.Labels(&job.Job{RunnerShortToken: o.Runner})
	var errs []error
	for _, ns := range o.Namespaces {
		found, err := d.gcNamespace(ctx, cfg, cluster, ns, selector, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		verb := "would delete"
		if o.Delete {
			verb = "deleted"
		}
		fmt.Fprintf(d.Stdout, "gc: namespace %s: %s %d pod(s)\n", ns, verb, found)
	}
	if cfg.NamespacePerJob {
		errs = append(errs, d.gcJobNamespaces(ctx, cfg, cluster, selector, o))
	}
	return errors.Join(errs...)
}

// gcJobNamespaces collects the jobs' own namespaces (namespace_per_job)
// whose job is over: every k8sdrv pod in it is over, or it holds none
// and is older than Grace (prepare creates the pod right after the
// namespace). Its pods are deleted first, then the namespace.
func (d *Driver) gcJobNamespaces(ctx context.Context, cfg *config.Config, cluster Cluster, selector map[string]string, o GCOptions) error {
	ours := labels.SelectorFromSet(selector)
	// kubeAPI: namespaces, list
	list, err := cluster.Namespaces().List(ctx, metav1.ListOptions{LabelSelector: ours.String()})
	if err != nil {
		return kubeapi.Failed("list", "namespaces", "", "", err)
	}
	verb := "would delete"
	if o.Delete {
		verb = "deleted"
	}
	found := 0
	var errs []error
	for i := range list.Items {
		ns := &list.Items[i]
		if ns.DeletionTimestamp != nil || ns.Labels[podbuilder.LabelJobID] == "" || !ours.Matches(labels.Set(ns.Labels)) {
			continue
		}
		reason, over, err := namespaceOver(ctx, cluster, ns, ours, o)
		if err != nil || !over {
			errs = append(errs, err)
			continue
		}
		if o.Delete {
			dctx, cancel := context.WithTimeout(ctx, cfg.CleanupResourcesTimeout.Duration)
			err := deleteJobNamespace(dctx, cluster, ns, selector, cfg.CleanupGracePeriodSeconds)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		found++
		fmt.Fprintf(d.Stdout, "%s namespace %s (job %s): %s\n", verb, ns.Name, ns.Labels[podbuilder.LabelJobID], reason)
	}
	fmt.Fprintf(d.Stdout, "gc: job namespaces (namespace_per_job): %s %d\n", verb, found)
	return errors.Join(errs...)
}

// namespaceOver says whether the job of its own namespace ns is over, and why.
func namespaceOver(ctx context.Context, cluster Cluster, ns *corev1.Namespace, ours labels.Selector, o GCOptions) (string, bool, error) {
	// kubeAPI: pods, list
	pods, err := cluster.Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: ours.String()})
	if err != nil {
		return "", false, kubeapi.Failed("list", "pods", ns.Name, "", err)
	}
	now := o.Now()
	var reasons []string
	for i := range pods.Items {
		pod := &pods.Items[i]
		reason, over := jobOver(pod, now, o)
		if !over && pod.DeletionTimestamp == nil {
			return "", false, nil // the job still runs
		}
		if over {
			reasons = append(reasons, "pod "+pod.Name+" "+reason)
		}
	}
	if len(reasons) > 0 {
		return strings.Join(reasons, "; "), true, nil
	}
	if age := now.Sub(ns.CreationTimestamp.Time); age > o.Grace {
		return fmt.Sprintf("holds no pod of its job, %s old", age.Round(time.Second)), true, nil
	}
	return "", false, nil
}

// gcNamespace collects one namespace and returns how many pods it found
// (and, with Delete, deleted).
func (d *Driver) gcNamespace(ctx context.Context, cfg *config.Config, cluster Cluster, ns string, selector map[string]string, o GCOptions) (int, error) {
	ours := labels.SelectorFromSet(selector)
	// kubeAPI: pods, list
	list, err := cluster.Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: ours.String()})
	if err != nil {
		return 0, kubeapi.Failed("list", "pods", ns, "", err)
	}
	now := o.Now()
	found := 0
	var errs []error
	for i := range list.Items {
		pod := &list.Items[i]
		reason, over := jobOver(pod, now, o)
		if !over || !ours.Matches(labels.Set(pod.Labels)) {
			continue
		}
		found++
		if !o.Delete {
			fmt.Fprintf(d.Stdout, "would delete pod %s/%s (job %s): %s\n", ns, pod.Name, pod.Labels[podbuilder.LabelJobID], reason)
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, cfg.CleanupResourcesTimeout.Duration)
		err := deletePod(dctx, cluster, ns, pod.Name, pod.UID, cfg.CleanupGracePeriodSeconds)
		cancel()
		if err != nil {
			errs = append(errs, err)
			found--
			continue
		}
		fmt.Fprintf(d.Stdout, "deleted pod %s/%s (job %s): %s\n", ns, pod.Name, pod.Labels[podbuilder.LabelJobID], reason)
	}
	return found, errors.Join(errs...)
}

// jobOver says whether the job of a k8sdrv pod is over, and why.
func jobOver(pod *corev1.Pod, now time.Time, o GCOptions) (string, bool) {
	switch {
	case pod.DeletionTimestamp != nil:
		return "", false // already on its way out
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		reason := string(pod.Status.Phase)
		if pod.Status.Reason != "" {
			reason += ": " + pod.Status.Reason
		}
		return "terminated (" + reason + ")", true
	}
	if deadline := pod.Spec.ActiveDeadlineSeconds; deadline != nil && pod.Status.StartTime != nil {
		end := pod.Status.StartTime.Add(time.Duration(*deadline)*time.Second + o.Grace)
		if now.After(end) {
			return fmt.Sprintf("past its activeDeadlineSeconds (%d s) by %s", *deadline, now.Sub(end).Round(time.Second)+o.Grace), true
		}
	}
	if age := now.Sub(pod.CreationTimestamp.Time); o.MaxAge > 0 && age > o.MaxAge {
		return fmt.Sprintf("%s old, more than --max-age %s", age.Round(time.Second), o.MaxAge), true
	}
	return "", false
}
