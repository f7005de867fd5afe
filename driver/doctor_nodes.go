package driver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

const archLabel = "kubernetes.io/arch"

// architectureCheck compares the architecture of the nodes that can take
// job pods (those with node_selector's labels) with the one the helper
// image's tag names; where the tag names none it only reports the nodes'.
// Listing nodes is optional for k8sdrv: without it there is nothing to
// compare, which is no failure.
func architectureCheck(ctx context.Context, cluster Cluster, cfg *config.Config) Check {
	const name = "node architecture"
	ctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	// kubeAPI: nodes, list
	list, err := cluster.Nodes().List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsForbidden(err):
		return passed(name, "not checked: k8sdrv's account may not list nodes (optional)")
	case err != nil:
		return failed(name, kubeapi.Failed("list", "nodes", "", "", err).Error(), "see the error")
	}
	selector := labels.SelectorFromSet(cfg.NodeSelector)
	byArch := map[string][]string{}
	for _, n := range list.Items {
		if selector.Matches(labels.Set(n.Labels)) {
			byArch[nodeArch(n)] = append(byArch[nodeArch(n)], n.Name)
		}
	}
	if len(byArch) == 0 {
		return passed(name, fmt.Sprintf("no node of %d has node_selector's labels %v yet: job pods wait for one (a cluster autoscaler may add it)", len(list.Items), cfg.NodeSelector))
	}
	found := describeArchs(byArch)
	helper := config.HelperImageArch(cfg.HelperImage)
	if helper == "" {
		return passed(name, "nodes for job pods: "+found+"; the helper image's tag names no architecture (it must run on all of these)")
	}
	var other []string
	for arch, nodes := range byArch {
		if arch != helper {
			other = append(other, nodes...)
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		return failed(name, fmt.Sprintf("the helper image is for %s, but job pods may run on %s (nodes %s)", helper, found, strings.Join(other, ", ")),
			fmt.Sprintf("set node_selector %q = %q, or a helper_image for the other architectures", archLabel, helper))
	}
	return passed(name, "the helper image is for "+helper+", as every node for job pods: "+found)
}

// nodeArch is a node's architecture label, or what its kubelet reports.
func nodeArch(n corev1.Node) string {
	if arch := n.Labels[archLabel]; arch != "" {
		return arch
	}
	if arch := n.Status.NodeInfo.Architecture; arch != "" {
		return arch
	}
	return "unknown"
}

// describeArchs reads "amd64 (3 nodes), arm64 (1 node)".
func describeArchs(byArch map[string][]string) string {
	var parts []string
	for _, arch := range slices.Sorted(maps.Keys(byArch)) {
		n := len(byArch[arch])
		noun := "nodes"
		if n == 1 {
			noun = "node"
		}
		parts = append(parts, fmt.Sprintf("%s (%d %s)", arch, n, noun))
	}
	return strings.Join(parts, ", ")
}

// pullChecks start one short-lived pod per image (the helper image, and
// the default image when it differs) and report whether it pulled.
func (d *Driver) pullChecks(ctx context.Context, cluster Cluster, cfg *config.Config, runner string) []Check {
	checks := []Check{d.pullCheck(ctx, cluster, cfg, runner, podbuilder.HelperContainer, "helper image "+cfg.HelperImage)}
	if cfg.Image != cfg.HelperImage {
		checks = append(checks, d.pullCheck(ctx, cluster, cfg, runner, podbuilder.BuildContainer, "default image "+cfg.Image))
	}
	return checks
}

// pullCheck runs one probe pod until its container runs, or poll_timeout
// passes, and deletes it, on a deadline of its own, in any case.
func (d *Driver) pullCheck(ctx context.Context, cluster Cluster, cfg *config.Config, runner, container, name string) Check {
	name = "pull " + name
	pod, err := probePod(cfg, runner, container)
	if err != nil {
		return failed(name, err.Error(), "correct the configuration")
	}
	start := time.Now()
	created, err := d.createPod(ctx, cfg, cluster.Pods(pod.Namespace), pod)
	if err != nil {
		return failed(name, err.Error(), "see the permission and job pod lines above")
	}
	timeout := time.Duration(cfg.PollTimeout) * time.Second
	err = d.waitRunning(ctx, cluster, cfg, created, nil, start, timeout)
	elapsed := time.Since(start).Round(time.Millisecond)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.CleanupResourcesTimeout.Duration)
	delErr := deletePod(dctx, cluster, created.Namespace, created.Name, created.UID, created.Spec.TerminationGracePeriodSeconds)
	cancel()
	if delErr != nil {
		return failed(name, semicolonJoin(errorText(err), delErr.Error()), fmt.Sprintf("delete probe pod %s/%s (k8sdrv gc --all-runners finds it once its deadline passed)", created.Namespace, created.Name))
	}
	if err != nil {
		return failed(name, err.Error(), "check the image's name and registry, image_pull_secrets and pull_policy; the pod's events say more")
	}
	return passed(name, fmt.Sprintf("pulled and started in %s (probe pod %s/%s, deleted)", elapsed, created.Namespace, created.Name))
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// probePod is the job pod as podbuilder builds it (labels, scheduling,
// pull secrets and policy, security contexts) reduced to one container
// that only sleeps: no volumes, init containers or services. Its labels
// and activeDeadlineSeconds let `k8sdrv gc` collect it if doctor is
// killed before it deletes the pod.
func probePod(cfg *config.Config, runner, container string) (*corev1.Pod, error) {
	jc, err := doctorJob(cfg, runner)
	if err != nil {
		return nil, err
	}
	pods, err := podbuilder.Build(jc)
	if err != nil {
		return nil, fmt.Errorf("build pod: %w", err)
	}
	pod := pods[0]
	i := slices.IndexFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == container })
	c := pod.Spec.Containers[i]
	c.Command, c.Args = []string{"sh", "-c", "sleep " + strconv.Itoa(cfg.PollTimeout)}, nil
	c.VolumeMounts, c.Lifecycle, c.WorkingDir = nil, nil, ""
	c.LivenessProbe, c.ReadinessProbe, c.StartupProbe = nil, nil, nil
	pod.Spec.Containers, pod.Spec.InitContainers, pod.Spec.Volumes = []corev1.Container{c}, nil, nil
	pod.GenerateName = "k8sdrv-doctor-" + container + "-"
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations["k8sdrv.io/doctor"] = "pull check of the " + container + " image"
	zero := int64(0)
	pod.Spec.TerminationGracePeriodSeconds = &zero
	return pod, nil
}
