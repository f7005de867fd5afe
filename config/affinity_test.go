package config

import (
	"testing"

	"gotest.tools/v3/assert"
)

// TestLoadRejectsBadLabelKeys: match_label_keys and mismatch_label_keys
// that the API server would refuse, for this pod or once pod_labels gives
// it the label, are reported by key and line; a mismatch_label_keys key
// may also be in the selector.
func TestLoadRejectsBadLabelKeys(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, `[[affinity.pod_affinity.required_during_scheduling_ignored_during_execution]]
topology_key = "kubernetes.io/hostname"
match_label_keys = ["team", "Bad Key", "team", "zone", "app"]
mismatch_label_keys = ["zone", "stage", "stage"]
[affinity.pod_affinity.required_during_scheduling_ignored_during_execution.label_selector]
match_labels = { app = "ci", stage = "test" }
[[affinity.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution]]
weight = 10
[affinity.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution.pod_affinity_term]
topology_key = "kubernetes.io/hostname"
mismatch_label_keys = ["team"]
`)
	const term = "affinity.pod_affinity.required_during_scheduling_ignored_during_execution[0]"
	const anti = "affinity.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution[0].pod_affinity_term"
	_, err := Load(path)
	assert.Error(t, err, path+`:3: `+term+`.match_label_keys[1]: "Bad Key" is not a valid label key: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')
`+path+`:3: `+term+`.match_label_keys[2]: "team" is listed twice
`+path+`:3: `+term+`.match_label_keys[3]: "zone" is also in mismatch_label_keys
`+path+`:3: `+term+`.match_label_keys[4]: "app" is already a key of label_selector
`+path+`:4: `+term+`.mismatch_label_keys[2]: "stage" is listed twice
`+path+`:11: `+anti+`.mismatch_label_keys: needs a label_selector to add to`)
}
