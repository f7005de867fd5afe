package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// DryRun prints the job's pod (its first attempt) as YAML and contacts no
// cluster; warnings about the configuration go to stderr.
func (d *Driver) DryRun() error {
	cfg, j, err := d.forJob()
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		d.Log.Warn().Msg(w)
	}
	pod, err := podbuilder.Build(cfg, j)
	if err != nil {
		return fmt.Errorf("build pod: %w", err)
	}
	out, err := yaml.Marshal(pod)
	if err != nil {
		return err
	}
	_, err = d.Stdout.Write(out)
	return err
}

// Prepare creates the job's pod, records it in $TMPDIR and waits, with a
// watch bounded by poll_timeout, until all its containers run. A pod that
// cannot start is deleted before Prepare returns; one whose image pull
// failed is created again with the next pull policy, while there is one.
func (d *Driver) Prepare(ctx context.Context) error {
	if d.Env.TmpDir == "" {
		return fmt.Errorf("TMPDIR is not set: prepare keeps the job's state there")
	}
	cfg, j, err := d.forJob()
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		d.Log.Warn().Msg(w)
	}
	if err := d.checkResources(ctx, cfg); err != nil {
		return err
	}
	attempts := podbuilder.PullAttempts(cfg, j)
	for attempt := 0; ; attempt++ {
		pod, err := podbuilder.BuildAttempt(cfg, j, attempt)
		if err != nil {
			return fmt.Errorf("build pod: %w", err)
		}
		err = d.start(ctx, cfg, pod)
		var pull *pullError
		if err == nil || !errors.As(err, &pull) || attempt+1 >= attempts {
			return err
		}
		fmt.Fprintf(d.Stderr, "%v; trying the next pull policy\n", err)
	}
}

// start creates one pod, records it, and waits until it runs; a pod that
// cannot start is deleted.
func (d *Driver) start(ctx context.Context, cfg *config.Config, pod *corev1.Pod) error {
	cluster, err := d.clusterAccess()
	if err != nil {
		return err
	}
	// kubeAPI: pods, create
	created, err := cluster.Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod in namespace %s: %w%s", pod.Namespace, err, hint(err))
	}
	state := &State{Namespace: created.Namespace, Pod: created.Name, UID: string(created.UID), DriverDir: cfg.DriverDir}
	if err := saveState(d.Env.TmpDir, state); err != nil {
		d.deletePod(state)
		return err
	}
	fmt.Fprintf(d.Stderr, "Created pod %s/%s\n", created.Namespace, created.Name)
	timeout := time.Duration(cfg.PollTimeout) * time.Second
	if err := d.waitRunning(ctx, cluster, created, timeout); err != nil {
		d.printWarningEvents(cluster, state.Namespace, state.Pod)
		d.deletePod(state)
		return err
	}
	return nil
}

// deletePod removes a pod that failed to start, on its own deadline; the
// runner's cleanup call deletes it again if this fails.
func (d *Driver) deletePod(s *State) {
	ctx, cancel := context.WithTimeout(context.Background(), d.Config.CleanupResourcesTimeout.Duration)
	defer cancel()
	if err := d.deleteByState(ctx, s); err != nil {
		d.Log.Warn().Err(err).Str("pod", s.Pod).Msg("could not delete the pod; cleanup will retry")
	}
}
