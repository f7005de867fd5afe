package podbuilder

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// applyPodSettings sets the pod-level settings of cfg: the pod's own
// requests and limits, scheduling, DNS,
// host aliases, grace period, service account, pull secrets, and the
// operator's labels and annotations.
func applyPodSettings(pod *corev1.Pod, cfg *config.Config, j *job.Job) {
	p := &cfg.Pod
	spec := &pod.Spec
	if r := resources(cfg, config.PodLevel); r.Requests != nil || r.Limits != nil {
		spec.Resources = &r
	}
	spec.NodeSelector = p.NodeSelector
	spec.Tolerations = tolerations(p.Tolerations())
	spec.Affinity = affinity(p.Affinity)
	spec.PriorityClassName = p.PriorityClassName
	spec.SchedulerName = p.SchedulerName
	if p.RuntimeClassName != "" {
		spec.RuntimeClassName = &p.RuntimeClassName
	}
	spec.DNSPolicy = corev1.DNSPolicy(config.DNSPolicies[p.DNSPolicy])
	spec.DNSConfig = dnsConfig(p.DNSConfig)
	for _, h := range p.HostAliases {
		spec.HostAliases = append(spec.HostAliases, corev1.HostAlias{IP: h.IP, Hostnames: h.Hostnames})
	}
	spec.TerminationGracePeriodSeconds = p.PodTerminationGracePeriodSeconds
	spec.ActiveDeadlineSeconds = j.ActiveDeadline()
	spec.ServiceAccountName = cfg.ServiceAccount
	spec.AutomountServiceAccountToken = cfg.AutomountServiceAccountToken
	for _, name := range cfg.ImagePullSecrets {
		if !cfg.UseServiceAccountImagePullSecrets {
			spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
		}
	}

	// Operator labels first: k8sdrv's identifying labels must win, cleanup
	// finds the job's pods by them. Operator annotations override the
	// defaults, as GitLab documents.
	pod.Labels = merge(expandAll(p.PodLabels, j, labelValue), pod.Labels)
	pod.Annotations = merge(pod.Annotations, expandAll(p.PodAnnotations, j, nil))
}

// expandAll expands $VARIABLES of the job in every value, then applies
// clean (if any) to the result.
func expandAll(m map[string]string, j *job.Job, clean func(string) string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		v = j.Expand(v)
		if clean != nil {
			v = clean(v)
		}
		out[k] = v
	}
	return out
}

// merge returns base with over's entries added (over wins).
func merge(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}

func tolerations(ts []config.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range ts {
		tol := corev1.Toleration{Key: t.Key, Effect: corev1.TaintEffect(t.Effect), Operator: corev1.TolerationOpEqual, Value: t.Value}
		if t.Exists {
			tol.Operator, tol.Value = corev1.TolerationOpExists, ""
		}
		out = append(out, tol)
	}
	return out
}

func dnsConfig(c *config.DNSConfig) *corev1.PodDNSConfig {
	if c == nil {
		return nil
	}
	out := &corev1.PodDNSConfig{Nameservers: c.Nameservers, Searches: c.Searches}
	for _, o := range c.Options {
		out.Options = append(out.Options, corev1.PodDNSConfigOption{Name: o.Name, Value: o.Value})
	}
	return out
}

func affinity(a *config.Affinity) *corev1.Affinity {
	if a == nil {
		return nil
	}
	return &corev1.Affinity{
		NodeAffinity:    nodeAffinity(a.NodeAffinity),
		PodAffinity:     (*corev1.PodAffinity)(podAffinity(a.PodAffinity)),
		PodAntiAffinity: (*corev1.PodAntiAffinity)(podAffinity(a.PodAntiAffinity)),
	}
}

func nodeAffinity(na *config.NodeAffinity) *corev1.NodeAffinity {
	if na == nil {
		return nil
	}
	out := &corev1.NodeAffinity{}
	if na.Required != nil {
		out.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
		for _, t := range na.Required.Terms {
			out.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = append(
				out.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, nodeTerm(t))
		}
	}
	for _, p := range na.Preferred {
		out.PreferredDuringSchedulingIgnoredDuringExecution = append(out.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: p.Weight, Preference: nodeTerm(p.Preference)})
	}
	return out
}

func nodeTerm(t config.NodeSelectorTerm) corev1.NodeSelectorTerm {
	out := corev1.NodeSelectorTerm{}
	for _, r := range t.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, nodeRequirement(r))
	}
	for _, r := range t.MatchFields {
		out.MatchFields = append(out.MatchFields, nodeRequirement(r))
	}
	return out
}

func nodeRequirement(r config.Requirement) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOperator(r.Operator), Values: r.Values}
}

// podAffinity converts pod affinity and anti-affinity, which share a shape
// (corev1.PodAffinity and corev1.PodAntiAffinity are convertible).
func podAffinity(pa *config.PodAffinity) *corev1.PodAffinity {
	if pa == nil {
		return nil
	}
	out := &corev1.PodAffinity{}
	for _, t := range pa.Required {
		out.RequiredDuringSchedulingIgnoredDuringExecution = append(out.RequiredDuringSchedulingIgnoredDuringExecution, podTerm(t))
	}
	for _, w := range pa.Preferred {
		out.PreferredDuringSchedulingIgnoredDuringExecution = append(out.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.WeightedPodAffinityTerm{Weight: w.Weight, PodAffinityTerm: podTerm(w.Term)})
	}
	return out
}

func podTerm(t config.PodAffinityTerm) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector:     labelSelector(t.LabelSelector),
		Namespaces:        t.Namespaces,
		TopologyKey:       t.TopologyKey,
		NamespaceSelector: labelSelector(t.NamespaceSelector),
		MatchLabelKeys:    t.MatchLabelKeys,
		MismatchLabelKeys: t.MismatchLabelKeys,
	}
}

func labelSelector(s *config.LabelSelector) *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values,
		})
	}
	return out
}
