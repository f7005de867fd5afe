package config

import (
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// notImplemented are GitLab Runner's [runners.kubernetes] keys that k8sdrv
// accepts without acting on them, each with the one-line warning that says
// what k8sdrv does instead: a configuration GitLab Runner takes loads
// unchanged, and nothing it asks for is dropped silently. A key names the
// whole table below it.
var notImplemented = map[string]string{
	"autoscaler": "autoscaler has no effect: k8sdrv starts no pause pods to keep nodes warm; " +
		"each job's pod waits up to poll_timeout while a cluster autoscaler adds a node for it",
	"helper_image_autoset_arch_and_os": "helper_image_autoset_arch_and_os has no effect: k8sdrv picks the default helper image's " +
		"architecture from node_selector's kubernetes.io/arch (x86_64 without one); set helper_image for another",
	"suspend_pvc_size": "suspend_pvc_size has no effect: k8sdrv does not suspend and resume jobs, " +
		"so it creates no volume to keep a suspended job's files",
	"suspend_pvc_storage_class": "suspend_pvc_storage_class has no effect: k8sdrv does not suspend and resume jobs, " +
		"so it creates no volume to keep a suspended job's files",
	"services.suspend_data_path": "services.suspend_data_path has no effect: k8sdrv does not suspend and resume jobs; " +
		"a service's data lives as long as the job's pod",
}

// NotImplementedKeys lists the keys of notImplemented, sorted: GitLab
// Runner's keys that k8sdrv accepts with a warning.
func NotImplementedKeys() []string {
	keys := make([]string, 0, len(notImplemented))
	for k := range notImplemented {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// notImplementedKey returns the notImplemented entry that key (as the
// toml package reports it, perhaps under [runners.kubernetes]) is or lies
// under, or "".
func (o *origin) notImplementedKey(key toml.Key) string {
	if o.runner != nil && len(key) > 2 && key[0] == "runners" && key[1] == "kubernetes" {
		key = key[2:]
	}
	for i := len(key); i > 0; i-- {
		if name := strings.Join(key[:i], "."); notImplemented[name] != "" {
			return name
		}
	}
	return ""
}
