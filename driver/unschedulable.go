package driver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// The reasons of the events a cluster autoscaler gives an unschedulable
// pod: a node is being added for it, or no node group could take it.
const (
	reasonTriggeredScaleUp  = "TriggeredScaleUp"
	reasonNotTriggerScaleUp = "NotTriggerScaleUp"
)

// schedulingCheck decides, while the pod is unschedulable, whether waiting
// can help: it can while a cluster autoscaler adds a node, or while a node
// that could hold the pod is busy; it cannot when the pod requests more
// than any node has even when empty.
type schedulingCheck struct {
	cluster Cluster
	log     zerolog.Logger
	scaleUp string // the TriggeredScaleUp message printed last
	checked string // what the nodes were last compared for
}

// check returns an error when the unschedulable pod can never fit a node.
// It never fails for want of information: an event or node list that
// cannot be read leaves the pod to poll_timeout.
func (s *schedulingCheck) check(ctx context.Context, pod *corev1.Pod) error {
	cond := unschedulable(pod)
	if cond == nil {
		return nil
	}
	autoscaler := s.autoscalerEvent(ctx, pod)
	if autoscaler != nil && autoscaler.Reason == reasonTriggeredScaleUp {
		if autoscaler.Message != s.scaleUp {
			s.log.Info().Msgf("The cluster autoscaler is adding a node for pod %s/%s: %s", pod.Namespace, pod.Name, autoscaler.Message)
			s.scaleUp = autoscaler.Message
		}
		return nil
	}
	if autoscaler == nil && !allInsufficient(cond.Message) {
		return nil // another reason (selectors, taints, volumes): nodes may change
	}
	key := cond.Message
	if autoscaler != nil {
		key += "\n" + autoscaler.Message
	}
	if key == s.checked {
		return nil
	}
	s.checked = key
	err := s.fitsNoNode(ctx, pod)
	if err != nil && autoscaler != nil {
		return fmt.Errorf("%w; the cluster autoscaler adds no node: %s", err, autoscaler.Message)
	}
	if err != nil {
		return fmt.Errorf("%w (%s)", err, cond.Message)
	}
	return nil
}

// unschedulable returns the pod's PodScheduled condition when the
// scheduler found no node for it.
func unschedulable(pod *corev1.Pod) *corev1.PodCondition {
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// autoscalerEvent returns the pod's latest TriggeredScaleUp or
// NotTriggerScaleUp event, or nil when there is none (no autoscaler, or
// none that has looked at the pod yet).
func (s *schedulingCheck) autoscalerEvent(ctx context.Context, pod *corev1.Pod) *corev1.Event {
	// kubeAPI: events, list
	list, err := s.cluster.Events(pod.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod.Name).String(),
	})
	if err != nil {
		s.log.Debug().Err(kubeapi.Failed("list", "events", pod.Namespace, "", err)).Msg("cannot tell whether a cluster autoscaler adds a node")
		return nil
	}
	var latest *corev1.Event
	for i, e := range list.Items {
		if e.InvolvedObject.Name != pod.Name || e.InvolvedObject.UID != "" && e.InvolvedObject.UID != pod.UID {
			continue
		}
		if e.Reason != reasonTriggeredScaleUp && e.Reason != reasonNotTriggerScaleUp {
			continue
		}
		if latest == nil || !eventTime(e).Before(eventTime(*latest)) {
			latest = &list.Items[i]
		}
	}
	return latest
}

// allInsufficient reports whether the scheduler's message says that every
// node lacks room ("0/3 nodes are available: 2 Insufficient cpu,
// 1 Insufficient memory."): each node is listed under the first filter
// that refused it, so all reasons being Insufficient means no node was
// refused for anything else.
func allInsufficient(message string) bool {
	_, rest, ok := strings.Cut(message, " nodes are available: ")
	if !ok || strings.HasPrefix(message, "0/0 ") {
		return false
	}
	reasons, _, _ := strings.Cut(rest, ". ")
	reasons = strings.TrimSuffix(reasons, ".")
	for r := range strings.SplitSeq(reasons, ", ") {
		count, reason, _ := strings.Cut(r, " ")
		if _, err := strconv.Atoi(count); err != nil || !strings.HasPrefix(reason, "Insufficient ") {
			return false
		}
	}
	return true
}

// fitsNoNode returns an error naming what the pod requests beyond every
// node's allocatable resources, or nil when some node could hold it once
// empty or the nodes cannot be listed (k8sdrv's account may lack the
// permission: then the pod waits for poll_timeout).
func (s *schedulingCheck) fitsNoNode(ctx context.Context, pod *corev1.Pod) error {
	// kubeAPI: nodes, list
	list, err := s.cluster.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		if err != nil {
			s.log.Debug().Err(kubeapi.Failed("list", "nodes", "", "", err)).Msg("cannot compare the pod with the nodes")
		}
		return nil
	}
	requests := podRequests(pod)
	if slices.ContainsFunc(list.Items, func(n corev1.Node) bool { return fits(requests, n.Status.Allocatable) }) {
		return nil
	}
	return tooLarge(pod, requests, list.Items)
}

// fits reports whether requests fit within allocatable.
func fits(requests, allocatable corev1.ResourceList) bool {
	for name, q := range requests {
		if a := allocatable[name]; q.Cmp(a) > 0 {
			return false
		}
	}
	return true
}

// tooLarge says which of the pod's requests no node has: a resource
// beyond the largest node's, or else the combination.
func tooLarge(pod *corev1.Pod, requests corev1.ResourceList, nodes []corev1.Node) error {
	var beyond []string
	for _, name := range slices.Sorted(maps.Keys(requests)) {
		largest := nodes[0]
		for _, n := range nodes[1:] {
			if n.Status.Allocatable.Name(name, resource.DecimalSI).Cmp(*largest.Status.Allocatable.Name(name, resource.DecimalSI)) > 0 {
				largest = n
			}
		}
		req, has := requests[name], largest.Status.Allocatable.Name(name, resource.DecimalSI)
		if req.Cmp(*has) > 0 {
			beyond = append(beyond, fmt.Sprintf("%s %s, and the largest node (%s) has %s allocatable", name, req.String(), largest.Name, has.String()))
		}
	}
	what := strings.Join(beyond, "; ")
	if what == "" {
		what = describe(requests) + ", which no node has at once"
	}
	return fmt.Errorf("pod %s/%s fits no node of the cluster even when empty: it requests %s (hint: lower the job's requests, or add larger nodes)", pod.Namespace, pod.Name, what)
}

func describe(list corev1.ResourceList) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(list)) {
		q := list[name]
		parts = append(parts, string(name)+" "+q.String())
	}
	return strings.Join(parts, ", ")
}

// podRequests is what the scheduler reserves for the pod: its containers'
// requests (sidecars included) or, where larger, an init container's,
// the pod-level requests where set, plus the runtime's overhead.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	total := corev1.ResourceList{}
	add := func(to, list corev1.ResourceList) {
		for name, q := range list {
			sum := to[name].DeepCopy()
			sum.Add(q)
			to[name] = sum
		}
	}
	for _, c := range pod.Spec.Containers {
		add(total, c.Resources.Requests)
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(total, c.Resources.Requests)
			continue
		}
		for name, q := range c.Resources.Requests {
			if q.Cmp(total[name]) > 0 {
				total[name] = q.DeepCopy()
			}
		}
	}
	if pod.Spec.Resources != nil {
		for name, q := range pod.Spec.Resources.Requests {
			total[name] = q.DeepCopy()
		}
	}
	add(total, pod.Spec.Overhead)
	for name, q := range total {
		if q.IsZero() {
			delete(total, name)
		}
	}
	return total
}
