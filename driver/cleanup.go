package driver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// Cleanup deletes everything the job created, within
// cleanup_resources_timeout and on its own deadline (it also runs after a
// cancelled or timed-out job). It deletes the pods of prepare's state file,
// when the state is this job's; otherwise (no state, a damaged one, one a
// previous job left in a reused TMPDIR) it finds the job's pods by their
// labels, from the job's identity in CUSTOM_ENV_*, which jobErr (from
// LoadJob: a job that could not be read or was refused) leaves intact.
func (d *Driver) Cleanup(jc *config.JobConfig, jobErr error) error {
	ctx, cancel := context.WithTimeout(context.Background(), jc.CleanupResourcesTimeout.Duration)
	defer cancel()
	id := d.identity()
	state, err := loadState(d.Env.TmpDir)
	own := err == nil && state.belongsTo(id)
	switch {
	case own:
		err = d.deleteByState(ctx, jc.Config, state)
	case err == nil:
		d.Log.Warn().Msgf("%v; cleaning up by this job's labels", foreignStateError(d.Env.TmpDir, state, id))
		err = d.deleteByLabels(ctx, jc, nil)
	case errors.Is(err, errNoState):
		// A refused job was read whole: its labels are as good as any.
		if jobErr != nil && Refused(jobErr) {
			jobErr = nil
		}
		if jobErr != nil && id.JobID != "" {
			d.Log.Warn().Msgf("%v; cleaning up by the labels of %s", jobErr, id)
		}
		err = d.deleteByLabels(ctx, jc, jobErr)
	default:
		d.Log.Warn().Msgf("%v; cleaning up by the job's labels", err)
		err = d.deleteByLabels(ctx, jc, err)
	}
	if err != nil {
		return err
	}
	if err := os.Remove(statePath(d.Env.TmpDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state: %w", err)
	}
	d.endJobTime(own)
	return nil
}

// deleteByState deletes every pod prepare recorded (a pull attempt's pod
// whose delete failed during prepare is as much the job's as the last),
// then the job's namespace when prepare created one.
func (d *Driver) deleteByState(ctx context.Context, cfg *config.Config, s *State) error {
	cluster, err := d.clusterAccess(cfg)
	if err != nil {
		return err
	}
	var errs []error
	for _, pod := range s.allPods() {
		errs = append(errs, deletePod(ctx, cluster, pod.Namespace, pod.Name, types.UID(pod.UID), cfg.CleanupGracePeriodSeconds))
	}
	switch ns := s.JobNamespace; {
	case ns != nil && s.Pod == "" && s.Job != nil:
		// prepare ended between its namespace and its pod's record: a
		// pod it created may be there unrecorded.
		selector := podbuilder.Labels(&job.Job{ID: s.Job.JobID, ProjectID: s.Job.ProjectID,
			RunnerShortToken: s.Job.RunnerShortToken, ConcurrentID: s.Job.ConcurrentID})
		ref := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, UID: types.UID(ns.UID)}}
		errs = append(errs, deleteJobNamespace(ctx, cluster, ref, selector, cfg.CleanupGracePeriodSeconds))
	case ns != nil:
		errs = append(errs, deleteNamespace(ctx, cluster, ns.Name, types.UID(ns.UID)))
	}
	return errors.Join(errs...)
}

// deleteByLabels deletes the pods labelled with this job's identity (and
// k8sdrv's managed-by label) or, under namespace_per_job, the namespaces
// so labelled, with the pods in them. It needs at least the job ID, so that it can
// never select another job's pod; without one it returns why it was
// asked to (nil: there was simply no state file).
func (d *Driver) deleteByLabels(ctx context.Context, jc *config.JobConfig, why error) error {
	selector := podbuilder.Labels(jc.Job)
	if selector[podbuilder.LabelJobID] == "" {
		if why != nil {
			return why
		}
		d.Log.Info().Msg("no state file of this job and no CI_JOB_ID: nothing to clean up")
		return nil
	}
	cluster, err := d.clusterAccess(jc.Config)
	if err != nil {
		return err
	}
	if jc.NamespacePerJob {
		// The job's pods live in its namespace and go with it.
		return deleteNamespacesByLabels(ctx, cluster, selector, jc.CleanupGracePeriodSeconds)
	}
	return deletePodsByLabels(ctx, cluster, jc.Namespace, selector, jc.CleanupGracePeriodSeconds)
}

// deletePodsByLabels deletes the pods in namespace that carry selector's
// labels, with the given grace period, retrying transient API errors.
func deletePodsByLabels(ctx context.Context, cluster Cluster, namespace string, selector map[string]string, grace *int64) error {
	opts := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()}
	var list *corev1.PodList
	err := retryTransient(ctx, func(ctx context.Context) (err error) {
		// kubeAPI: pods, list
		list, err = cluster.Pods(namespace).List(ctx, opts)
		return err
	}, func(err error) error { return kubeapi.Failed("list", "pods", namespace, "", err) })
	if err != nil {
		return err
	}
	var errs []error
	for _, pod := range list.Items {
		errs = append(errs, deletePod(ctx, cluster, pod.Namespace, pod.Name, pod.UID, grace))
	}
	return errors.Join(errs...)
}

// deletePod deletes one pod (only the one with uid, when given) with the
// given grace period (nil: the pod's own), retrying transient API errors
// until ctx ends. NotFound is success.
func deletePod(ctx context.Context, cluster Cluster, namespace, name string, uid types.UID, grace *int64) error {
	opts := metav1.DeleteOptions{GracePeriodSeconds: grace}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	return retryTransient(ctx, func(ctx context.Context) error {
		// kubeAPI: pods, delete
		err := cluster.Pods(namespace).Delete(ctx, name, opts)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // gone, or a pod of that name with another UID: not ours
		}
		return err
	}, func(err error) error { return kubeapi.Failed("delete", "pod", namespace, name, err) })
}

// retryTransient calls call until it succeeds, fails with an error that
// retriable does not forgive, or ctx (the cleanup deadline) ends, spacing
// the calls by cleanupBackoff. failed describes a failed call.
func retryTransient(ctx context.Context, call func(context.Context) error, failed func(error) error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, cleanupBackoff, func(ctx context.Context) (bool, error) {
		last = call(ctx)
		switch {
		case last == nil:
			return true, nil
		case retriable(last):
			// A throttled call waits at least as long as it was asked.
			if retryAfter, _ := kubeapi.RetryAfter(last); retryAfter > 0 {
				pauseAPI(ctx, retryAfter)
			}
			return false, nil
		}
		return false, failed(last)
	})
	if err != nil && ctx.Err() != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("gave up at the cleanup deadline: %w", failed(last))
	}
	return err
}

// cleanupBackoff spaces retries of cleanup's API calls from 100 ms up to
// 3 s apart, until the cleanup deadline.
var cleanupBackoff = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Cap: 3 * time.Second, Steps: math.MaxInt32}

// retriable: an overloaded or restarting API server, or a request that got
// no answer; not a TLS certificate the client does not trust, which no
// retry cures.
func retriable(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) ||
		!isAPIStatus(err) && !untrustedCertificate(err)
}

func untrustedCertificate(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) || errors.As(err, &verify)
}

func isAPIStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}
