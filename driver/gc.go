package driver

import (
	"context"
	"errors"
	"fmt"
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
// activeDeadlineSeconds plus Grace, or older than MaxAge) and reports
// them, one line each on stdout; with Delete it deletes them. It selects
// by k8sdrv's labels and the runner's, and checks both again on every pod
// it lists, so it never touches anything else.
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
	return errors.Join(errs...)
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
