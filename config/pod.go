package config

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Pod holds the pod-level settings: scheduling, DNS, metadata and
// termination. They sit at the top level of the file, as in GitLab Runner.
type Pod struct {
	NodeSelector    map[string]string `toml:"node_selector" ignored:"true"`
	NodeTolerations map[string]string `toml:"node_tolerations" ignored:"true"`
	Affinity        *Affinity         `toml:"affinity" ignored:"true"`

	PriorityClassName string `toml:"priority_class_name" envconfig:"K8SDRV_PRIORITY_CLASS_NAME"`
	SchedulerName     string `toml:"scheduler_name" envconfig:"K8SDRV_SCHEDULER_NAME"`
	RuntimeClassName  string `toml:"runtime_class_name" envconfig:"K8SDRV_RUNTIME_CLASS_NAME"`

	DNSPolicy   string      `toml:"dns_policy" envconfig:"K8SDRV_DNS_POLICY"`
	DNSConfig   *DNSConfig  `toml:"dns_config" ignored:"true"`
	HostAliases []HostAlias `toml:"host_aliases" ignored:"true"`

	PodLabels      map[string]string `toml:"pod_labels" ignored:"true"`
	PodAnnotations map[string]string `toml:"pod_annotations" ignored:"true"`

	PodTerminationGracePeriodSeconds *int64 `toml:"pod_termination_grace_period_seconds" envconfig:"K8SDRV_POD_TERMINATION_GRACE_PERIOD_SECONDS"`
	CleanupGracePeriodSeconds        *int64 `toml:"cleanup_grace_period_seconds" envconfig:"K8SDRV_CLEANUP_GRACE_PERIOD_SECONDS"`
	// TerminationGracePeriodSeconds is GitLab Runner's deprecated spelling
	// of pod_termination_grace_period_seconds: accepted, with a warning.
	TerminationGracePeriodSeconds *int64 `toml:"terminationGracePeriodSeconds" envconfig:"K8SDRV_TERMINATIONGRACEPERIODSECONDS"`
}

// HostAlias is one [[host_aliases]] entry.
type HostAlias struct {
	IP        string   `toml:"ip"`
	Hostnames []string `toml:"hostnames"`
}

// DNSConfig is the [dns_config] table.
type DNSConfig struct {
	Nameservers []string    `toml:"nameservers"`
	Searches    []string    `toml:"searches"`
	Options     []DNSOption `toml:"options"`
}

// DNSOption is one [[dns_config.options]] entry; its value is optional.
type DNSOption struct {
	Name  string  `toml:"name"`
	Value *string `toml:"value"`
}

// Affinity is the [affinity] table, with the sub-tables GitLab documents.
type Affinity struct {
	NodeAffinity    *NodeAffinity `toml:"node_affinity"`
	PodAffinity     *PodAffinity  `toml:"pod_affinity"`
	PodAntiAffinity *PodAffinity  `toml:"pod_anti_affinity"`
}

// NodeAffinity is [affinity.node_affinity].
type NodeAffinity struct {
	Required  *NodeSelector       `toml:"required_during_scheduling_ignored_during_execution"`
	Preferred []PreferredNodeTerm `toml:"preferred_during_scheduling_ignored_during_execution"`
}

// NodeSelector holds node selector terms, any of which may match.
type NodeSelector struct {
	Terms []NodeSelectorTerm `toml:"node_selector_terms"`
}

// NodeSelectorTerm matches node labels and fields; all must match.
type NodeSelectorTerm struct {
	MatchExpressions []Requirement `toml:"match_expressions"`
	MatchFields      []Requirement `toml:"match_fields"`
}

// PreferredNodeTerm is a weighted node preference.
type PreferredNodeTerm struct {
	Weight     int32            `toml:"weight"`
	Preference NodeSelectorTerm `toml:"preference"`
}

// Requirement is one match expression: key, operator and values.
type Requirement struct {
	Key      string   `toml:"key"`
	Operator string   `toml:"operator"`
	Values   []string `toml:"values"`
}

// PodAffinity is [affinity.pod_affinity] or [affinity.pod_anti_affinity].
type PodAffinity struct {
	Required  []PodAffinityTerm     `toml:"required_during_scheduling_ignored_during_execution"`
	Preferred []WeightedPodAffinity `toml:"preferred_during_scheduling_ignored_during_execution"`
}

// PodAffinityTerm selects pods by labels, in namespaces, per topology.
// MatchLabelKeys and MismatchLabelKeys name labels of the job's own pod
// whose values the API server adds to the label selector (In and NotIn).
type PodAffinityTerm struct {
	LabelSelector     *LabelSelector `toml:"label_selector"`
	Namespaces        []string       `toml:"namespaces"`
	TopologyKey       string         `toml:"topology_key"`
	NamespaceSelector *LabelSelector `toml:"namespace_selector"`
	MatchLabelKeys    []string       `toml:"match_label_keys"`
	MismatchLabelKeys []string       `toml:"mismatch_label_keys"`
}

// WeightedPodAffinity is a weighted pod affinity term.
type WeightedPodAffinity struct {
	Weight int32           `toml:"weight"`
	Term   PodAffinityTerm `toml:"pod_affinity_term"`
}

// LabelSelector is a Kubernetes label selector.
type LabelSelector struct {
	MatchLabels      map[string]string `toml:"match_labels"`
	MatchExpressions []Requirement     `toml:"match_expressions"`
}

// Toleration is one parsed node_tolerations entry.
type Toleration struct {
	Key, Value, Effect string
	// Exists is true for a bare key ("onlyKey" = ""): any value matches.
	Exists bool
}

// Tolerations parses node_tolerations, whose keys are "key=value" (or a
// bare "key") and whose values are the taint effect ("" for all effects),
// sorted by key so that pods are built the same way every time.
func (p *Pod) Tolerations() []Toleration {
	var out []Toleration
	for _, k := range slices.Sorted(maps.Keys(p.NodeTolerations)) {
		key, value, hasValue := strings.Cut(k, "=")
		out = append(out, Toleration{Key: key, Value: value, Effect: p.NodeTolerations[k], Exists: !hasValue})
	}
	return out
}

// TolerationProblem says why the API server would refuse the toleration
// of node_tolerations key k ("key", "key=value", "" for every taint) and
// effect, or returns "".
func TolerationProblem(k, effect string) string {
	switch effect {
	case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		return fmt.Sprintf("effect %q is not one of NoSchedule, PreferNoSchedule, NoExecute or \"\"", effect)
	}
	key, value, hasValue := strings.Cut(k, "=")
	if key != "" {
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			return fmt.Sprintf("taint key %q is not valid: %s", key, msgs[0])
		}
	}
	switch {
	case !hasValue:
		return ""
	case key == "":
		return "a value needs a taint key (an empty key, without \"=\", tolerates every taint)"
	}
	if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
		return fmt.Sprintf("taint value %q is not valid: %s", value, msgs[0])
	}
	return ""
}

// DNSPolicies maps dns_policy values to Kubernetes DNS policies.
var DNSPolicies = map[string]string{
	"none":                        "None",
	"default":                     "Default",
	"cluster-first":               "ClusterFirst",
	"cluster-first-with-host-net": "ClusterFirstWithHostNet",
}

func (p *Pod) validate(add func(key, format string, args ...any)) {
	for _, k := range slices.Sorted(maps.Keys(p.NodeTolerations)) {
		if problem := TolerationProblem(k, p.NodeTolerations[k]); problem != "" {
			add(fmt.Sprintf("node_tolerations.%q", k), "%s", problem)
		}
	}
	if _, ok := DNSPolicies[p.DNSPolicy]; p.DNSPolicy != "" && !ok {
		add("dns_policy", "%q is not one of none, default, cluster-first, cluster-first-with-host-net", p.DNSPolicy)
	}
	if p.DNSPolicy == "none" && (p.DNSConfig == nil || len(p.DNSConfig.Nameservers) == 0) {
		add("dns_config.nameservers", "required when dns_policy is none")
	}
	if p.DNSConfig != nil {
		p.DNSConfig.validate(add)
	}
	for i, h := range p.HostAliases {
		key := fmt.Sprintf("host_aliases[%d]", i)
		if h.IP == "" || len(h.Hostnames) == 0 {
			add(key, "needs ip and hostnames")
		}
		if h.IP != "" && net.ParseIP(h.IP) == nil {
			add(key+".ip", "%q is not an IP address", h.IP)
		}
		for n, name := range h.Hostnames {
			if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
				add(fmt.Sprintf("%s.hostnames[%d]", key, n), "%q is not a valid host name: %s", name, msgs[0])
			}
		}
	}
	p.validateMetadata(add)
	for key, v := range map[string]*int64{
		"pod_termination_grace_period_seconds": p.PodTerminationGracePeriodSeconds,
		"cleanup_grace_period_seconds":         p.CleanupGracePeriodSeconds,
		"terminationGracePeriodSeconds":        p.TerminationGracePeriodSeconds,
	} {
		if v != nil && *v < 0 {
			add(key, "want zero or more seconds, got %d", *v)
		}
	}
	if p.Affinity != nil {
		p.Affinity.validate(add)
	}
}

// validateMetadata checks the keys of node_selector, pod_labels and
// pod_annotations, and node_selector's values, as the API server would:
// the values of pod_labels may hold job variables and are made valid when
// the pod is built.
func (p *Pod) validateMetadata(add func(key, format string, args ...any)) {
	for setting, m := range map[string]map[string]string{
		"node_selector": p.NodeSelector, "pod_labels": p.PodLabels, "pod_annotations": p.PodAnnotations,
	} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
				add(fmt.Sprintf("%s.%q", setting, k), "not a valid key: %s", msgs[0])
			}
		}
	}
	if err := apimachineryvalidation.ValidateAnnotationsSize(p.PodAnnotations); err != nil {
		add("pod_annotations", "%v: the API server refuses the pod", err)
	}
	for _, k := range slices.Sorted(maps.Keys(p.NodeSelector)) {
		if msgs := validation.IsValidLabelValue(p.NodeSelector[k]); len(msgs) > 0 {
			add(fmt.Sprintf("node_selector.%q", k), "%q is not a valid label value: %s", p.NodeSelector[k], msgs[0])
		}
	}
}

// validate checks dns_config as the API server does: at most 3 name
// servers, each an IP address; at most 32 search domains, each a DNS
// subdomain (a trailing dot allowed), 2048 characters in all; options
// with names.
func (c *DNSConfig) validate(add func(key, format string, args ...any)) {
	if len(c.Nameservers) > 3 {
		add("dns_config.nameservers", "at most 3 name servers, got %d", len(c.Nameservers))
	}
	for i, ns := range c.Nameservers {
		if net.ParseIP(ns) == nil {
			add(fmt.Sprintf("dns_config.nameservers[%d]", i), "%q is not an IP address", ns)
		}
	}
	if len(c.Searches) > 32 {
		add("dns_config.searches", "at most 32 search domains, got %d", len(c.Searches))
	}
	total := 0
	for i, domain := range c.Searches {
		total += len(domain) + 1
		if domain == "." {
			continue
		}
		if msgs := validation.IsDNS1123Subdomain(strings.TrimSuffix(domain, ".")); len(msgs) > 0 {
			add(fmt.Sprintf("dns_config.searches[%d]", i), "%q is not a valid search domain: %s", domain, msgs[0])
		}
	}
	if total > 2048 {
		add("dns_config.searches", "%d characters in all, more than 2048", total)
	}
	for i, o := range c.Options {
		if o.Name == "" {
			add(fmt.Sprintf("dns_config.options[%d].name", i), "required")
		}
	}
}
