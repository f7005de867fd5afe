package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// DryRun prints the job's pod (its first attempt) as YAML and contacts no
// cluster; warnings about the configuration go to stderr.
func (d *Driver) DryRun(jc *config.JobConfig) error {
	for _, w := range jc.Warnings {
		d.Log.Warn().Msg(w)
	}
	pods, err := podbuilder.Build(jc)
	if err != nil {
		return fmt.Errorf("build pod: %w", err)
	}
	out, err := yaml.Marshal(pods[0])
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
func (d *Driver) Prepare(ctx context.Context, jc *config.JobConfig) error {
	if d.Env.TmpDir == "" {
		return fmt.Errorf("TMPDIR is not set: prepare keeps the job's state there")
	}
	if err := checkStateDir(d.Env.TmpDir); err != nil {
		return err
	}
	for _, w := range jc.Warnings {
		d.Log.Warn().Msg(w)
	}
	pods, err := podbuilder.Build(jc)
	if err != nil {
		return fmt.Errorf("build pod: %w", err)
	}
	if err := d.checkResources(ctx, jc.Config); err != nil {
		return err
	}
	id := d.identity()
	state := &State{Job: &id, DriverDir: jc.JobDriverDir(jc.Job)}
	for attempt, pod := range pods {
		err = d.start(ctx, jc.Config, pod, state)
		var pull *pullError
		if err == nil || !errors.As(err, &pull) || attempt+1 == len(pods) {
			return err
		}
		d.Log.Info().Msgf("%v; trying the next pull policy", err)
	}
	return err
}

// start creates one pod, adds it to the job's state, and waits until it
// runs; a pod that cannot start is deleted.
func (d *Driver) start(ctx context.Context, cfg *config.Config, pod *corev1.Pod, state *State) error {
	cluster, err := d.clusterAccess(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	pod = named(pod)
	pods := cluster.Pods(pod.Namespace)
	early := watchBeforeCreate(ctx, pods, pod)
	created, err := d.createPod(ctx, cfg, pods, pod)
	if err != nil {
		early.stop()
		return err
	}
	state.add(PodRef{Namespace: created.Namespace, Name: created.Name, UID: string(created.UID)})
	if err := saveState(d.Env.TmpDir, state); err != nil {
		early.stop()
		d.deletePod(cfg, state)
		return err
	}
	d.Log.Info().Msgf("Created pod %s/%s", created.Namespace, created.Name)
	timeout := time.Duration(cfg.PollTimeout) * time.Second
	if err := d.waitRunning(ctx, cluster, cfg, created, early, start, timeout); err != nil {
		d.printWarningEvents(cfg, cluster, state.Namespace, state.Pod)
		d.deletePod(cfg, state)
		return err
	}
	return nil
}

// deletePod removes a pod that failed to start, on its own deadline, with
// every earlier attempt's pod of the state (NotFound by now, unless its
// own delete failed); the runner's cleanup call deletes them all again if
// this fails.
func (d *Driver) deletePod(cfg *config.Config, s *State) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.CleanupResourcesTimeout.Duration)
	defer cancel()
	if err := d.deleteByState(ctx, cfg, s); err != nil {
		d.Log.Warn().Err(err).Str("pod", s.Pod).Msg("could not delete the pod; cleanup will retry")
	}
}
