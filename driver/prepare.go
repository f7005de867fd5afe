package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// DryRun prints what prepare would create, as YAML documents, and
// contacts no cluster: the job's namespace (namespace_per_job), its pod
// (the first attempt) and the pod's PodDisruptionBudget
// (pod_disruption_budget; without an owner, which only a created pod can
// be). Warnings about the configuration go to stderr.
func (d *Driver) DryRun(jc *config.JobConfig) error {
	for _, w := range jc.Warnings {
		d.Log.Warn().Msg(w)
	}
	pods, err := podbuilder.Build(jc)
	if err != nil {
		return fmt.Errorf("build pod: %w", err)
	}
	objects := []any{pods[0]}
	switch {
	case jc.NamespacePerJob && jc.Job.ID == "":
		d.Log.Warn().Msgf("namespace_per_job: the job has no CI_JOB_ID to name its namespace after; the pod is shown in namespace %s", jc.Namespace)
	case jc.NamespacePerJob:
		objects = append([]any{podbuilder.Namespace(jc)}, objects...)
	}
	if jc.PodDisruptionBudget {
		objects = append(objects, podbuilder.DisruptionBudget(jc.Job, pods[0]))
	}
	for i, obj := range objects {
		out, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			out = append([]byte("---\n"), out...)
		}
		if _, err := d.Stdout.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// Prepare creates the job's namespace (namespace_per_job) and pod (and the
// pod's PodDisruptionBudget, with pod_disruption_budget), records them in
// $TMPDIR and waits, with a watch bounded by poll_timeout, until all its
// containers run, then, for at most wait_for_services_timeout, until its
// services listen on their ports. A pod that cannot start is deleted
// before Prepare returns; one whose image pull failed is created again
// with the next pull policy, while there is one.
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
	services, err := podbuilder.Services(jc)
	if err != nil {
		return err
	}
	id := d.identity()
	state := &State{Job: &id, DriverDir: jc.JobDriverDir(jc.Job)}
	if jc.NamespacePerJob {
		if err := d.createJobNamespace(ctx, jc, state); err != nil {
			return err
		}
	}
	if err := d.checkResources(ctx, jc.Config); err != nil {
		return err
	}
	for attempt, pod := range pods {
		err = d.start(ctx, jc, pod, services, state)
		if err == nil {
			d.recordTime("prepare")
			return nil
		}
		var pull *pullError
		if !errors.As(err, &pull) || attempt+1 == len(pods) {
			return err
		}
		d.Log.Info().Msgf("%v; trying the next pull policy", err)
	}
	return err
}

// start creates one pod, adds it to the job's state, and waits until it
// runs and its services listen; a pod that cannot start is deleted.
func (d *Driver) start(ctx context.Context, jc *config.JobConfig, pod *corev1.Pod, services []podbuilder.Service, state *State) error {
	cfg := jc.Config
	cluster, err := d.clusterAccess(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	pod = named(pod)
	pods := cluster.Pods(pod.Namespace)
	early := watchBeforeCreate(ctx, pods, pod)
	early.waitConnected(ctx, time.Second)
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
	if cfg.PodDisruptionBudget {
		if err := d.createDisruptionBudget(ctx, jc, cluster, created); err != nil {
			early.stop()
			d.deletePod(cfg, state)
			return err
		}
	}
	timeout := time.Duration(cfg.PollTimeout) * time.Second
	w, err := d.waitPod(ctx, cluster, cfg, created, early, start, timeout)
	if err == nil {
		err = d.waitServices(ctx, cluster, cfg, w, services)
	}
	w.stop()
	if err != nil {
		err = d.explainServiceExit(ctx, cluster, w.last, services, err)
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
		d.Log.Warn().Msgf("could not delete pod %s/%s (cleanup will try again): %v", s.Namespace, s.Pod, err)
	}
}

// createDisruptionBudget creates the PodDisruptionBudget of the job's pod
// (pod_disruption_budget), owned by the pod so that it goes with it. Its
// name comes from the pod's, which k8sdrv picked for this job: one that
// exists already was made by an earlier try of this create.
func (d *Driver) createDisruptionBudget(ctx context.Context, jc *config.JobConfig, cluster Cluster, pod *corev1.Pod) error {
	pdb := podbuilder.DisruptionBudget(jc.Job, pod)
	if pdb.Spec.Selector.MatchLabels[podbuilder.LabelJobID] == "" {
		return errors.New("pod_disruption_budget: the job has no CI_JOB_ID, and a budget without it would select other jobs' pods")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(jc.PollTimeout)*time.Second)
	defer cancel()
	err := d.retryAPI(ctx, jc.Retry, "create poddisruptionbudget "+pdb.Namespace+"/"+pdb.Name, func(ctx context.Context) error {
		// kubeAPI: policy/poddisruptionbudgets, create
		_, err := cluster.DisruptionBudgets(pdb.Namespace).Create(ctx, pdb, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return kubeapi.Failed("create", "poddisruptionbudget", pdb.Namespace, pdb.Name, err)
	}
	d.Log.Info().Msgf("Created PodDisruptionBudget %s/%s", pdb.Namespace, pdb.Name)
	return nil
}
