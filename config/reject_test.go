package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name string
		body string
		env  map[string]string
		// want are substrings of the error; "$FILE" stands for the path.
		want []string
	}{
		{
			name: "bad toleration effect",
			body: "[node_tolerations]\n\"gpu=true\" = \"NoScheduler\"",
			want: []string{`$FILE:2: node_tolerations."gpu=true": effect "NoScheduler" is not one of NoSchedule, PreferNoSchedule, NoExecute or ""`},
		},
		{
			name: "more values the API server refuses, found by the differential test over every pod setting",
			body: `builds_dir = "/k8sdrv"
cache_dir = "/k8sdrv/"
pod_annotations = { "x" = "` + strings.Repeat("a", 262145) + `" }
affinity = { node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [] } }, pod_anti_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "zone", namespace_selector = { match_labels = { "bad key" = "v", "ok" = "bad value!" } } }] } }
[[volumes.host_path]]
name = "h"
mount_path = "/h"
host_path = "/srv/../etc"
[[volumes.host_path]]
name = "i"
mount_path = "/i/../j"
[[volumes.empty_dir]]
name = "e"
mount_path = "/e"
size_limit = "-1Gi"
[[services]]
name = "redis"
environment = ["1X=y", "NOVALUE"]
[build_container_security_context]
privileged = true
allow_privilege_escalation = false
proc_mount = "Unmasked"
[helper_container_security_context]
proc_mount = "masked"`,
			want: []string{
				`$FILE:1: builds_dir: "/k8sdrv" is driver_dir, where k8sdrv keeps its own volume`,
				`$FILE:2: cache_dir: "/k8sdrv/" is also builds_dir: each is a volume of its own, and a pod cannot mount two at one path`,
				`$FILE:2: cache_dir: "/k8sdrv/" is driver_dir, where k8sdrv keeps its own volume`,
				`$FILE:3: pod_annotations: annotations size 262146 is larger than limit 262144: the API server refuses the pod`,
				`$FILE:4: affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms: want at least one term`,
				`$FILE:4: affinity.pod_anti_affinity.required_during_scheduling_ignored_during_execution[0].namespace_selector.match_labels."bad key": not a valid label key`,
				`$FILE:4: affinity.pod_anti_affinity.required_during_scheduling_ignored_during_execution[0].namespace_selector.match_labels."ok": "bad value!" is not a valid label value`,
				`$FILE:8: volumes.host_path[0].host_path: "/srv/../etc": a host path must not contain '..'`,
				`$FILE:11: volumes.host_path[1].mount_path: "/i/../j": a host path must not contain '..'`,
				`$FILE:15: volumes.empty_dir[0].size_limit: "-1Gi" is not a Kubernetes quantity`,
				`$FILE:18: services[0].environment[0]: "1X" is not a valid environment variable name`,
				`$FILE:18: services[0].environment[1]: "NOVALUE": want NAME=value`,
				`$FILE:21: build_container_security_context.allow_privilege_escalation: privileged = true and allow_privilege_escalation = false cannot go together`,
				`$FILE:22: build_container_security_context.proc_mount: unmasked needs a pod in its own user namespace`,
				`$FILE:24: helper_container_security_context.proc_mount: "masked" is not default or unmasked`,
			},
		},
		{
			name: "values the API server refuses, found by e2e's differential test",
			body: `dns_config = { nameservers = ["1.1.1.1", "x", "3.3.3.3", "4.4.4.4"], searches = ["a b", "ok.example."], options = [{ name = "" }] }
affinity = { node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "bad key", operator = "In", values = ["a"] }, { key = "zone", operator = "Exists", values = ["a"] }, { key = "n", operator = "Gt", values = ["x"] }] }] } } }
pod_security_context = { run_as_user = 2147483648 }
[[volumes.csi]]
name = "c"
mount_path = "/c"
driver = "Bad Driver"
[[volumes.config_map]]
name = "cm"
mount_path = "/cm"
items = { "k" = "../p" }`,
			want: []string{
				"$FILE:1: dns_config.nameservers: at most 3 name servers, got 4",
				`$FILE:1: dns_config.nameservers[1]: "x" is not an IP address`,
				`$FILE:1: dns_config.searches[0]: "a b" is not a valid search domain`,
				"$FILE:1: dns_config.options[0].name: required",
				`match_expressions[0].key: "bad key" is not a valid label key`,
				"match_expressions[1].values: operator Exists takes no values",
				`match_expressions[2].values: operator Gt takes an integer, got "x"`,
				"$FILE:3: pod_security_context.run_as_user: want a user or group id from 0 to 2147483647, got 2147483648",
				`$FILE:7: volumes.csi[0].driver: "Bad Driver" is not a valid CSI driver name`,
				`volumes.config_map[0].items."k": "../p" must be a relative path without '..'`,
			},
		},
		{
			name: "bad retry settings",
			body: "retry_limit = -1\nretry_backoff_max = -5\n[retry_limits]\n\"exceeded quota\" = 0\n\" \" = 2",
			want: []string{
				"$FILE:1: retry_limit: want 0 (the default, 5 tries) or more, got -1",
				"$FILE:2: retry_backoff_max: want milliseconds from 0 (the default, 2000) to 600000, got -5",
				`$FILE:4: retry_limits."exceeded quota": want 1 or more tries, got 0`,
				`$FILE:5: retry_limits." ": want the text of an error message, got an empty key`,
			},
		},
		{
			name: "toleration keys and values the API server refuses",
			body: "[node_tolerations]\n\"gpu type\" = \"\"\n\"=a100\" = \"NoSchedule\"\n\"gpu=a 100\" = \"\"",
			want: []string{
				`$FILE:2: node_tolerations."gpu type": taint key "gpu type" is not valid`,
				`$FILE:3: node_tolerations."=a100": a value needs a taint key`,
				`$FILE:4: node_tolerations."gpu=a 100": taint value "a 100" is not valid`,
			},
		},
		{
			name: "node_tolerations_overwrite_allowed that is no regular expression",
			body: `node_tolerations_overwrite_allowed = "gpu=("`,
			want: []string{`$FILE:1: node_tolerations_overwrite_allowed: "gpu=(" is not a regular expression`},
		},
		{
			name: "allowed users and groups that are no ids",
			body: "allowed_users = [\"1000\", \"gitlab\"]\nallowed_groups = [\"-1\", \"4294967296\"]",
			want: []string{
				`$FILE:1: allowed_users[1]: "gitlab" is not a user or group id (a number from 0 to 2147483647)`,
				`$FILE:2: allowed_groups[0]: "-1" is not a user or group id`,
				`$FILE:2: allowed_groups[1]: "4294967296" is not a user or group id`,
			},
		},
		{
			name: "namespace_per_job that is no bool",
			body: "namespace = \"ci\"\nnamespace_per_job = \"yes\"",
			want: []string{"$FILE:2: namespace_per_job: incompatible types: TOML value has type string; destination has type boolean"},
		},
		{
			name: "pod_disruption_budget that is no bool",
			body: "pod_disruption_budget = 1",
			want: []string{"$FILE:1: pod_disruption_budget: incompatible types"},
		},
		{
			name: "unknown dns_policy",
			body: `dns_policy = "clusterfirst"`,
			want: []string{`$FILE:1: dns_policy: "clusterfirst" is not one of none, default, cluster-first, cluster-first-with-host-net`},
		},
		{
			name: "dns_policy none without nameservers",
			body: `dns_policy = "none"`,
			want: []string{"$FILE: dns_config.nameservers: required when dns_policy is none"},
		},
		{
			name: "bad affinity",
			body: `[affinity.node_affinity]
[[affinity.node_affinity.preferred_during_scheduling_ignored_during_execution]]
weight = 0
[[affinity.node_affinity.preferred_during_scheduling_ignored_during_execution.preference.match_expressions]]
key = "zone"
operator = "in"
[[affinity.pod_anti_affinity.required_during_scheduling_ignored_during_execution]]
namespaces = ["a"]`,
			want: []string{
				"affinity.node_affinity.preferred_during_scheduling_ignored_during_execution[0].weight: want 1 to 100, got 0",
				`affinity.node_affinity.preferred_during_scheduling_ignored_during_execution[0].preference.match_expressions[0].operator: "in" is not one of`,
				"affinity.pod_anti_affinity.required_during_scheduling_ignored_during_execution[0].topology_key: required",
			},
		},
		{
			// The values of GitLab's own affinity example, which the API
			// server rejects: caught before anything is created.
			name: "affinity values Kubernetes rejects",
			body: `[[affinity.node_affinity.preferred_during_scheduling_ignored_during_execution]]
weight = 50
[[affinity.node_affinity.preferred_during_scheduling_ignored_during_execution.preference.match_fields]]
key = "cpu_type"
operator = "In"
values = ["arm64"]
[[affinity.pod_affinity.required_during_scheduling_ignored_during_execution]]
topology_key = "failure-domain.beta.kubernetes.io/zone"
namespaces = ["namespace_1"]`,
			want: []string{
				`preference.match_fields[0].key: "cpu_type" is not a node field; the only one is metadata.name`,
				`affinity.pod_affinity.required_during_scheduling_ignored_during_execution[0].namespaces[0]: "namespace_1" is not a valid namespace`,
			},
		},
		{
			name: "bad volumes",
			body: `[[volumes.empty_dir]]
name = "builds"
mount_path = "/b"
[[volumes.empty_dir]]
name = "scratch"
mount_path = "relative"
medium = "Disk"
[[volumes.pvc]]
name = "scratch"
mount_path = "/s"
[[volumes.csi]]
name = "Bad_Name"
mount_path = "/c"`,
			want: []string{
				`volumes.empty_dir[1].mount_path: want an absolute path, got "relative"`,
				`volumes.empty_dir[1].medium: "Disk" is not "", Memory or HugePages`,
				`volumes.pvc[0].name: "scratch" is also the name of volumes.empty_dir[1]`,
				`volumes.csi[0].name: "Bad_Name" is not a valid volume name`,
				"volumes.csi[0].driver: required",
			},
		},
		{
			name: "bad mount_propagation",
			body: `[[volumes.host_path]]
name = "h"
mount_path = "/h"
mount_propagation = "bidirectional"
[[volumes.empty_dir]]
name = "e"
mount_path = "/e"
mount_propagation = "Bidirectional"
[[volumes.pvc]]
name = "p"
mount_path = "/p"
mount_propagation = "HostToContainer"`,
			want: []string{
				`$FILE:4: volumes.host_path[0].mount_propagation: "bidirectional" is not None, HostToContainer or Bidirectional`,
				"$FILE:8: volumes.empty_dir[0].mount_propagation: Bidirectional needs privileged = true: Kubernetes allows it only in privileged containers",
			},
		},
		{
			name: "Bidirectional with privileged = false",
			body: "privileged = false\n[[volumes.pvc]]\nname = \"p\"\nmount_path = \"/p\"\nmount_propagation = \"Bidirectional\"",
			want: []string{"$FILE:5: volumes.pvc[0].mount_propagation: Bidirectional needs privileged = true"},
		},
		{
			name: "bad nfs volumes",
			body: `[[volumes.nfs]]
name = "n"
mount_path = "/n"
[[volumes.nfs]]
name = "m"
mount_path = "/m"
server = "nfs_1.example.com"
path = "exports/m"
[[volumes.nfs]]
name = "ok"
mount_path = "/ok"
server = "NFS.example.com"
path = "/exports"`,
			want: []string{
				"$FILE:1: volumes.nfs[0].server: required",
				`$FILE:1: volumes.nfs[0].path: want the export's absolute path, got ""`,
				`$FILE:7: volumes.nfs[1].server: "nfs_1.example.com" is not a host name or an IP address`,
				`$FILE:8: volumes.nfs[1].path: want the export's absolute path, got "exports/m"`,
			},
		},
		{
			name: "logs_base_dir and scripts_base_dir apart",
			body: "logs_base_dir = \"/var/log/ci\"\nscripts_base_dir = \"/tmp\"",
			want: []string{`$FILE:1: logs_base_dir: "/var/log/ci" is not scripts_base_dir "/tmp": k8sdrv keeps a stage's log beside its script, in one volume`},
		},
		{
			name: "relative base dirs",
			body: "logs_base_dir = \"tmp\"\nscripts_base_dir = \"tmp\"",
			want: []string{
				`$FILE:1: logs_base_dir: want an absolute path, got "tmp"`,
				`$FILE:2: scripts_base_dir: want an absolute path, got "tmp"`,
			},
		},
		{
			name: "a volume where k8sdrv's may go under scripts_base_dir",
			body: "scripts_base_dir = \"/tmp\"\n[[volumes.empty_dir]]\nname = \"e\"\nmount_path = \"/tmp/k8sdrv-1-2\"",
			want: []string{`$FILE:4: volumes.empty_dir[0].mount_path: "/tmp/k8sdrv-1-2" may be where k8sdrv mounts its own volume: k8sdrv-* under logs_base_dir or scripts_base_dir`},
		},
		{
			name: "bad pod_spec patches",
			body: `[[pod_spec]]
name = "both"
patch = "hostname: x"
patch_path = "/etc/patch.yaml"
[[pod_spec]]
name = "bad json patch"
patch = '{"op": "replace"}'
patch_type = "json"
[[pod_spec]]
name = "bad type"
patch = "hostname: x"
patch_type = "apply"
[[pod_spec]]
name = "missing file"
patch_path = "/nonexistent/patch.yaml"`,
			want: []string{
				"pod_spec[0] (both): set patch or patch_path, not both",
				"pod_spec[1] (bad json patch).patch: not a JSON patch (a list of operations)",
				`pod_spec[2] (bad type).patch_type: "apply" is not one of merge, json, strategic`,
				"pod_spec[3] (missing file).patch_path: stat /nonexistent/patch.yaml: no such file or directory",
			},
		},
		{
			name: "bad lifecycle hooks",
			body: `[container_lifecycle.post_start.exec]
command = []
[container_lifecycle.pre_stop.tcp_socket]
port = 0
[container_lifecycle.pre_stop.http_get]
port = 8080
[[container_lifecycle.pre_stop.http_get.http_headers]]
name = "header_name_1"
value = "v"`,
			want: []string{
				"container_lifecycle.post_start.exec.command: required",
				"container_lifecycle.pre_stop.tcp_socket.port: want a port from 1 to 65535, got 0",
				"container_lifecycle.pre_stop: set exactly one of exec, http_get, tcp_socket (found 2)",
				`container_lifecycle.pre_stop.http_get.http_headers[0].name: "header_name_1" is not an HTTP header name`,
			},
		},
		{
			name: "negative grace period",
			body: "pod_termination_grace_period_seconds = -1",
			want: []string{"pod_termination_grace_period_seconds: want zero or more seconds, got -1"},
		},
		{
			name: "host alias without hostnames",
			body: "[[host_aliases]]\nip = \"10.0.0.1\"",
			want: []string{"host_aliases[0]: needs ip and hostnames"},
		},
		{
			name: "negative quantity",
			body: "memory_limit = \"-1Gi\"\ncpu_request = \"-\"",
			want: []string{`cpu_request: "-" is not a Kubernetes quantity`, `memory_limit: "-1Gi" is not a Kubernetes quantity`},
		},
		{
			name: "every line names the file",
			body: "namespace = \"Not_Valid\"\nbuilds_dir = \"relative\"",
			want: []string{"$FILE:1: namespace: ", "\n$FILE:2: builds_dir: "},
		},
		{
			name: "a request above its limit",
			body: "helper_cpu_request = \"2\"\nhelper_cpu_limit = \"1\"\npod_memory_request = \"2Gi\"\npod_memory_limit = \"1Gi\"",
			want: []string{"$FILE:1: helper_cpu_request: 2 is above helper_cpu_limit (1)", "$FILE:3: pod_memory_request: 2Gi is above pod_memory_limit (1Gi)"},
		},
		{
			name: "a container limit above the pod's",
			body: "pod_cpu_limit = \"2\"\ncpu_request = \"1\"\ncpu_limit = \"4\"",
			want: []string{"$FILE:1: pod_cpu_limit: 2 is below cpu_limit (4): no container's limit may be above the pod's"},
		},
		{
			name: "containers requesting more than the pod",
			body: "pod_cpu_request = \"1500m\"\ncpu_request = \"1\"\nhelper_cpu_limit = \"1\"\n[[services]]\nname = \"redis\"",
			want: []string{"$FILE:1: pod_cpu_request: 1500m is below the containers' cpu requests together (2: build, helper and 1 services; a container without a request counts its limit)"},
		},
		{
			// Without a pod request the API server makes the containers'
			// total the pod's request, which must fit the pod's limit.
			name: "containers requesting more than the pod's limit",
			body: "pod_memory_limit = \"1536Mi\"\nmemory_limit = \"1Gi\"\nhelper_memory_request = \"1Gi\"",
			want: []string{"$FILE:1: pod_memory_limit: 1536Mi is below the containers' memory requests together (2Gi: build, helper and 0 services"},
		},
		{
			name: "invalid pod quantity",
			body: "pod_memory_limit = \"lots\"\npod_cpu_request_overwrite_max_allowed = \"-1\"",
			want: []string{`$FILE:1: pod_memory_limit: "lots" is not a Kubernetes quantity`, `$FILE:2: pod_cpu_request_overwrite_max_allowed: "-1" is not a Kubernetes quantity`},
		},
		{
			name: "invalid quantity",
			body: `cpu_limit = "two"`,
			want: []string{`$FILE:1: cpu_limit: "two" is not a Kubernetes quantity`},
		},
		{
			name: "every invalid quantity",
			body: "memory_request = \"1GB\"\nhelper_cpu_request = \"1.2.3\"\nservice_memory_limit = \"lots\"",
			want: []string{"helper_cpu_request: \"1.2.3\"", "memory_request: \"1GB\"", "service_memory_limit: \"lots\""},
		},
		{
			name: "namespace that is not a DNS label",
			body: `namespace = "CI_Jobs"`,
			want: []string{`$FILE:1: namespace: "CI_Jobs" is not a valid namespace`},
		},
		{
			name: "relative builds_dir",
			body: `builds_dir = "builds"`,
			want: []string{`$FILE:1: builds_dir: want an absolute path, got "builds"`},
		},
		{
			name: "relative cache_dir and driver_dir",
			body: "cache_dir = \"cache\"\ndriver_dir = \"./k8sdrv\"",
			want: []string{`cache_dir: want an absolute path, got "cache"`, `driver_dir: want an absolute path, got "./k8sdrv"`},
		},
		{
			name: "cert_file without key_file",
			body: "host = \"https://10.0.0.1:6443\"\ncert_file = \"/etc/k8sdrv/client.crt\"",
			want: []string{"$FILE:2: cert_file: cert_file and key_file must be set together"},
		},
		{
			name: "key_file without cert_file",
			body: "host = \"https://10.0.0.1:6443\"\nkey_file = \"/etc/k8sdrv/client.key\"",
			want: []string{"cert_file: cert_file and key_file must be set together"},
		},
		{
			name: "bearer_token without host",
			body: `bearer_token = "abc"`,
			want: []string{"$FILE: host: required when"},
		},
		{
			name: "ca_file without host",
			body: `ca_file = "/ca.crt"`,
			want: []string{"host: required when"},
		},
		{
			name: "host that is not a URL",
			body: `host = "10.0.0.1:6443"`,
			want: []string{`host: want a URL such as https://10.0.0.1:6443, got "10.0.0.1:6443"`},
		},
		{
			name: "negative durations",
			body: "cleanup_resources_timeout = \"-5s\"\nreconnect_timeout = -1",
			want: []string{"cleanup_resources_timeout: want a positive duration", "reconnect_timeout: want a positive duration"},
		},
		{
			name: "duration that is not one",
			body: `cleanup_resources_timeout = "soon"`,
			want: []string{`$FILE:1: cleanup_resources_timeout: want a duration such as "90s"`},
		},
		{
			name: "negative poll settings",
			body: "poll_timeout = -1\npoll_interval = -2",
			want: []string{"poll_timeout: want a positive number of seconds up to 9223372036, got -1", "poll_interval: want a positive number of seconds up to 9223372036, got -2"},
		},
		{
			// -1 turns the wait off, as in GitLab Runner; other negative
			// values are a mistake rather than another way to say it.
			name: "wait_for_services_timeout below -1",
			body: "wait_for_services_timeout = -5",
			want: []string{":1: wait_for_services_timeout: want seconds up to 9223372036, or -1 to not wait for services, got -5"},
		},
		{
			name: "wait_for_services_timeout in a pasted [runners.docker]",
			body: "[[runners]]\n  [runners.docker]\n    wait_for_services_timeout = -2\n",
			want: []string{":3: runners.docker.wait_for_services_timeout: want seconds up to 9223372036, or -1 to not wait for services, got -2"},
		},
		{
			// A time.Duration holds 9223372036 s: one more would overflow
			// into a negative poll_timeout that fails prepare at once.
			name: "poll seconds that overflow a duration",
			body: "poll_timeout = 9223372037\npoll_interval = 9223372036",
			want: []string{":1: poll_timeout: want a positive number of seconds up to 9223372036, got 9223372037"},
		},
		{
			// ... or a cleanup deadline of 0.29 s.
			name: "a duration in seconds that overflows",
			body: "cleanup_resources_timeout = 18446744073",
			want: []string{":1: cleanup_resources_timeout: 18446744073 seconds is more than k8sdrv can wait (at most 9223372036)"},
		},
		{
			name: "a duration string in seconds that overflows",
			body: "reconnect_timeout = \"9223372037\"",
			want: []string{":1: reconnect_timeout: 9223372037 seconds is more than k8sdrv can wait (at most 9223372036)"},
		},
		{
			// The runtime would refuse them only at pull time.
			name: "image names that are no image references",
			body: "image = \"Ubuntu:22.04\"\nhelper_image = \"helper image\"\n[[services]]\nname = \"docker:27:dind\"\nalias = \"docker_daemon\"",
			want: []string{
				`$FILE:1: image: "Ubuntu:22.04": not a valid image reference`,
				`$FILE:2: helper_image: "helper image": not a valid image reference`,
				`$FILE:4: services[0].name: "docker:27:dind": not a valid image reference`,
				`$FILE:5: services[0].alias: "docker_daemon" is not a valid host name`,
			},
		},
		{
			// Each of these passed config and --dry-run and failed only
			// when the API server refused the pod.
			name: "pod settings the API server refuses",
			body: `driver_dir = "/k8sdrv"
[node_selector]
"bad key!" = "linux"
"kubernetes.io/os" = "not a value"
[pod_labels]
"a/b/c" = "x"
[[host_aliases]]
ip = "10.0.0.300"
hostnames = ["db_1"]
[pod_security_context]
run_as_user = -1
supplemental_groups = [1000, -5]
[build_container_security_context]
run_as_group = -2
[[volumes.host_path]]
name = "h"
mount_path = "/data"
host_path = "relative/dir"
sub_path = "../etc"
[[volumes.empty_dir]]
name = "e"
mount_path = "/data/"
[[volumes.empty_dir]]
name = "k"
mount_path = "/k8sdrv"`,
			want: []string{
				`node_selector."bad key!": not a valid key`,
				`node_selector."kubernetes.io/os": "not a value" is not a valid label value`,
				`pod_labels."a/b/c": not a valid key`,
				`host_aliases[0].ip: "10.0.0.300" is not an IP address`,
				`host_aliases[0].hostnames[0]: "db_1" is not a valid host name`,
				`pod_security_context.run_as_user: want a user or group id from 0 to 2147483647, got -1`,
				`pod_security_context.supplemental_groups[1]: want a user or group id from 0 to 2147483647, got -5`,
				`build_container_security_context.run_as_group: want a user or group id from 0 to 2147483647, got -2`,
				`volumes.host_path[0].host_path: want an absolute path, got "relative/dir"`,
				`volumes.host_path[0].sub_path: "../etc" must be a relative path without '..'`,
				`volumes.host_path[0].mount_path: "/data" is also the mount path of volumes.empty_dir[0]`,
				`volumes.empty_dir[1].mount_path: "/k8sdrv" is driver_dir, where k8sdrv keeps its own volume`,
			},
		},
		{
			name: "service without name",
			body: "[[services]]\nalias = \"db\"",
			want: []string{"services[0].name: required"},
		},
		{
			name: "wrong type",
			body: `poll_timeout = "soon"`,
			want: []string{"$FILE:1: poll_timeout: incompatible types"},
		},
		{
			name: "malformed TOML",
			body: `namespace = "ci`,
			want: []string{"$FILE:1: namespace: "},
		},
		{
			name: "two [[runners]] entries",
			body: "[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"",
			want: []string{"$FILE:3: runners: want one [[runners]] entry, found 2"},
		},
		{
			name: "runners that is not a table",
			body: `runners = "kubernetes"`,
			want: []string{"$FILE:1: runners: want a table"},
		},
		{
			name: "invalid value from the environment",
			env:  map[string]string{"K8SDRV_NAMESPACE": "Not_A_Label"},
			want: []string{`K8SDRV_NAMESPACE: namespace: "Not_A_Label" is not a valid namespace`},
		},
		{
			name: "unparsable value from the environment",
			env:  map[string]string{"K8SDRV_POLL_TIMEOUT": "soon"},
			want: []string{`K8SDRV_POLL_TIMEOUT: poll_timeout: "soon" is not a valid int`},
		},
		{
			name: "every problem at once",
			body: "cpu_limit = \"x\"\nnamespace = \"-\"\nbuilds_dir = \"b\"\nbearer_token = \"t\"",
			want: []string{"$FILE: ", "builds_dir:", "cpu_limit:", "host:", "namespace:"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			path := writeConfig(t, tc.body)
			_, err := Load(path)
			assert.Assert(t, err != nil)
			for _, want := range tc.want {
				assert.Check(t, is.Contains(err.Error(), strings.ReplaceAll(want, "$FILE", path)))
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "absent.toml")
	_, err := Load(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, path)
}

func TestLoadReportsEveryUnknownKeyWithFile(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // "line: key", in the order of the file
	}{
		{
			name: "top-level keys",
			body: "namespace = \"ci\"\nnamespaces = \"typo\"\nimage_name = \"x\"\n[extra]\na = 1\nb = 2\n",
			want: []string{"2: namespaces", "3: image_name", "4: extra"},
		},
		{
			name: "key of a service",
			body: "[[services]]\nname = \"redis\"\nports = [6379]\n",
			want: []string{"3: services.ports"},
		},
		{
			name: "every key of every service",
			body: "[[services]]\nname = \"redis\"\nports = [6379]\nimage = \"x\"\n[[services]]\nname = \"db\"\nvariables = []\nports = [5432]\n",
			want: []string{"3: services.ports", "4: services.image", "7: services.variables", "8: services.ports"},
		},
		{
			name: "keys of a pasted [runners.kubernetes] section",
			body: "[[runners]]\nurl = \"https://gitlab.example.com\"\n[runners.kubernetes]\nnamespace = \"ci\"\ncpus = 2\nmemory = \"1Gi\"\n",
			want: []string{"5: runners.kubernetes.cpus", "6: runners.kubernetes.memory"},
		},
		{
			name: "key of an inline table",
			body: "namespace = \"ci\"\npod_security_context = { run_as_user = 1000, fs_grup = 1000 }\n",
			want: []string{"2: pod_security_context.fs_grup"},
		},
		{
			// GitLab Runner takes mount_propagation on host_path, pvc and
			// empty_dir volumes only.
			name: "mount_propagation of a volume kind without it",
			body: "[[volumes.config_map]]\nname = \"c\"\nmount_path = \"/c\"\nmount_propagation = \"None\"\n",
			want: []string{"4: volumes.config_map.mount_propagation"},
		},
		{
			name: "mount_propagation of an nfs volume",
			body: "[[volumes.nfs]]\nname = \"n\"\nmount_path = \"/n\"\nserver = \"nfs\"\npath = \"/e\"\nmount_propagation = \"None\"\n",
			want: []string{"6: volumes.nfs.mount_propagation"},
		},
		{
			name: "misspelt section header",
			body: "[runners.kubernets]\nnamespace = \"ci\"\n",
			want: []string{"1: runners.kubernets"},
		},
		{
			name: "misspelt section header in a whole config.toml",
			body: "concurrent = 2\n[[runners]]\nurl = \"https://gitlab.example.com\"\n[runners.custom]\nconfig_exec = \"k8sdrv\"\n[runners.kubernets]\nnamespace = \"ci\"\n",
			want: []string{"6: runners.kubernets"},
		},
		{
			name: "gitlab-runner's global keys outside a config.toml",
			body: "concurrent = 2\n",
			want: []string{"1: concurrent"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			path := writeConfig(t, tc.body)
			_, err := Load(path)
			assert.Assert(t, err != nil)
			var want []string
			for _, w := range tc.want {
				want = append(want, path+":"+w+": unknown key")
			}
			assert.DeepEqual(t, strings.Split(err.Error(), "\n"), want)
		})
	}
}

func TestLoadErrorsNeverShowBearerToken(t *testing.T) {
	const token = "s3cr3t-bearer-TOKEN"
	tests := []struct {
		name string
		body string
		env  map[string]string
	}{
		{name: "token without host", body: `bearer_token = "` + token + `"`},
		{name: "token with unknown key", body: "host = \"https://k8s\"\nbearer_token = \"" + token + "\"\nbogus = 1"},
		{name: "token with invalid quantity", body: "host = \"https://k8s\"\nbearer_token = \"" + token + "\"\ncpu_limit = \"x\""},
		{name: "unquoted token", body: "host = \"https://k8s\"\nbearer_token = " + token},
		{name: "unterminated token", body: "host = \"https://k8s\"\nbearer_token = \"" + token},
		{name: "token with invalid escape", body: "host = \"https://k8s\"\nbearer_token = \"" + token + `\q"`},
		{name: "token in a list", body: "host = \"https://k8s\"\nbearer_token = [\"" + token + "\"]"},
		{name: "token defined twice", body: "bearer_token = \"" + token + "\"\nbearer_token = \"" + token + "\""},
		{name: "token in [runners.kubernetes] without host", body: "[runners.kubernetes]\nbearer_token = \"" + token + "\""},
		{name: "token from the environment without host", env: map[string]string{"K8SDRV_BEARER_TOKEN": token}},
		{name: "bad host next to token", body: "host = \"k8s\"\nbearer_token = \"" + token + "\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := Load(writeConfig(t, tc.body))
			assert.Assert(t, err != nil)
			assert.Check(t, !strings.Contains(err.Error(), token), "token in error: %s", err)
		})
	}
}
