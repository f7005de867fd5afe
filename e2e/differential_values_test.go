package e2e

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
)

// quantities are values an operator might write for any request or limit.
var quantities = []string{`"1"`, `"0"`, `"-1"`, `"1.5"`, `"1e3"`, `"0.0001"`, `"abc"`, `"1Ki"`, `"500m"`, `"1Gi"`, `"-5Mi"`, `"10mb"`, `" 1"`}

// containerSecurityContexts are values for each *_container_security_context.
var containerSecurityContexts = []string{`{ run_as_user = 0 }`, `{ run_as_group = -1 }`, `{ capabilities = { add = ["x y"] } }`,
	`{ run_as_non_root = true, run_as_user = 0 }`, `{ privileged = true }`, `{ privileged = true, allow_privilege_escalation = false }`,
	`{ allow_privilege_escalation = false }`, `{ read_only_root_filesystem = true }`, `{ proc_mount = "default" }`, `{ proc_mount = "Unmasked" }`,
	`{ proc_mount = "masked" }`, `{ selinux_type = "a b" }`, `{ seccomp_profile = { type = "Localhost", localhost_profile = "../x" } }`,
	`{ app_armor_profile = { type = "Localhost", localhost_profile = " p" } }`, `{ capabilities = { add = ["SYS_ADMIN"] }, allow_privilege_escalation = false }`}

// differentialValues are, per setting that ends up in the pod, values an
// operator might write: valid ones, and the kinds of mistakes the API
// server refuses (case, spaces, underscores, signs, ranges, paths).
// TestDifferentialCoversEveryPodSetting keeps it complete.
var differentialValues = map[string][]string{
	"builds_dir":                             {`"/builds"`, `"builds"`, `"/k8sdrv"`, `"/a b"`, `"/x/../y"`, `"/cache"`},
	"cache_dir":                              {`"/cache"`, `"cache"`, `"/builds"`, `"/c:d"`},
	"driver_dir":                             {`"/k8sdrv"`, `"rel"`, `"/builds/x"`, `"/d d"`},
	"logs_base_dir":                          {`"/tmp"`, `"tmp"`, `"/"`},
	"scripts_base_dir":                       {`"/tmp"`, `"/var/tmp"`, `"tmp/"`},
	"namespace":                              {`"ci"`, `"CI"`, `"a_b"`, `"-x"`, `"` + strings.Repeat("n", 64) + `"`},
	"image":                                  {`"alpine:3.20"`, `"Alpine"`, `"a b"`, `"registry:5000/x@sha256:abc"`, `"x:"`, `""`},
	"helper_image":                           {`"registry.example.com/helper:v1"`, `"Helper"`, `"h h"`, `"h:@"`},
	"helper_image_flavor":                    {`"ubuntu"`, `"alpine3.18"`, `"Ubuntu"`, `"x y"`, `"ubi-fips"`},
	"privileged":                             {`true`, `false`},
	"allow_privilege_escalation":             {`true`, `false`},
	"pull_policy":                            {`"always"`, `"never"`, `"if-not-present"`, `["always", "if-not-present"]`, `"Always"`, `"sometimes"`, `[]`},
	"service_account":                        {`"gitlab-ci-builds"`, `"CI"`, `"a_b"`, `"a.b"`},
	"automount_service_account_token":        {`true`, `false`},
	"use_service_account_image_pull_secrets": {`true`, `false`},
	"image_pull_secrets":                     {`["regcred"]`, `["Reg_Cred"]`, `[""]`, `["a", "a"]`},
	"node_selector":                          {`{ "a" = "b" }`, `{ "A/B" = "c" }`, `{ "k" = "v v" }`, `{ "k" = "" }`, `{ "x.io/y" = "z" }`, `{ "-k" = "v" }`, `{ "k" = "` + strings.Repeat("v", 64) + `" }`, `{ "kubernetes.io/arch" = "arm64" }`},
	"node_tolerations":                       {`{ "k=v" = "NoSchedule" }`, `{ "k" = "" }`, `{ "=v" = "NoSchedule" }`, `{ "k v" = "" }`, `{ "k=v v" = "NoExecute" }`, `{ "k=v" = "noschedule" }`, `{ "" = "" }`, `{ "" = "NoSchedule" }`},
	"pod_labels":                             {`{ "a" = "b" }`, `{ "a" = "bad value!" }`, `{ "app.kubernetes.io/x" = "y" }`, `{ "x" = "` + strings.Repeat("l", 64) + `" }`, `{ "k8s.io/" = "v" }`, `{ "a" = "$CI_JOB_ID" }`, `{ "a" = "-x-" }`},
	"pod_annotations":                        {`{ "a" = "b" }`, `{ "a b" = "c" }`, `{ "example.com/x" = "multi\nline" }`, `{ "/x" = "y" }`, `{ "x" = "` + strings.Repeat("a", 300000) + `" }`},
	"host_aliases":                           {`[{ ip = "10.0.0.1", hostnames = ["a"] }]`, `[{ ip = "::1", hostnames = ["a.b"] }]`, `[{ ip = "300.1.1.1", hostnames = ["a"] }]`, `[{ ip = "10.0.0.1", hostnames = ["A_B"] }]`, `[{ ip = "10.0.0.1", hostnames = [] }]`, `[{ ip = "010.0.0.1", hostnames = ["a"] }]`, `[{ ip = " 10.0.0.1", hostnames = ["a"] }]`},
	"priority_class_name":                    {`"priority-1"`, `"Priority_1"`, `"a b"`},
	"scheduler_name":                         {`"custom"`, `"a b"`, `"UPPER"`, `"a/b"`},
	"runtime_class_name":                     {`"kata"`, `"Kata"`, `"a_b"`},
	"dns_policy":                             {`"none"`, `"default"`, `"cluster-first"`, `"cluster-first-with-host-net"`, `"ClusterFirst"`},
	"dns_config":                             {`{ nameservers = ["1.1.1.1"] }`, `{ nameservers = ["x"] }`, `{ searches = ["a b"] }`, `{ options = [{ name = "" }] }`, `{ nameservers = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"] }`, `{ searches = ["A.b"] }`, `{ options = [{ name = "ndots", value = "x" }] }`},
	"cap_add":                                {`["NET_ADMIN"]`, `["net_admin"]`, `["CAP_SYS_TIME"]`, `[""]`, `["A B"]`, `["SYS_ADMIN"]`},
	"cap_drop":                               {`["ALL"]`, `["x y"]`, `["all"]`},
	"pod_security_context": {`{ run_as_user = 1000 }`, `{ run_as_user = -1 }`, `{ run_as_user = 2147483648 }`, `{ fs_group = -5 }`, `{ supplemental_groups = [-1] }`,
		`{ run_as_non_root = true, run_as_user = 0 }`, `{ selinux_type = "a b" }`, `{ seccomp_profile = { type = "Localhost", localhost_profile = "/abs" } }`,
		`{ app_armor_profile = { type = "Unconfined" } }`, `{ seccomp_profile = { type = "runtimedefault" } }`, `{ run_as_group = 4294967296 }`},
	"build_container_security_context":     containerSecurityContexts,
	"helper_container_security_context":    containerSecurityContexts,
	"service_container_security_context":   containerSecurityContexts,
	"cpu_request":                          quantities,
	"cpu_limit":                            quantities,
	"memory_request":                       quantities,
	"memory_limit":                         quantities,
	"ephemeral_storage_request":            quantities,
	"ephemeral_storage_limit":              quantities,
	"helper_cpu_request":                   quantities,
	"helper_cpu_limit":                     quantities,
	"helper_memory_request":                quantities,
	"helper_memory_limit":                  quantities,
	"helper_ephemeral_storage_request":     quantities,
	"helper_ephemeral_storage_limit":       quantities,
	"service_cpu_request":                  quantities,
	"service_cpu_limit":                    quantities,
	"service_memory_request":               quantities,
	"service_memory_limit":                 quantities,
	"service_ephemeral_storage_request":    quantities,
	"service_ephemeral_storage_limit":      quantities,
	"pod_cpu_request":                      quantities,
	"pod_cpu_limit":                        quantities,
	"pod_memory_request":                   quantities,
	"pod_memory_limit":                     quantities,
	"pod_termination_grace_period_seconds": {`0`, `30`, `-1`, `9223372036854775807`},
	"terminationGracePeriodSeconds":        {`10`, `-1`},
	"services": {`[{ name = "redis:7" }]`, `[{ name = "redis:7", alias = "A_B" }]`, `[{ name = "Redis" }]`, `[{ name = "redis", environment = ["1X=y"] }]`,
		`[{ name = "redis", environment = ["A=$(B)", "C"] }]`, `[{ name = "redis", command = ["a"], entrypoint = ["b"] }]`, `[{ name = "r", alias = "a,a" }, { name = "s", alias = "a" }]`,
		`[{ name = "redis", environment = ["A B=c"] }]`, `[{ name = "" }]`, `[{ name = "redis", alias = "` + strings.Repeat("a", 64) + `" }]`},
	"container_lifecycle": {
		`{ post_start = { exec = { command = ["true"] } } }`,
		`{ pre_stop = { http_get = { port = 8080, path = "/x" } } }`,
		`{ pre_stop = { http_get = { port = 0 } } }`,
		`{ post_start = { tcp_socket = { port = 70000 } } }`,
		`{ post_start = { http_get = { port = 80, scheme = "FTP" } } }`,
		`{ post_start = { http_get = { port = 80, http_headers = [{ name = "X_Y", value = "v" }] } } }`,
		`{ post_start = { } }`,
		`{ post_start = { exec = { command = ["a"] }, tcp_socket = { port = 80 } } }`,
		`{ pre_stop = { http_get = { port = 80, host = "a b" } } }`,
		`{ pre_stop = { tcp_socket = { port = 80, host = "-" } } }`,
		`{ pre_stop = { exec = { command = [] } } }`,
		`{ post_start = { http_get = { port = 80, path = "x" } } }`,
	},
	"volumes": {
		`{ host_path = [{ name = "h", mount_path = "/h", host_path = "/srv" }] }`,
		`{ host_path = [{ name = "H_1", mount_path = "/h", host_path = "/srv" }] }`,
		`{ host_path = [{ name = "h", mount_path = "rel", host_path = "/srv" }] }`,
		`{ host_path = [{ name = "h", mount_path = "/h", host_path = "/srv", sub_path = "../x" }] }`,
		`{ host_path = [{ name = "h", mount_path = "/h", host_path = "/srv/../etc" }] }`,
		`{ host_path = [{ name = "h", mount_path = "/h:x", host_path = "/srv" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", medium = "Memory" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", medium = "disk" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", size_limit = "1Gi" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", size_limit = "-1Gi" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", mount_propagation = "Bidirectional" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", mount_propagation = "HostToContainer", read_only = true }] }`,
		`{ pvc = [{ name = "p q", mount_path = "/p" }] }`,
		`{ pvc = [{ name = "p", mount_path = "/p", sub_path = "/abs" }] }`,
		`{ config_map = [{ name = "cm", mount_path = "/c", items = { "k" = "../p" } }] }`,
		`{ config_map = [{ name = "Cm", mount_path = "/c" }] }`,
		`{ config_map = [{ name = "cm", mount_path = "/c", items = { "k k" = "p" } }] }`,
		`{ secret = [{ name = "s", mount_path = "/s", items = { "k" = "a/b" } }] }`,
		`{ secret = [{ name = "s", mount_path = "/s", items = { "k" = "/abs" } }] }`,
		`{ csi = [{ name = "c", mount_path = "/c", driver = "Bad Driver" }] }`,
		`{ csi = [{ name = "c", mount_path = "/c", driver = "d.example.com", fs_type = "ext4", volume_attributes = { "a b" = "c" } }] }`,
		`{ nfs = [{ name = "n", mount_path = "/n", server = "nfs.local", path = "/export" }] }`,
		`{ nfs = [{ name = "n", mount_path = "/n", server = "", path = "/export" }] }`,
		`{ nfs = [{ name = "n", mount_path = "/n", server = "nfs.local", path = "export" }] }`,
		`{ host_path = [{ name = "a", mount_path = "/a" }], empty_dir = [{ name = "a", mount_path = "/b" }] }`,
	},
	"affinity": {
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "zone", operator = "In", values = ["a"] }] }] } } }`,
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "zone", operator = "Exists", values = ["a"] }] }] } } }`,
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "bad key", operator = "In", values = ["a"] }] }] } } }`,
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [] } } }`,
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "n", operator = "Gt", values = ["x"] }] }] } } }`,
		`{ node_affinity = { preferred_during_scheduling_ignored_during_execution = [{ weight = 0, preference = { match_expressions = [{ key = "a", operator = "Exists" }] } }] } }`,
		`{ node_affinity = { preferred_during_scheduling_ignored_during_execution = [{ weight = 101, preference = { match_expressions = [{ key = "a", operator = "Exists" }] } }] } }`,
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_fields = [{ key = "metadata.name", operator = "In", values = ["a", "b"] }] }] } } }`,
		`{ pod_anti_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "", label_selector = { match_labels = { "a" = "b" } } }] } }`,
		`{ pod_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "zone", namespaces = ["A_B"] }] } }`,
		`{ pod_affinity = { preferred_during_scheduling_ignored_during_execution = [{ weight = 5, pod_affinity_term = { topology_key = "zone", label_selector = { match_expressions = [{ key = "a", operator = "In" }] } } }] } }`,
		`{ pod_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "zone", label_selector = { match_labels = { "a" = "b" } }, match_label_keys = ["team"] }] } }`,
		`{ pod_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "zone", match_label_keys = ["a"] }] } }`,
		`{ pod_anti_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "zone", namespace_selector = { match_labels = { "bad key" = "v" } } }] } }`,
	},
}

// notInThePod are the configuration's keys that leave the pod as it is:
// what k8sdrv reads to connect, wait, retry or gate a job's input. A key
// that shapes the pod belongs in differentialValues instead.
var notInThePod = map[string]string{
	"host": "connection", "cert_file": "connection", "key_file": "connection", "ca_file": "connection",
	"bearer_token": "connection", "context": "connection", "bearer_token_overwrite_allowed": "gate",
	"namespace_overwrite_allowed": "gate", "service_account_overwrite_allowed": "gate",
	"pod_labels_overwrite_allowed": "gate", "pod_annotations_overwrite_allowed": "gate",
	"node_tolerations_overwrite_allowed": "gate", "node_selector_overwrite_allowed": "gate",
	"allowed_images": "gate", "allowed_services": "gate", "allowed_pull_policies": "gate",
	"allowed_users": "gate", "allowed_groups": "gate",
	"print_pod_warning_events": "prepare's output", "resource_availability_check_max_attempts": "prepare's checks",
	"poll_timeout": "waiting", "poll_interval": "waiting", "cleanup_resources_timeout": "cleanup",
	"cleanup_grace_period_seconds": "cleanup's delete options", "reconnect_timeout": "run",
	"retry_limit": "API retries", "retry_backoff_max": "API retries", "retry_limits": "API retries",
	"quota_wait_timeout":                          "API retries",
	"wait_for_services_timeout":                   "waiting",
	"namespace_per_job":                           "the job's namespace, an object of its own that prepare creates",
	"pod_disruption_budget":                       "a PodDisruptionBudget, an object of its own that prepare creates",
	"init_permissions_container_security_context": "accepted with a warning: k8sdrv runs no init-permissions container",
	// A patch can set any field of the PodSpec: checking what it leaves
	// as the API server does would take the whole of the server's pod
	// validation, which k8sdrv does not carry. k8sdrv doctor's
	// server-side dry run and prepare's create report it instead.
	"pod_spec": "any PodSpec field: the API server's own dry run (k8sdrv doctor) checks it",
}

// TestDifferentialCoversEveryPodSetting: every key of the configuration is
// either in differentialValues or, with the reason, in notInThePod, so
// that a key added to k8sdrv is held to the API server's validation too.
func TestDifferentialCoversEveryPodSetting(t *testing.T) {
	var keys []string
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			if f.Anonymous {
				walk(f.Type)
			} else if k := f.Tag.Get("toml"); k != "" && k != "-" {
				keys = append(keys, k)
			}
		}
	}
	walk(reflect.TypeFor[config.Config]())
	for _, k := range keys {
		_, tested := differentialValues[k]
		_, exempt := notInThePod[k]
		// The maxima of the job's KUBERNETES_* resource variables are gates.
		exempt = exempt || strings.HasSuffix(k, "_overwrite_max_allowed")
		assert.Check(t, tested != exempt, "key %s: want it in exactly one of differentialValues (it shapes the pod) and notInThePod (with why not)", k)
	}
	for k := range differentialValues {
		assert.Check(t, slices.Contains(keys, k), "differentialValues has %s, which is no key of the configuration", k)
	}
	for k := range notInThePod {
		assert.Check(t, slices.Contains(keys, k), "notInThePod has %s, which is no key of the configuration", k)
	}
}
