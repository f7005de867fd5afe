package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/k8sdrv/k8sdrv/job"
)

// checkMasked refuses every place where cfg (the operator's configuration
// c with the job's overwrites applied) would put a value of one of job j's
// masked variables into the pod: label and annotation keys and values
// (after expanding $VARIABLES), claim names, the namespace and the
// service account. A pod is kept in the cluster, in its audit log and in
// every backup, readable by anyone who may read pods; refusing, rather
// than expanding to nothing, tells the job's author why their label is
// missing. The message names the variable, never its value.
func (c *Config) checkMasked(cfg *Config, j *job.Job) []error {
	if len(j.Masked) == 0 {
		return nil
	}
	var errs []error
	check := func(where, value string) {
		if names := j.MaskedIn(value); len(names) > 0 {
			errs = append(errs, jobErrorf("%s: it would hold masked variable %s, and masked values never go into the pod",
				where, strings.Join(names, ", ")))
		}
	}
	for _, m := range []struct {
		setting, overwrite string
		operator, final    map[string]string
	}{
		{"pod_labels", "KUBERNETES_POD_LABELS_*", c.PodLabels, cfg.PodLabels},
		{"pod_annotations", "KUBERNETES_POD_ANNOTATIONS_*", c.PodAnnotations, cfg.PodAnnotations},
		{"node_selector", "KUBERNETES_NODE_SELECTOR_*", c.NodeSelector, cfg.NodeSelector},
	} {
		for _, k := range slices.Sorted(maps.Keys(m.final)) {
			setting := m.setting
			if v, ok := m.operator[k]; !ok || v != m.final[k] {
				setting = m.overwrite // the job added or replaced it
			}
			// Key and value are stored apart: check each on its own.
			check(fmt.Sprintf("%s %q", setting, k), k)
			check(fmt.Sprintf("%s %q", setting, k), j.Expand(m.final[k]))
		}
	}
	for _, p := range cfg.Volumes.PVC {
		check(fmt.Sprintf("volumes.pvc %q", p.Name), j.Expand(p.Name))
	}
	check("namespace", cfg.Namespace)
	check("service_account", cfg.ServiceAccount)
	return errs
}
