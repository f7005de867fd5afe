package driver

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
	"github.com/k8sdrv/k8sdrv/podlayout"
)

// stopTimeout is how long a cancelled stage gets between TERM and KILL.
const stopTimeout = 10 * time.Second

// StageContainer returns the container a stage runs in: the user's steps
// in the build container, everything else (git, cache, artifacts) in the
// helper, as GitLab Runner's Kubernetes executor does.
func StageContainer(stage string) string {
	if stage == "build_script" || stage == "after_script" || strings.HasPrefix(stage, "step_") {
		return podbuilder.BuildContainer
	}
	return podbuilder.HelperContainer
}

// Run executes the stage script at scriptPath in the job's pod. A non-zero
// exit of the script is a *BuildFailure; any other error means the stage's
// outcome is unknown or the infrastructure failed.
func (d *Driver) Run(ctx context.Context, jc *config.JobConfig, scriptPath, stage string) error {
	state, err := loadState(d.Env.TmpDir)
	if err != nil {
		return err
	}
	if id := d.identity(); !state.belongsTo(id) {
		return foreignStateError(d.Env.TmpDir, state, id)
	}
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return fmt.Errorf("stage %s: %w", stage, err)
	}
	cluster, err := d.clusterAccess(jc.Config)
	if err != nil {
		return err
	}
	container := StageContainer(stage)
	s := &attach.Stage{
		Exec:             cluster.Executor(state.Namespace, state.Pod),
		Container:        container,
		Dirs:             podlayout.New(state.DriverDir).Stage(container, stage, time.Now()),
		Script:           script,
		Out:              d.Stdout,
		Diag:             d.Stderr,
		ReconnectTimeout: jc.ReconnectTimeout.Duration,
		StopTimeout:      stopTimeout,
		Check:            func(ctx context.Context) error { return checkContainer(ctx, cluster, state, container) },
	}
	code, err := runWatched(ctx, s, cluster, state, container)
	d.recordTime(stage)
	if err != nil || code != 0 {
		d.printWarningEvents(jc.Config, cluster, state.Namespace, state.Pod)
	}
	if err != nil {
		return fmt.Errorf("stage %s in pod %s/%s: %w", stage, state.Namespace, state.Pod, err)
	}
	if code != 0 {
		return &BuildFailure{Code: code}
	}
	return nil
}

// stageWatchDelay is how long a stage runs before run watches its pod: a
// stage that ends sooner costs one request (its exec), which keeps a job
// within 4 + (number of stages) requests.
var stageWatchDelay = 2 * time.Second

// runWatched runs the stage while watching its pod: when the pod's status
// shows that the pod or the stage's container ended (evicted, disrupted,
// out of memory, past its deadline), the stage is stopped and that is the
// stage's error, within a few seconds of the status changing rather than
// when the stream notices. The watch starts after stageWatchDelay; its
// first event is the pod as it is then.
func runWatched(parent context.Context, s *attach.Stage, cluster Cluster, state *State, container string) (int, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	go func() {
		sleepCtx(ctx, stageWatchDelay)
		if err := watchPodEnd(ctx, cluster, state, container); err != nil {
			cancel(err)
		}
	}()
	code, err := s.Run(ctx)
	if ctx.Err() != nil && parent.Err() == nil {
		return 0, context.Cause(ctx) // the watch saw the pod end
	}
	return code, err
}

// checkContainer tells a transient stream failure from a lost pod: it
// fails when the pod is gone or replaced, or its status says why the pod
// or the container ended (explainEnd).
func checkContainer(ctx context.Context, cluster Cluster, state *State, container string) error {
	// kubeAPI: pods, get
	pod, err := cluster.Pods(state.Namespace).Get(ctx, state.Pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("pod %s/%s was deleted while the stage ran", state.Namespace, state.Pod)
	case apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err):
		return kubeapi.Failed("get", "pod", state.Namespace, state.Pod, err) // reconnecting cannot help
	case err != nil:
		return nil // the API itself is unreachable: keep reconnecting
	case string(pod.UID) != state.UID:
		return fmt.Errorf("pod %s/%s was replaced while the stage ran", state.Namespace, state.Pod)
	}
	if end := explainEnd(pod, container); end != nil {
		return end
	}
	return nil
}

func terminatedReason(t *corev1.ContainerStateTerminated) string {
	if t.Message != "" {
		return t.Reason + ": " + t.Message
	}
	return t.Reason
}
