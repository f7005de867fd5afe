package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// createJobNamespace creates the job's own namespace (namespace_per_job)
// and records it in the state before any pod is created in it. The
// namespace carries k8sdrv's labels and the job's identity; one of that
// name without them is someone else's, and prepare fails rather than use
// it. This job's own namespace, left by an earlier try of the create, is
// used; one still terminating (cleanup of an earlier prepare of this job)
// is waited for, within poll_timeout, and made again.
func (d *Driver) createJobNamespace(ctx context.Context, jc *config.JobConfig, state *State) error {
	if jc.Job.ID == "" {
		return errors.New("namespace_per_job: the job has no CI_JOB_ID to name its namespace after")
	}
	cluster, err := d.clusterAccess(jc.Config)
	if err != nil {
		return err
	}
	want := podbuilder.Namespace(jc)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(jc.PollTimeout)*time.Second)
	defer cancel()
	var ns *corev1.Namespace
	for ns == nil {
		err = d.retryAPI(ctx, jc.Retry, "create namespace "+want.Name, func(ctx context.Context) (err error) {
			ns, err = createOrGetNamespace(ctx, cluster.Namespaces(), want)
			return err
		})
		if err != nil {
			return kubeapi.Failed("create", "namespace", "", want.Name, err)
		}
		if !ownNamespace(ns, want.Labels) {
			return fmt.Errorf("namespace %s exists and is not this job's (it lacks k8sdrv's labels of job %s): k8sdrv neither uses nor deletes it; delete it, or let another job ID run", want.Name, jc.Job.ID)
		}
		if ns.DeletionTimestamp != nil {
			d.Log.Info().Msgf("Namespace %s of an earlier prepare of this job is terminating; waiting for it to go", ns.Name)
			err := waitNamespaceGone(ctx, cluster.Namespaces(), ns)
			// A watch that ended early (closed, or a transient error
			// event) is no verdict: look at the namespace again.
			if err != nil && (ctx.Err() != nil || !retriable(err) || !pauseAPI(ctx, suggestedDelay(err))) {
				return fmt.Errorf("namespace %s: still terminating after poll_timeout (%d s): %w", ns.Name, jc.PollTimeout, err)
			}
			ns = nil
		}
	}
	state.JobNamespace = &NamespaceRef{Name: ns.Name, UID: string(ns.UID)}
	if err := saveState(d.Env.TmpDir, state); err != nil {
		return err
	}
	d.Log.Info().Msgf("Created namespace %s", ns.Name)
	return nil
}

// createOrGetNamespace creates ns or, when one of its name exists,
// returns that one for the caller to judge.
func createOrGetNamespace(ctx context.Context, namespaces kubeapi.Namespaces, ns *corev1.Namespace) (*corev1.Namespace, error) {
	// kubeAPI: namespaces, create
	created, err := namespaces.Create(ctx, ns, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	// kubeAPI: namespaces, get
	return namespaces.Get(ctx, ns.Name, metav1.GetOptions{})
}

// ownNamespace reports whether ns carries every label of the job's
// (k8sdrv's managed-by and the job's identity, job ID included).
func ownNamespace(ns *corev1.Namespace, jobLabels map[string]string) bool {
	return jobLabels[podbuilder.LabelJobID] != "" && labels.SelectorFromSet(jobLabels).Matches(labels.Set(ns.Labels))
}

// waitNamespaceGone watches ns until it is deleted or ctx ends.
func waitNamespaceGone(ctx context.Context, namespaces kubeapi.Namespaces, ns *corev1.Namespace) error {
	opts := metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", ns.Name).String(),
		ResourceVersion: ns.ResourceVersion,
	}
	// kubeAPI: namespaces, watch
	w, err := namespaces.Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			switch {
			case !ok:
				return errors.New("the watch ended")
			case ev.Type == watch.Deleted:
				return nil
			case ev.Type == watch.Error:
				return apierrors.FromObject(ev.Object)
			}
		}
	}
}

// deleteNamespace deletes the job's namespace (only the one with uid,
// when given), retrying transient API errors until ctx ends. NotFound is
// success, and so is a namespace of that name with another UID: not the
// job's.
func deleteNamespace(ctx context.Context, cluster Cluster, name string, uid types.UID) error {
	opts := metav1.DeleteOptions{}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	return retryTransient(ctx, func(ctx context.Context) error {
		// kubeAPI: namespaces, delete
		err := cluster.Namespaces().Delete(ctx, name, opts)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}, func(err error) error { return kubeapi.Failed("delete", "namespace", "", name, err) })
}

// deleteJobNamespace deletes the pods in a job's namespace that carry
// selector's labels, with the cleanup grace period as cleanup by the
// state does, then the namespace (only the one with its UID): its pods
// are on their way out at once, not when the namespace controller gets to
// them.
func deleteJobNamespace(ctx context.Context, cluster Cluster, ns *corev1.Namespace, selector map[string]string, grace *int64) error {
	return errors.Join(
		deletePodsByLabels(ctx, cluster, ns.Name, selector, grace),
		deleteNamespace(ctx, cluster, ns.Name, ns.UID))
}

// deleteNamespacesByLabels deletes the namespaces that carry k8sdrv's
// labels and this job's identity (selector, which names the job ID), with
// their pods, checking the labels again on each one listed.
func deleteNamespacesByLabels(ctx context.Context, cluster Cluster, selector map[string]string, grace *int64) error {
	opts := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()}
	var list *corev1.NamespaceList
	err := retryTransient(ctx, func(ctx context.Context) (err error) {
		// kubeAPI: namespaces, list
		list, err = cluster.Namespaces().List(ctx, opts)
		return err
	}, func(err error) error { return kubeapi.Failed("list", "namespaces", "", "", err) })
	if err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		ns := &list.Items[i]
		if !ownNamespace(ns, selector) || ns.DeletionTimestamp != nil {
			continue
		}
		errs = append(errs, deleteJobNamespace(ctx, cluster, ns, selector, grace))
	}
	return errors.Join(errs...)
}
