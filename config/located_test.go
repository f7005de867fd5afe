package config

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// TestLoadNamesTheLine: in each shape of file, every problem names the
// line the operator wrote and the key as written there, one per line in
// the order of the file; a key the file does not set comes last, unlined.
func TestLoadNamesTheLine(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // "$FILE" stands for the path
	}{
		{
			name: "flat file",
			body: `# k8sdrv
builds_dir = "builds"
cpu_limit = "two"
dns_policy = "none"

[[volumes.empty_dir]]
name = "a"
mount_path = "/a"
[[volumes.empty_dir]]
name = "b"
mount_path = "b"
`,
			want: `$FILE:2: builds_dir: want an absolute path, got "builds"
$FILE:3: cpu_limit: "two" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)
$FILE:11: volumes.empty_dir[1].mount_path: want an absolute path, got "b"
$FILE: dns_config.nameservers: required when dns_policy is none`,
		},
		{
			name: "pasted section",
			body: `[runners.kubernetes]
  cpu_limit = "two"
  dns_policy = "none"
  [[runners.kubernetes.volumes.empty_dir]]
    name = "a"
    mount_path = "a"
  [[runners.kubernetes.volumes.empty_dir]]
    name = "b"
    mount_path = "/b"
`,
			want: `$FILE:2: runners.kubernetes.cpu_limit: "two" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)
$FILE:6: runners.kubernetes.volumes.empty_dir[0].mount_path: want an absolute path, got "a"
$FILE: runners.kubernetes.dns_config.nameservers: required when dns_policy is none`,
		},
		{
			name: "whole config.toml",
			body: `concurrent = 4

[[runners]]
  name = "k8s"
  url = "https://gitlab.example.com"
  token = "glrt-token"
  executor = "custom"
  builds_dir = "builds"
  [runners.custom]
    config_exec = "/usr/local/bin/k8sdrv"
  [runners.kubernetes]
    cpu_limit = "two"
    dns_policy = "none"
    [runners.kubernetes.node_tolerations]
      "gpu=true" = "NoScheduler"
`,
			want: `$FILE:8: runners.builds_dir: want an absolute path, got "builds"
$FILE:12: runners.kubernetes.cpu_limit: "two" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)
$FILE:15: runners.kubernetes.node_tolerations."gpu=true": effect "NoScheduler" is not one of NoSchedule, PreferNoSchedule, NoExecute or ""
$FILE: runners.kubernetes.dns_config.nameservers: required when dns_policy is none`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assertLoadError(t, tc.body, tc.want) })
	}
}

// TestLoadNamesTheLineOfAWrongType: the toml package's own errors keep the
// line and the whole key in every shape of file.
func TestLoadNamesTheLineOfAWrongType(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{
			name: "flat file",
			body: "namespace = \"ci\"\n\npoll_timeout = \"soon\"\n",
			want: "$FILE:3: poll_timeout: incompatible types: TOML value has type string; destination has type integer",
		},
		{
			name: "pasted section",
			body: "# limits\n[runners.kubernetes]\n  namespace = \"ci\"\n  image = \"alpine:3.20\"\n  privileged = false\n\n  # limits\n  cpu_limit = 5\n",
			want: "$FILE:8: runners.kubernetes.cpu_limit: incompatible types: TOML value has type int64; destination has type string",
		},
		{
			name: "whole config.toml",
			body: "concurrent = 4\n[[runners]]\n  url = \"https://gitlab.example.com\"\n  [runners.kubernetes]\n    namespace = \"ci\"\n    cleanup_resources_timeout = \"soon\"\n",
			want: `$FILE:6: runners.kubernetes.cleanup_resources_timeout: want a duration such as "90s" or a number of seconds`,
		},
		{
			name: "runner-level key",
			body: "[[runners]]\n  builds_dir = 1\n",
			want: "$FILE:2: runners.builds_dir: incompatible types: TOML value has type int64; destination has type string",
		},
		{
			// The toml package leaves a map alone when the file gives
			// it a scalar: the setting would silently not apply.
			name: "string for a table",
			body: "namespace = \"ci\"\nnode_selector = \"kubernetes.io/arch=arm64\"\n",
			want: "$FILE:2: node_selector: want a table such as { \"key\" = \"value\" }, found a string",
		},
		{
			name: "list for a table in a pasted section",
			body: "[runners.kubernetes]\n  pod_labels = [\"team=a\"]\n",
			want: "$FILE:2: runners.kubernetes.pod_labels: want a table such as { \"key\" = \"value\" }, found an array",
		},
		{
			name: "string for a nested table",
			body: "[[affinity.pod_affinity.required_during_scheduling_ignored_during_execution]]\n" +
				"topology_key = \"zone\"\n" +
				"[affinity.pod_affinity.required_during_scheduling_ignored_during_execution.label_selector]\n" +
				"match_labels = \"app=x\"\n",
			want: "$FILE:4: affinity.pod_affinity.required_during_scheduling_ignored_during_execution.label_selector.match_labels: " +
				"want a table such as { \"key\" = \"value\" }, found a string",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assertLoadError(t, tc.body, tc.want) })
	}
}

// TestLoadReportsASyntaxErrorOnOneLine: the toml package quotes the rest
// of the line in some messages, newline included; every problem is one
// line of k8sdrv's output.
func TestLoadReportsASyntaxErrorOnOneLine(t *testing.T) {
	assertLoadError(t, "namespace = \"ci\"\npoll_timeout = 0x\n", `$FILE:2: poll_timeout: not a hexadecimal number: '0x\n'`)
}

// TestLoadBlamesTheEnvironment: a value a K8SDRV_* variable set is its
// variable's problem, even where the file sets the key too.
func TestLoadBlamesTheEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("K8SDRV_CPU_LIMIT", "lots")
	path := writeConfig(t, "cpu_limit = \"1\"\nmemory_limit = \"much\"\n")

	_, err := Load(path)

	assert.Error(t, err, path+`:2: memory_limit: "much" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)
K8SDRV_CPU_LIMIT: cpu_limit: "lots" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)`)
}

func TestLoadBlamesAnUnparsableVariable(t *testing.T) {
	clearEnv(t)
	t.Setenv("K8SDRV_PRIVILEGED", "yes please")

	_, err := Load(writeConfig(t, "privileged = true\n"))

	assert.Error(t, err, `K8SDRV_PRIVILEGED: privileged: "yes please" is not a valid bool`)
}

// TestLoadReportsEveryVariableWithTheFile: every K8SDRV_* value that does
// not parse is reported, with the file's invalid values, each naming its
// own source; a key whose variable did not parse is not also blamed for
// the file's value.
func TestLoadReportsEveryVariableWithTheFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("K8SDRV_POLL_TIMEOUT", "soon")
	t.Setenv("K8SDRV_PRIVILEGED", "yes please")
	t.Setenv("K8SDRV_CLEANUP_RESOURCES_TIMEOUT", "later")
	t.Setenv("K8SDRV_NAMESPACE", "Not_A_Label")
	path := writeConfig(t, "poll_timeout = -5\ncpu_limit = \"two\"\n")

	_, err := Load(path)

	assert.Error(t, err, path+`:2: cpu_limit: "two" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)
K8SDRV_CLEANUP_RESOURCES_TIMEOUT: cleanup_resources_timeout: want a duration such as "90s" or a number of seconds
K8SDRV_NAMESPACE: namespace: "Not_A_Label" is not a valid namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')
K8SDRV_POLL_TIMEOUT: poll_timeout: "soon" is not a valid int
K8SDRV_PRIVILEGED: privileged: "yes please" is not a valid bool`)
}

// TestLoadReportsVariablesWithAFileThatDoesNotDecode: a file k8sdrv cannot
// decode, or with unknown keys, is not validated, but the variables'
// problems come with its own.
func TestLoadReportsVariablesWithAFileThatDoesNotDecode(t *testing.T) {
	clearEnv(t)
	t.Setenv("K8SDRV_POLL_INTERVAL", "often")
	path := writeConfig(t, "namespace = \"ci\"\npoll_timeout = 0x\n")

	_, err := Load(path)

	assert.Error(t, err, path+`:2: poll_timeout: not a hexadecimal number: '0x\n'
K8SDRV_POLL_INTERVAL: poll_interval: "often" is not a valid int`)

	path = writeConfig(t, "cpu_limit = \"two\"\nmemry_limit = \"1Gi\"\n")
	_, err = Load(path)
	assert.Error(t, err, path+`:2: memry_limit: unknown key
K8SDRV_POLL_INTERVAL: poll_interval: "often" is not a valid int`)
}

// assertLoadError loads body from a file and wants exactly the error want,
// in which "$FILE" stands for the file's path.
func assertLoadError(t *testing.T, body, want string) {
	t.Helper()
	clearEnv(t)
	path := writeConfig(t, body)
	_, err := Load(path)
	assert.Error(t, err, strings.ReplaceAll(want, "$FILE", path))
}

func TestKeyPath(t *testing.T) {
	for key, want := range map[string][]string{
		"namespace":                                {"namespace"},
		"volumes.pvc[1].name":                      {"volumes", "pvc", "[1]", "name"},
		"pod_spec[0] (my.patch).patch_path":        {"pod_spec", "[0]", "patch_path"},
		`node_tolerations."gpu=true"`:              {"node_tolerations", "gpu=true"},
		`node_tolerations."a.b=c".x`:               {"node_tolerations", "a.b=c", "x"},
		"container_lifecycle.pre_stop.exec":        {"container_lifecycle", "pre_stop", "exec"},
		"image_pull_secrets[2]":                    {"image_pull_secrets", "[2]"},
		"services[0].name":                         {"services", "[0]", "name"},
		"cap_add[0]":                               {"cap_add", "[0]"},
		"affinity.x[0].preference.y[1].key":        {"affinity", "x", "[0]", "preference", "y", "[1]", "key"},
		"pod_spec[3] (missing file).patch":         {"pod_spec", "[3]", "patch"},
		"host_aliases[0]":                          {"host_aliases", "[0]"},
		"resource_availability_check_max_attempts": {"resource_availability_check_max_attempts"},
	} {
		assert.DeepEqual(t, keyPath(key), want)
	}
}
