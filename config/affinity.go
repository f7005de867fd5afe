package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

var (
	nodeOperators  = setOf("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
	labelOperators = setOf("In", "NotIn", "Exists", "DoesNotExist")
)

func (a *Affinity) validate(add func(key, format string, args ...any)) {
	const node = "affinity.node_affinity"
	if na := a.NodeAffinity; na != nil {
		if na.Required != nil {
			if len(na.Required.Terms) == 0 {
				add(node+".required_during_scheduling_ignored_during_execution.node_selector_terms", "want at least one term: the API server refuses an empty list")
			}
			for i, term := range na.Required.Terms {
				validateNodeTerm(fmt.Sprintf("%s.required_during_scheduling_ignored_during_execution.node_selector_terms[%d]", node, i), term, add)
			}
		}
		for i, p := range na.Preferred {
			key := fmt.Sprintf("%s.preferred_during_scheduling_ignored_during_execution[%d]", node, i)
			validateWeight(key, p.Weight, add)
			validateNodeTerm(key+".preference", p.Preference, add)
		}
	}
	for name, pa := range map[string]*PodAffinity{"affinity.pod_affinity": a.PodAffinity, "affinity.pod_anti_affinity": a.PodAntiAffinity} {
		if pa == nil {
			continue
		}
		for i, term := range pa.Required {
			validatePodTerm(fmt.Sprintf("%s.required_during_scheduling_ignored_during_execution[%d]", name, i), term, add)
		}
		for i, w := range pa.Preferred {
			key := fmt.Sprintf("%s.preferred_during_scheduling_ignored_during_execution[%d]", name, i)
			validateWeight(key, w.Weight, add)
			validatePodTerm(key+".pod_affinity_term", w.Term, add)
		}
	}
}

func validateWeight(key string, w int32, add func(key, format string, args ...any)) {
	if w < 1 || w > 100 {
		add(key+".weight", "want 1 to 100, got %d", w)
	}
}

func validateNodeTerm(key string, term NodeSelectorTerm, add func(key, format string, args ...any)) {
	for i, r := range term.MatchExpressions {
		validateRequirement(fmt.Sprintf("%s.match_expressions[%d]", key, i), r, nodeOperators, add)
	}
	for i, r := range term.MatchFields {
		fieldKey := fmt.Sprintf("%s.match_fields[%d]", key, i)
		validateRequirement(fieldKey, r, nodeOperators, add)
		// Kubernetes supports one node field here (GitLab's example uses
		// a label name, which the API server rejects).
		if r.Key != "" && r.Key != "metadata.name" {
			add(fieldKey+".key", "%q is not a node field; the only one is metadata.name (use match_expressions for labels)", r.Key)
		}
	}
}

func validatePodTerm(key string, term PodAffinityTerm, add func(key, format string, args ...any)) {
	if term.TopologyKey == "" {
		add(key+".topology_key", "required")
	}
	for i, ns := range term.Namespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			add(fmt.Sprintf("%s.namespaces[%d]", key, i), "%q is not a valid namespace: %s", ns, msgs[0])
		}
	}
	for name, sel := range map[string]*LabelSelector{"label_selector": term.LabelSelector, "namespace_selector": term.NamespaceSelector} {
		if sel == nil {
			continue
		}
		for i, r := range sel.MatchExpressions {
			validateRequirement(fmt.Sprintf("%s.%s.match_expressions[%d]", key, name, i), r, labelOperators, add)
		}
		for _, k := range slices.Sorted(maps.Keys(sel.MatchLabels)) {
			labelKey := fmt.Sprintf("%s.%s.match_labels.%q", key, name, k)
			if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
				add(labelKey, "not a valid label key: %s", msgs[0])
			}
			if msgs := validation.IsValidLabelValue(sel.MatchLabels[k]); len(msgs) > 0 {
				add(labelKey, "%q is not a valid label value: %s", sel.MatchLabels[k], msgs[0])
			}
		}
	}
	validateLabelKeys(key, term, add)
}

// validateLabelKeys checks match_label_keys and mismatch_label_keys as the
// API server does, which adds "key In (the pod's value)" for each
// match_label_keys entry, and "key NotIn (...)" for each mismatch one, to
// the label selector when the pod has that label. It refuses a
// match_label_keys key that the selector already uses only when the pod
// has the label; k8sdrv refuses it always, as it does a key listed twice,
// so that a pod_labels change cannot make the pod invalid.
func validateLabelKeys(key string, term PodAffinityTerm, add func(key, format string, args ...any)) {
	inSelector := map[string]bool{}
	if sel := term.LabelSelector; sel != nil {
		for k := range sel.MatchLabels {
			inSelector[k] = true
		}
		for _, r := range sel.MatchExpressions {
			inSelector[r.Key] = true
		}
	}
	mismatch := setOf(term.MismatchLabelKeys...)
	for name, keys := range map[string][]string{"match_label_keys": term.MatchLabelKeys, "mismatch_label_keys": term.MismatchLabelKeys} {
		if len(keys) > 0 && term.LabelSelector == nil {
			add(key+"."+name, "needs a label_selector to add to")
		}
		seen := map[string]bool{}
		for i, k := range keys {
			entry := fmt.Sprintf("%s.%s[%d]", key, name, i)
			switch msgs := validation.IsQualifiedName(k); {
			case len(msgs) > 0:
				add(entry, "%q is not a valid label key: %s", k, msgs[0])
			case seen[k]:
				add(entry, "%q is listed twice", k)
			case name == "match_label_keys" && mismatch[k]:
				add(entry, "%q is also in mismatch_label_keys", k)
			case name == "match_label_keys" && inSelector[k]:
				add(entry, "%q is already a key of label_selector", k)
			}
			seen[k] = true
		}
	}
}

// validateRequirement checks one match expression as the API server
// does: a valid label key, a known operator, and the values the operator
// takes (In/NotIn: at least one; Exists/DoesNotExist: none; Gt/Lt: one
// integer).
func validateRequirement(key string, r Requirement, operators map[string]bool, add func(key, format string, args ...any)) {
	switch {
	case r.Key == "":
		add(key+".key", "required")
	case !strings.Contains(key, "match_fields"):
		for _, msg := range validation.IsQualifiedName(r.Key) {
			add(key+".key", "%q is not a valid label key: %s", r.Key, msg)
		}
	}
	if !operators[r.Operator] {
		add(key+".operator", "%q is not one of %v", r.Operator, slices.Sorted(maps.Keys(operators)))
		return
	}
	switch r.Operator {
	case "In", "NotIn":
		if len(r.Values) == 0 {
			add(key+".values", "operator %s needs at least one value", r.Operator)
		} else if len(r.Values) > 1 && strings.Contains(key, "match_fields") {
			add(key+".values", "operator %s on a node field takes exactly one value", r.Operator)
		}
	case "Exists", "DoesNotExist":
		if len(r.Values) > 0 {
			add(key+".values", "operator %s takes no values", r.Operator)
		}
	case "Gt", "Lt":
		if len(r.Values) != 1 {
			add(key+".values", "operator %s takes exactly one value", r.Operator)
		} else if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			add(key+".values", "operator %s takes an integer, got %q", r.Operator, r.Values[0])
		}
	}
	if !strings.Contains(key, "match_fields") {
		for i, v := range r.Values {
			for _, msg := range validation.IsValidLabelValue(v) {
				add(fmt.Sprintf("%s.values[%d]", key, i), "%q is not a valid label value: %s", v, msg)
			}
		}
	}
}
