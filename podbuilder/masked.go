package podbuilder

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// refuseMasked fails when pod holds a value of one of job j's masked
// variables anywhere, naming each place and variable (never the value).
// config.ForJob refuses the settings that would put one there; this last
// check covers what comes from the job itself (its image, services,
// service variables, name and ref), whatever a later change adds.
func refuseMasked(pod *corev1.Pod, j *job.Job) error {
	if len(j.Masked) == 0 {
		return nil
	}
	data, err := json.Marshal(pod)
	if err != nil {
		return fmt.Errorf("check the pod for masked values: %w", err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("check the pod for masked values: %w", err)
	}
	var errs []error
	walkStrings(doc, "", func(path, s string) {
		// Environment values carry every "$" doubled (see literal): a
		// masked value holding one is found in the value the container
		// gets. Other strings are checked both ways too, which can only
		// refuse more.
		names := j.MaskedIn(s)
		if unescaped := strings.ReplaceAll(s, "$$", "$"); len(names) == 0 && unescaped != s {
			names = j.MaskedIn(unescaped)
		}
		if len(names) > 0 {
			errs = append(errs, config.JobErrorf("the pod's %s would hold masked variable %s, and masked values never go into the pod",
				path, strings.Join(names, ", ")))
		}
	})
	return errors.Join(errs...)
}

var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// walkStrings calls visit with every string in a decoded JSON document,
// map keys included, and its path ("spec.containers[2].env[0].value").
func walkStrings(doc any, path string, visit func(path, s string)) {
	switch v := doc.(type) {
	case string:
		visit(path, v)
	case []any:
		for i, item := range v {
			walkStrings(item, fmt.Sprintf("%s[%d]", path, i), visit)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			sub := fmt.Sprintf("%s[%q]", path, k)
			if fieldName.MatchString(k) {
				sub = strings.TrimPrefix(path+"."+k, ".")
			}
			visit(sub+" (key)", k)
			walkStrings(v[k], sub, visit)
		}
	}
}
