package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// Cleanup deletes everything the job created, within
// cleanup_resources_timeout and on its own deadline (it also runs after a
// cancelled or timed-out job). Without prepare's state file it finds the
// job's pods by their labels; only then does it need the job, and jobErr
// (from LoadJob: a job that could not be read or was refused) matters.
func (d *Driver) Cleanup(jc *config.JobConfig, jobErr error) error {
	ctx, cancel := context.WithTimeout(context.Background(), jc.CleanupResourcesTimeout.Duration)
	defer cancel()
	state, err := loadState(d.Env.TmpDir)
	switch {
	case errors.Is(err, errNoState):
		if jobErr != nil && !Refused(jobErr) {
			return jobErr
		}
		err = d.deleteByLabels(ctx, jc)
	case err != nil:
		return err
	default:
		err = d.deleteByState(ctx, jc.Config, state)
	}
	if err != nil {
		return err
	}
	if err := os.Remove(statePath(d.Env.TmpDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

func (d *Driver) deleteByState(ctx context.Context, cfg *config.Config, s *State) error {
	cluster, err := d.clusterAccess(cfg)
	if err != nil {
		return err
	}
	return deletePod(ctx, cluster, s.Namespace, s.Pod, types.UID(s.UID), cfg.CleanupGracePeriodSeconds)
}

// deleteByLabels deletes the pods labelled with this job's identity. It
// needs at least the job ID, so that it can never select another job's pod.
func (d *Driver) deleteByLabels(ctx context.Context, jc *config.JobConfig) error {
	selector := podbuilder.Labels(jc.Job)
	if selector[podbuilder.LabelJobID] == "" {
		d.Log.Info().Msg("no state file and no CI_JOB_ID: nothing to clean up")
		return nil
	}
	cluster, err := d.clusterAccess(jc.Config)
	if err != nil {
		return err
	}
	pods := cluster.Pods(jc.Namespace)
	// kubeAPI: pods, list
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		return kubeapi.Failed("list", "pods", jc.Namespace, "", err)
	}
	var errs []error
	for _, pod := range list.Items {
		errs = append(errs, deletePod(ctx, cluster, pod.Namespace, pod.Name, pod.UID, jc.CleanupGracePeriodSeconds))
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
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, deleteBackoff, func(ctx context.Context) (bool, error) {
		// kubeAPI: pods, delete
		last = cluster.Pods(namespace).Delete(ctx, name, opts)
		switch {
		case last == nil, apierrors.IsNotFound(last):
			return true, nil
		case apierrors.IsConflict(last):
			return true, nil // a pod of that name with another UID is not ours
		case retriable(last):
			return false, nil
		}
		return false, kubeapi.Failed("delete", "pod", namespace, name, last)
	})
	if err != nil && ctx.Err() != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("gave up at the cleanup deadline: %w", kubeapi.Failed("delete", "pod", namespace, name, last))
	}
	return err
}

// deleteBackoff spaces delete retries from 100 ms up to 3 s apart, until
// the cleanup deadline.
var deleteBackoff = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Cap: 3 * time.Second, Steps: math.MaxInt32}

func retriable(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) ||
		!isAPIStatus(err)
}

func isAPIStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}
