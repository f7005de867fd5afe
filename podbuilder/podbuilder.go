// Package podbuilder turns the operator's configuration and a CI job into the
// job's pod. It is pure: no API client, no clock, no randomness, so the same
// input always gives the same pod (see the golden files in testdata/).
package podbuilder

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podlayout"
	"github.com/k8sdrv/k8sdrv/scripts"
)

// Container names. Stages find their container by these names.
const (
	BuildContainer  = "build"
	HelperContainer = "helper"
	servicePrefix   = "svc-"
)

// Names of k8sdrv's own volumes; newLayout keeps them clear of the
// operator's volume names, whatever those are.
const (
	buildsVolume = "k8sdrv-builds"
	cacheVolume  = "k8sdrv-cache"
	// stagesVolume + container name: each of the build and helper
	// containers has its own, so that a build script cannot plant
	// commands or fake results for the helper's stages.
	stagesVolume = "k8sdrv-stages-"
)

// Labels k8sdrv puts on every object it creates; cleanup finds a job's
// objects by them when the state file is gone.
const (
	LabelManagedBy    = "app.kubernetes.io/managed-by"
	LabelJobID        = "k8sdrv.io/job-id"
	LabelProjectID    = "k8sdrv.io/project-id"
	LabelRunner       = "k8sdrv.io/runner"
	LabelConcurrentID = "k8sdrv.io/concurrent-id"
	ManagedBy         = "k8sdrv"
)

// Build returns job jc's pod, once per pull attempt (see
// config.JobConfig.PullAttempts): the attempts differ only in their image
// pull policies. jc must come from config.ForJob without an error: Build
// checks no operator rule again.
func Build(jc *config.JobConfig) ([]*corev1.Pod, error) {
	lists := pullPolicies(jc)
	pods := make([]*corev1.Pod, jc.PullAttempts())
	for attempt := range pods {
		pod, err := build(jc, func(c []corev1.Container) { applyPullPolicies(c, lists, attempt) })
		if err != nil {
			return nil, err
		}
		pods[attempt] = pod
	}
	return pods, nil
}

// build returns the pod, with setPullPolicies applied to its containers
// before the operator's pod_spec patches (which may change them again).
func build(jc *config.JobConfig, setPullPolicies func([]corev1.Container)) (*corev1.Pod, error) {
	cfg, j := jc.Config, jc.Job
	l := newLayout(cfg, j)
	services, err := serviceContainers(jc, l)
	if err != nil {
		return nil, err
	}
	aliases, err := serviceHostAliases(cfg, j)
	if err != nil {
		return nil, err
	}
	containers := append([]corev1.Container{
		buildContainer(jc, l),
		helperContainer(cfg, l),
	}, services...)
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName(j),
			Namespace:    cfg.Namespace,
			Labels:       Labels(j),
			Annotations:  annotations(j),
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    containers,
			Volumes:       l.volumes,
			HostAliases:   aliases,
		},
	}
	setPullPolicies(pod.Spec.Containers)
	applyPodSettings(pod, cfg, j)
	pod.Spec.SecurityContext = podSecurityContext(cfg.PodSecurityContext)
	pod.Spec.Containers[0].Lifecycle = lifecycle(cfg.ContainerLifecycle)
	if err := applyPatches(&pod.Spec, cfg.PodSpec); err != nil {
		return nil, err
	}
	if err := refuseUnprivilegedBidirectional(&pod.Spec); err != nil {
		return nil, err
	}
	if err := refuseUnmaskedProc(&pod.Spec); err != nil {
		return nil, err
	}
	// The job's annotation overwrites and expanded variables add to the
	// operator's, which config.Validate has checked alone.
	if err := apimachineryvalidation.ValidateAnnotationsSize(pod.Annotations); err != nil {
		return nil, fmt.Errorf("pod_annotations: %w, which the API server refuses", err)
	}
	if err := refuseMasked(pod, j); err != nil {
		return nil, err
	}
	return pod, nil
}

// Labels returns the labels identifying job j's objects.
func Labels(j *job.Job) map[string]string {
	labels := map[string]string{LabelManagedBy: ManagedBy}
	for key, value := range map[string]string{
		LabelJobID:        j.ID,
		LabelProjectID:    j.ProjectID,
		LabelRunner:       j.RunnerShortToken,
		LabelConcurrentID: j.ConcurrentID,
	} {
		if v := labelValue(value); v != "" {
			labels[key] = v
		}
	}
	return labels
}

func annotations(j *job.Job) map[string]string {
	out := map[string]string{}
	for key, value := range map[string]string{
		"job.runner.gitlab.com/id":         j.ID,
		"job.runner.gitlab.com/url":        j.URL,
		"job.runner.gitlab.com/sha":        j.CommitSHA,
		"job.runner.gitlab.com/before_sha": j.CommitBeforeSHA,
		"job.runner.gitlab.com/ref":        j.CommitRef,
		"job.runner.gitlab.com/name":       j.Name,
		"job.runner.gitlab.com/timeout":    timeout(j.Timeout),
		"project.runner.gitlab.com/id":     j.ProjectID,
	} {
		if value != "" {
			out[key] = value
		}
	}
	return out
}

// timeout is the job's timeout as GitLab Runner annotates it: a Go
// duration ("1h0m0s"), or "" when the job does not say (a manual prepare).
// GitLab Runner writes its default of two hours then, but that is not a
// timeout k8sdrv knows the job to have.
func timeout(seconds int64) string {
	if seconds <= 0 {
		return ""
	}
	return (time.Duration(min(seconds, maxSeconds)) * time.Second).String()
}

// maxSeconds is the longest timeout a time.Duration holds.
const maxSeconds = int64(math.MaxInt64 / time.Second)

// generateName follows GitLab Runner's pod names
// (runner-<token>-project-<id>-concurrent-<n>-) so operators recognise them;
// parts the job does not have (a manual prepare) are left out.
func generateName(j *job.Job) string {
	parts := []string{"runner", j.RunnerShortToken}
	for _, p := range [][2]string{{"project", j.ProjectID}, {"concurrent", j.ConcurrentID}} {
		if p[1] != "" {
			parts = append(parts, p[0], p[1])
		}
	}
	name := strings.Join(parts, "-")
	name = strings.Trim(invalidNameChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(name) > 57 {
		name = strings.TrimRight(name[:57], "-")
	}
	return name + "-"
}

var (
	invalidNameChars  = regexp.MustCompile(`[^a-z0-9-]+`)
	invalidLabelChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// labelValue makes s a valid label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending with an alphanumeric character.
func labelValue(s string) string {
	s = invalidLabelChars.ReplaceAllString(s, "_")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "._-")
}

func buildContainer(jc *config.JobConfig, l layout) corev1.Container {
	cfg, j := jc.Config, jc.Job
	image := j.Image.Name
	if image == "" {
		image = cfg.Image
	}
	command, args := keepalive(), []string(nil)
	// A job's `image: entrypoint:` runs first, with k8sdrv's command as its
	// arguments, as in GitLab Runner; `entrypoint: [""]` only clears the
	// image's own, which k8sdrv's command replaces anyway.
	if entrypoint := nonEmpty(j.Image.Entrypoint); len(entrypoint) > 0 {
		command, args = entrypoint, command
	}
	return corev1.Container{
		Name:            BuildContainer,
		Image:           image,
		Command:         command,
		Args:            args,
		VolumeMounts:    l.jobMounts(BuildContainer),
		Resources:       resources(cfg, config.BuildContainer),
		SecurityContext: runAs(securityContext(cfg, cfg.BuildContainerSecurityContext), jc.BuildRunAs),
	}
}

func helperContainer(cfg *config.Config, l layout) corev1.Container {
	return corev1.Container{
		Name:            HelperContainer,
		Image:           cfg.HelperImage,
		Command:         keepalive(),
		VolumeMounts:    l.jobMounts(HelperContainer),
		Resources:       resources(cfg, config.HelperContainer),
		SecurityContext: securityContext(cfg, cfg.HelperContainerSecurityContext),
	}
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// keepalive is the main process of the build and helper containers: stages
// arrive by exec, so the container only has to stay up.
func keepalive() []string { return []string{"sh", "-c", scripts.Keepalive} }

// layout is the pod's volumes and the mounts its containers share.
type layout struct {
	volumes []corev1.Volume
	mounts  []corev1.VolumeMount // build, helper and service containers
	// stages is the execution-model volume of the build and of the
	// helper container, by container name.
	stages map[string]corev1.VolumeMount
}

// newLayout places k8sdrv's emptyDir volumes for the builds and cache
// directories (unless an operator volume is mounted exactly there), the
// operator's volumes, and one execution-model volume for each of the
// build and helper containers, at the same path.
func newLayout(cfg *config.Config, j *job.Job) layout {
	opVolumes, opMounts := operatorVolumes(cfg, j)
	own := ownNames(opVolumes)
	l := layout{stages: map[string]corev1.VolumeMount{}}
	for _, v := range []struct{ name, dir string }{{buildsVolume, cfg.BuildsDir}, {cacheVolume, cfg.CacheDir}} {
		if !mountedAt(opMounts, v.dir) {
			name := own(v.name)
			l.volumes = append(l.volumes, emptyDir(name))
			l.mounts = append(l.mounts, corev1.VolumeMount{Name: name, MountPath: v.dir})
		}
	}
	l.volumes = append(l.volumes, opVolumes...)
	l.mounts = append(l.mounts, opMounts...)
	for _, container := range []string{BuildContainer, HelperContainer} {
		name := own(stagesVolume + container)
		l.volumes = append(l.volumes, emptyDir(name))
		l.stages[container] = corev1.VolumeMount{Name: name, MountPath: podlayout.New(cfg.JobDriverDir(j)).MountPath()}
	}
	return l
}

// ownNames returns a function that gives each of k8sdrv's volumes its
// name, or that name with a number added where an operator volume already
// has it: operators name their volumes freely.
func ownNames(operator []corev1.Volume) func(base string) string {
	taken := map[string]bool{}
	for _, v := range operator {
		taken[v.Name] = true
	}
	return func(base string) string {
		name := base
		for n := 1; taken[name]; n++ {
			name = base + "-" + strconv.Itoa(n)
		}
		taken[name] = true
		return name
	}
}

// jobMounts are the mounts of the build or the helper container.
func (l layout) jobMounts(container string) []corev1.VolumeMount {
	return append(append([]corev1.VolumeMount(nil), l.mounts...), l.stages[container])
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}
