package driver

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// firstRetryPause is the pause before the second try (tests shorten it).
var firstRetryPause = config.RetryBackoffMin

// pauseAPI waits between two tries of an API request: sleepCtx, which
// tests replace to see the pauses without waiting them.
var pauseAPI = sleepCtx

// unansweredFor is how long, without a retry_limit, a request that gets
// no answer at all is tried again: longer than an API server restart
// (about ten seconds), short enough that a wrong host fails soon.
var unansweredFor = 30 * time.Second

// retryAPI calls call until it succeeds, fails with an error that is not
// worth another try, has been tried as often as the retry policy allows
// for its error, or ctx (which callers bound) ends. Pauses start at 500 ms
// and double up to retry_backoff_max. Worth another try: network errors,
// an overloaded or restarting API server (429, 5xx, timeouts) and any
// error whose message holds a text named in retry_limits. Without a
// retry_limit, a request that never got an answer from the API server
// (connection refused or reset: a restart takes longer than GitLab
// Runner's five tries) is tried for unansweredFor. A throttled request
// (429, once client-go's own ten tries are spent) is tried again until ctx
// ends, after at least its Retry-After, without counting against the
// tries and without a warning of its own (Driver.throttled says it once).
// Warnings are printed at tries 1, 2, 4, 8 and so on.
func (d *Driver) retryAPI(ctx context.Context, policy config.Retry, what string, call func(context.Context) error) error {
	pause := firstRetryPause
	start := time.Now()
	for try := 1; ; try++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if err := kubeapi.EndedBy(ctx, err); err != nil {
			// The deadline came first; waiting on a throttling API
			// server (client-go's waits happen inside call) is why.
			if d.throttledSeen.Load() {
				return fmt.Errorf("%w, while the API server was throttling k8sdrv", err)
			}
			return err
		}
		tries, named := policy.Tries(err.Error())
		if retryAfter, throttled := kubeapi.RetryAfter(err); throttled && !named {
			if !pauseAPI(ctx, max(pause, retryAfter)) {
				return err
			}
			try--
			continue
		}
		limit := fmt.Sprintf(" of %d", tries)
		if !named && policy.RetryLimit == 0 && !isAPIStatus(err) {
			tries, limit = math.MaxInt, fmt.Sprintf(" within %s", unansweredFor)
			if time.Since(start)+pause > unansweredFor {
				return fmt.Errorf("no answer for %s: %w", unansweredFor, err)
			}
		}
		if !named && !retriable(err) || try >= tries || ctx.Err() != nil {
			return err
		}
		if try&(try-1) == 0 {
			d.Log.Warn().Msgf("%s failed (try %d%s), trying again in %s: %v", what, try, limit, pause, err)
		}
		if !pauseAPI(ctx, pause) {
			return err
		}
		pause = max(min(2*pause, policy.BackoffMax()), firstRetryPause)
	}
}

// named returns a copy of pod that has its name: the generated name's
// random suffix chosen here, not by the API server, so that a create
// tried again after a lost answer finds its pod, and the pod can be
// watched before it is created.
func named(pod *corev1.Pod) *corev1.Pod {
	pod = pod.DeepCopy()
	if pod.Name == "" {
		pod.Name = pod.GenerateName + utilrand.String(5)
		pod.GenerateName = ""
	}
	return pod
}

// createPod creates pod under a name k8sdrv picks itself (its generateName
// prefix and five random characters, as the API server would pick), so
// that a create tried again after an ambiguous failure (the connection
// broke after the request was sent) finds the pod the first try made
// instead of making a second one. A create refused by an exhausted
// ResourceQuota waits for room (waitForQuota).
func (d *Driver) createPod(ctx context.Context, cfg *config.Config, pods kubeapi.Pods, pod *corev1.Pod) (*corev1.Pod, error) {
	pod = named(pod)
	var created *corev1.Pod
	create := func(ctx context.Context) error {
		for renamed := 0; ; renamed++ {
			var err error
			// kubeAPI: pods, create
			created, err = pods.Create(ctx, pod, metav1.CreateOptions{})
			if !apierrors.IsAlreadyExists(err) || renamed == 3 {
				return err
			}
			// kubeAPI: pods, get
			existing, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if existing.Labels[podbuilder.LabelJobID] == pod.Labels[podbuilder.LabelJobID] && existing.DeletionTimestamp == nil {
				created = existing // an earlier try of this call made it
				return nil
			}
			pod.Name = pod.Name[:len(pod.Name)-5] + utilrand.String(5) // someone else's: another name
		}
	}
	err := d.waitForQuota(ctx, cfg.Retry, pod.Namespace, func(ctx context.Context) error {
		// Tries end with poll_timeout, the time the pod has to start.
		ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.PollTimeout)*time.Second)
		defer cancel()
		return d.retryAPI(ctx, cfg.Retry, "create pod "+pod.Namespace+"/"+pod.Name, create)
	})
	if err != nil {
		return nil, kubeapi.Failed("create", "pod", pod.Namespace, "", err)
	}
	return created, nil
}
