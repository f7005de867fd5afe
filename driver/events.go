package driver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// printWarningEvents writes the pod's Warning events to the job log, when
// print_pod_warning_events allows (it does by default): after a failed
// start or stage they usually say why (FailedMount, OOMKilling, Evicted).
// It never fails the caller: events are a diagnosis, not a result.
func (d *Driver) printWarningEvents(cfg *config.Config, cluster Cluster, namespace, pod string) {
	if cfg.PrintPodWarningEvents != nil && !*cfg.PrintPodWarningEvents {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// kubeAPI: events, list
	list, err := cluster.Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.name": pod, "type": corev1.EventTypeWarning}.String(),
	})
	if err != nil {
		d.Log.Debug().Msgf("no warning events to show: %v", kubeapi.Failed("list", "events", namespace, "", err))
		return
	}
	events := list.Items
	slices.SortStableFunc(events, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	for _, e := range events {
		if e.Type != corev1.EventTypeWarning || e.InvolvedObject.Name != pod {
			continue // a fake or an older API server may ignore the selector
		}
		d.Log.Warn().Msgf("Event on pod %s/%s: %s: %s", namespace, pod, e.Reason, e.Message)
	}
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// resourceCheckInterval is the pause between resource availability checks.
var resourceCheckInterval = 5 * time.Second

// checkResources waits, up to resource_availability_check_max_attempts
// checks, until the service account and image pull secrets the pod names
// exist: creating the pod earlier would only fail less clearly.
func (d *Driver) checkResources(ctx context.Context, cfg *config.Config) error {
	if cfg.ResourceAvailabilityCheckMaxAttempts <= 0 {
		return nil
	}
	cluster, err := d.clusterAccess(cfg)
	if err != nil {
		return err
	}
	type object struct {
		resource, name string
		exists         func(ctx context.Context, namespace, name string) (bool, error)
	}
	var wanted []object
	if cfg.ServiceAccount != "" {
		wanted = append(wanted, object{"service account", cfg.ServiceAccount, cluster.ServiceAccountExists})
	}
	for _, s := range cfg.ImagePullSecrets {
		wanted = append(wanted, object{"secret", s, cluster.SecretExists})
	}
	for attempt := 1; ; attempt++ {
		var missing []string
		for _, o := range wanted {
			ok, err := d.exists(ctx, cfg, o.resource, o.name, o.exists)
			if err != nil {
				return kubeapi.Failed("get", o.resource, cfg.Namespace, o.name, err)
			}
			if !ok {
				missing = append(missing, o.resource+" "+o.name)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if attempt >= cfg.ResourceAvailabilityCheckMaxAttempts {
			return fmt.Errorf("namespace %s has no %s after %d checks (resource_availability_check_max_attempts)", cfg.Namespace, strings.Join(missing, ", "), attempt)
		}
		d.Log.Info().Msgf("Waiting for %s in namespace %s (check %d of %d)", strings.Join(missing, ", "), cfg.Namespace, attempt, cfg.ResourceAvailabilityCheckMaxAttempts)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(resourceCheckInterval):
		}
	}
}

// exists asks whether an object the pod names exists, trying again as
// retryAPI does until poll_timeout, as the pod's create does.
func (d *Driver) exists(ctx context.Context, cfg *config.Config, resource, name string, exists func(ctx context.Context, namespace, name string) (bool, error)) (ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.PollTimeout)*time.Second)
	defer cancel()
	err = d.retryAPI(ctx, cfg.Retry, "get "+resource+" "+cfg.Namespace+"/"+name, func(ctx context.Context) (err error) {
		ok, err = exists(ctx, cfg.Namespace, name)
		return err
	})
	return ok, err
}
