package e2e

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gotest.tools/v3/assert"
)

// A bad input's exit code says whose it is: the job's own input (what
// .gitlab-ci.yml asks for: its image, services, overwrite variables) is a
// build failure, which the runner does not retry; everything the operator
// or the runner gives (the config file, K8SDRV_*, the runner's variables,
// a JOB_RESPONSE_FILE that does not parse, TMPDIR and its state file) is a
// system failure (driver.ExitCode: only a *config.JobError is the job's).
const (
	passes = 0
	byJob  = 1 // BUILD_FAILURE_EXIT_CODE
	system = 2 // SYSTEM_FAILURE_EXIT_CODE
	ce     = "CUSTOM_ENV_"
)

// bad is one entry of the catalogue. In toml, $ROOT is the job's own
// directory; in want, "@N:" is the config file and line N of toml. Each
// want starts a line of stderr: an "ERROR: k8sdrv: " line unless it
// starts with "WARNING: ".
type bad struct {
	args  string   // the call, "prepare" when empty; "run" runs a script the test wrote
	toml  string   // lines added to the job's config, replacing the keys they set
	env   []string // NAME=value sets, -NAME unsets
	resp  string   // the job response, when not the harness's
	state string   // TMPDIR/k8sdrv-state.json, when set
	setup func(t *testing.T, j *job)
	code  int
	want  []string // one per line of stderr, in any order
	usage bool     // a command line error: the usage goes to stdout
}

func (c bad) name() string {
	for _, s := range []string{c.toml, strings.Join(c.env, " "), c.resp, c.state, c.args} {
		if s != "" {
			return s
		}
	}
	return "case"
}

const anotherJobsState = `{"namespace":"default","pod":"runner-x","uid":"1","driver_dir":"/k8sdrv","job":{"job_id":"1","project_id":"4242","runner":"e2eTok12","concurrent_id":"0"}}`

// TestIntegrationCatalogue: every bad input of an attacker or a careless
// operator gives exactly the expected lines, each naming its source
// (file and line, variable, or the job's input), the exit code of whose
// fault it is, nothing in the cluster, nothing new in TMPDIR and no secret.
func TestIntegrationCatalogue(t *testing.T) {
	skipShort(t)
	cases := slices.Concat(fileCases, envCases, responseCases, jobCases, exitCodeCases, stateCases)
	passed := 0
	for _, c := range cases {
		if t.Run(c.name(), func(t *testing.T) { checkBad(t, c) }) {
			passed++
		}
	}
	t.Logf("bad-input catalogue: %d cases, %d pass", len(cases), passed)
}

var fileCases = []bad{
	// TOML syntax.
	{toml: `namespace = "ci`, code: system, want: w(`@1: namespace: strings cannot contain newlines`)},
	{toml: `namespace =`, code: system, want: w(`@1: namespace: expected value but found '\n' instead`)},
	{toml: "namespace = \"a\"\nnamespace = \"b\"", code: system, want: w(`@2: namespace: Key 'namespace' has already been defined.`)},
	{toml: `[node_selector`, code: system, want: w(`@2: expected '.' or ']' to end table name`)},
	{toml: `cap_add = ["A",`, code: system, want: w(`@1: cap_add: unexpected EOF; expected value`)},
	{toml: `namespace = "a\qb"`, code: system, want: w(`@1: namespace: invalid escape in string '\q'`)},
	{toml: `name space = "x"`, code: system, want: w(`@1: expected '.' or '=', but got 's' instead`)},
	{toml: "[node_selector]\n[node_selector]", code: system, want: w(`@2: Key 'node_selector' has already been defined.`)},
	{toml: "namespace = \"a\"\n[namespace]", code: system, want: w(`@2: Key 'namespace' has already been defined.`)},
	{toml: "[[services]]\nname = \"a\"\n[services]", code: system, want: w(`@3: Key 'services' has already been defined.`)},
	{toml: `poll_timeout = 0x`, code: system, want: w(`@1: poll_timeout: not a hexadecimal number: '0x\n'`)},
	{toml: "\x00binary", code: system, want: w(`@1: TOML files cannot contain control characters: '0x00'`)},
	{toml: `namespace = """unterminated`, code: system, want: w(`@1: namespace: unexpected EOF; expected '"""'`)},
	{toml: `= "x"`, code: system, want: w(`@1: unexpected '=': key name appears blank`)},
	{toml: `privileged = True`, code: system, want: w(`@1: privileged: expected value but found "True" instead`)},
	{toml: `poll_timeout = 1_`, code: system, want: w(`@1: poll_timeout: Invalid integer "1_": underscores must be surrounded by digits`)},
	{toml: `poll_timeout = 0b2`, code: system, want: w(`@1: poll_timeout: not a binary number: '0b2'`)},
	{toml: `poll_timeout = 99999999999999999999999`, code: system, want: w(`@1: poll_timeout: 99999999999999999999999 is out of range for int64`)},

	// Unknown keys: every one, on its line; a section pasted whole.
	{toml: `namespaces = "ci"`, code: system, want: w(`@1: namespaces: unknown key`)},
	{toml: `cpu_limt = "1"`, code: system, want: w(`@1: cpu_limt: unknown key`)},
	{toml: "[node_selektor]\nx = \"y\"", code: system, want: w(`@1: node_selektor: unknown key`)},
	{toml: "[runners.kubernets]\ncpu_limit = \"1\"", code: system, want: w(`@1: runners.kubernets: unknown key`)},
	{toml: "[[services]]\nname = \"redis\"\naliass = \"r\"", code: system, want: w(`@3: services.aliass: unknown key`)},
	{toml: "[pod_security_context]\nrun_as_users = 1", code: system, want: w(`@2: pod_security_context.run_as_users: unknown key`)},
	{toml: "[[volumes.pvcs]]\nname = \"p\"", code: system, want: w(`@1: volumes.pvcs: unknown key`)},
	{toml: `"a\nb" = 1`, code: system, want: w(`@1: "a\nb": unknown key`)},
	{toml: "foo = 1\nbar = 2", code: system, want: w(`@1: foo: unknown key`, `@2: bar: unknown key`)},
	{toml: "[runners.kubernetes]\ncpu_limit = \"x\"", code: system, want: w(`@2: runners.kubernetes.cpu_limit: "x" is not a Kubernetes quantity`)},
	{toml: "[[runners]]\n[runners.kubernetes]\n[[runners]]", code: system, want: w(`@3: runners: want one [[runners]] entry, found 2`)},
	{toml: `runners = 5`, code: system, want: w(`@1: runners: want a table holding [runners.kubernetes]`)},

	// Wrong types.
	{toml: `namespace = 5`, code: system, want: w(`@1: namespace: incompatible types: TOML value has type int64; destination has type string`)},
	{toml: `privileged = "yes"`, code: system, want: w(`@1: privileged: incompatible types: TOML value has type string; destination has type boolean`)},
	{toml: `poll_timeout = "60"`, code: system, want: w(`@1: poll_timeout: incompatible types: TOML value has type string; destination has type integer`)},
	{toml: `poll_timeout = 1.5`, code: system, want: w(`@1: poll_timeout: incompatible types: TOML value has type float64`)},
	{toml: `poll_timeout = 1979-05-27`, code: system, want: w(`@1: poll_timeout: incompatible types: TOML value has type time.Time`)},
	{toml: `cap_drop = "NET_RAW"`, code: system, want: w(`@1: cap_drop: incompatible types: TOML value has type string; destination has type slice`)},
	{toml: `image_pull_secrets = "regcred"`, code: system, want: w(`@1: image_pull_secrets: incompatible types`)},
	{toml: `allowed_images = "alpine"`, code: system, want: w(`@1: allowed_images: incompatible types`)},
	{toml: `services = [{name = 5}]`, code: system, want: w(`@1: services.name: incompatible types`)},
	{toml: `services = "redis"`, code: system, want: w(`@1: services: incompatible types`)},
	{toml: "[[volumes.pvc]]\nname = \"p\"\nmount_path = 5", code: system, want: w(`@3: volumes.pvc.mount_path: incompatible types`)},
	{toml: `node_selector = "kubernetes.io/arch=arm64"`, code: system, want: w(`@1: node_selector: want a table such as { "key" = "value" }, found a string`)},
	{toml: `pod_labels = ["team=a"]`, code: system, want: w(`@1: pod_labels: want a table such as { "key" = "value" }, found an array`)},
	{toml: `pod_annotations = 5`, code: system, want: w(`@1: pod_annotations: want a table such as { "key" = "value" }, found an integer`)},
	{toml: `node_tolerations = "gpu=true:NoSchedule"`, code: system, want: w(`@1: node_tolerations: want a table such as { "key" = "value" }, found a string`)},
	{toml: "[[affinity.pod_affinity.required_during_scheduling_ignored_during_execution]]\ntopology_key = \"zone\"\n" +
		"[affinity.pod_affinity.required_during_scheduling_ignored_during_execution.label_selector]\nmatch_labels = \"app=x\"",
		code: system, want: w(`@4: affinity.pod_affinity.required_during_scheduling_ignored_during_execution.label_selector.match_labels: want a table`)},
	{toml: `pod_spec = "x"`, code: system, want: w(`@1: pod_spec: incompatible types`)},
	{toml: `dns_config = []`, code: system, want: w(`@1: dns_config: type mismatch for config.DNSConfig: expected table`)},
	{toml: `host_aliases = {ip = "1.1.1.1"}`, code: system, want: w(`@1: host_aliases: incompatible types`)},
	{toml: `volumes = 5`, code: system, want: w(`@1: volumes: type mismatch for config.Volumes: expected table but found int64`)},
	{toml: `affinity = "x"`, code: system, want: w(`@1: affinity: type mismatch for config.Affinity: expected table but found string`)},
	{toml: "[container_lifecycle.post_start.exec]\ncommand = \"echo\"", code: system, want: w(`@2: container_lifecycle.post_start.exec.command: incompatible types`)},
	{toml: "[runners.kubernetes.node_selector]\n\"a\" = 1", code: system, want: w(`@2: runners.kubernetes.node_selector.a: incompatible types`)},
	{toml: "[pod_security_context]\nfs_group = \"x\"", code: system, want: w(`@2: pod_security_context.fs_group: incompatible types`)},
	{toml: `pull_policy = 5`, code: system, want: w(`@1: pull_policy: want a string or a list of strings`)},
	{toml: `pull_policy = ["always", 1]`, code: system, want: w(`@1: pull_policy: want a string or a list of strings`)},
	{toml: `cleanup_resources_timeout = true`, code: system, want: w(`@1: cleanup_resources_timeout: want a duration such as "90s" or a number of seconds`)},

	// Bad values of many keys.
	{toml: `cpu_limit = "two"`, code: system, want: w(`@1: cpu_limit: "two" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)`)},
	{toml: `memory_request = "1 GB"`, code: system, want: w(`@1: memory_request: "1 GB" is not a Kubernetes quantity`)},
	{toml: `helper_memory_limit = "-1Gi"`, code: system, want: w(`@1: helper_memory_limit: "-1Gi" is not a Kubernetes quantity`)},
	{toml: `service_ephemeral_storage_limit = "lots"`, code: system, want: w(`@1: service_ephemeral_storage_limit: "lots" is not a Kubernetes quantity`)},
	{toml: `cpu_limit_overwrite_max_allowed = "max"`, code: system, want: w(`@1: cpu_limit_overwrite_max_allowed: "max" is not a Kubernetes quantity`)},
	{toml: `namespace = "CI_Builds"`, code: system, want: w(`@1: namespace: "CI_Builds" is not a valid namespace`)},
	{toml: `namespace = "a\nb"`, code: system, want: w(`@1: namespace: "a\nb" is not a valid namespace`)},
	{toml: `service_account = "Builder SA"`, code: system, want: w(`@1: service_account: "Builder SA" is not a valid service account name`)},
	{toml: `image_pull_secrets = ["Reg Cred"]`, code: system, want: w(`@1: image_pull_secrets[0]: "Reg Cred" is not a valid secret name`)},
	{toml: `namespace_overwrite_allowed = "*"`, code: system, want: w(`@1: namespace_overwrite_allowed: "*" is not a regular expression: `)},
	{toml: `pod_labels_overwrite_allowed = "team=("`, code: system, want: w(`@1: pod_labels_overwrite_allowed: "team=(" is not a regular expression`)},
	{toml: `image = "Alpine:3"`, code: system, want: w(`@1: image: "Alpine:3": not a valid image reference`)},
	{toml: `helper_image = "helper image:1"`, code: system, want: w(`@1: helper_image: "helper image:1": not a valid image reference`)},
	{toml: "[[services]]\nname = \"Redis:7\"", code: system, want: w(`@2: services[0].name: "Redis:7": not a valid image reference`)},
	{toml: "[[services]]\nalias = \"x\"", code: system, want: w(`@1: services[0].name: required`)},
	{toml: "[[services]]\nname = \"redis\"\nalias = \"db_1\"", code: system, want: w(`@3: services[0].alias: "db_1" is not a valid host name`)},
	{toml: `dns_policy = "cluster_first"`, code: system, want: w(`@1: dns_policy: "cluster_first" is not one of none, default, cluster-first, cluster-first-with-host-net`)},
	{toml: `dns_policy = "none"`, code: system, want: w(`$CONFIG: dns_config.nameservers: required when dns_policy is none`)},
	{toml: "[node_tolerations]\n\"gpu=true\" = \"NoScheduler\"", code: system, want: w(`@2: node_tolerations."gpu=true": effect "NoScheduler" is not one of`)},
	{toml: "[node_selector]\n\"kubernetes.io/arch\" = \"arm 64\"", code: system, want: w(`@2: node_selector."kubernetes.io/arch": "arm 64" is not a valid label value`)},
	{toml: "[pod_labels]\n\"bad key\" = \"x\"", code: system, want: w(`@2: pod_labels."bad key": not a valid key`)},
	{toml: "[pod_annotations]\n\"-x\" = \"y\"", code: system, want: w(`@2: pod_annotations."-x": not a valid key`)},
	{toml: "[[host_aliases]]\nip = \"1.2.3\"\nhostnames = [\"a\"]", code: system, want: w(`@2: host_aliases[0].ip: "1.2.3" is not an IP address`)},
	{toml: "[[host_aliases]]\nip = \"1.2.3.4\"", code: system, want: w(`@1: host_aliases[0]: needs ip and hostnames`)},
	{toml: "[[host_aliases]]\nip = \"1.2.3.4\"\nhostnames = [\"Bad_Host\"]", code: system, want: w(`@3: host_aliases[0].hostnames[0]: "Bad_Host" is not a valid host name`)},
	{toml: `poll_timeout = -1`, code: system, want: w(`@1: poll_timeout: want a positive number of seconds`)},
	{toml: `poll_interval = -3`, code: system, want: w(`@1: poll_interval: want a positive number of seconds`)},
	{toml: `resource_availability_check_max_attempts = -1`, code: system, want: w(`@1: resource_availability_check_max_attempts: want zero or more, got -1`)},
	{toml: `cleanup_resources_timeout = "forever"`, code: system, want: w(`@1: cleanup_resources_timeout: want a duration such as "90s" or a number of seconds`)},
	{toml: `cleanup_resources_timeout = -5`, code: system, want: w(`@1: cleanup_resources_timeout: want a positive duration`)},
	{toml: `reconnect_timeout = 99999999999999999`, code: system, want: w(`@1: reconnect_timeout: 99999999999999999 seconds is more than k8sdrv can wait`)},
	{toml: `reconnect_timeout = "-1m"`, code: system, want: w(`@1: reconnect_timeout: want a positive duration`)},
	{toml: `pod_termination_grace_period_seconds = -1`, code: system, want: w(`@1: pod_termination_grace_period_seconds: want zero or more seconds, got -1`)},
	{toml: `cleanup_grace_period_seconds = -5`, code: system, want: w(`@1: cleanup_grace_period_seconds: want zero or more seconds, got -5`)},
	{toml: `builds_dir = "builds"`, code: system, want: w(`@1: builds_dir: want an absolute path, got "builds"`)},
	{toml: `driver_dir = "k8sdrv"`, code: system, want: w(`@1: driver_dir: want an absolute path, got "k8sdrv"`)},
	{toml: "[[volumes.host_path]]\nname = \"h\"\nmount_path = \"rel\"\nhost_path = \"/x\"", code: system, want: w(`@3: volumes.host_path[0].mount_path: want an absolute path, got "rel"`)},
	{toml: "[[volumes.empty_dir]]\nname = \"e\"\nmount_path = \"/e\"\nmedium = \"Disk\"", code: system, want: w(`@4: volumes.empty_dir[0].medium: "Disk" is not "", Memory or HugePages`)},
	{toml: "[[volumes.pvc]]\nname = \"Bad_PVC\"\nmount_path = \"/p\"", code: system, want: w(`@2: volumes.pvc[0].name: "Bad_PVC" is not a valid volume name`)},
	{toml: "[[volumes.secret]]\nmount_path = \"/s\"", code: system, want: w(`@1: volumes.secret[0].name: required`)},
	{toml: "driver_dir = \"/k8sdrv\"\n[[volumes.empty_dir]]\nname = \"e\"\nmount_path = \"/k8sdrv/\"", code: system, want: w(`@4: volumes.empty_dir[0].mount_path: "/k8sdrv/" is driver_dir`)},
	{toml: "[pod_security_context]\nrun_as_user = -1", code: system, want: w(`@2: pod_security_context.run_as_user: want a user or group id from 0 to 2147483647, got -1`)},
	{toml: `cap_add = ["CAP_SYS_ADMIN"]`, code: system, want: w(`@1: cap_add[0]: "CAP_SYS_ADMIN": write capabilities without the CAP_ prefix (SYS_ADMIN)`)},
	{toml: "[container_lifecycle.post_start.http_get]\nport = 99999", code: system, want: w(`@2: container_lifecycle.post_start.http_get.port: want a port from 1 to 65535, got 99999`)},
	{toml: `[container_lifecycle.pre_stop]`, code: system, want: w(`@1: container_lifecycle.pre_stop: set exactly one of exec, http_get, tcp_socket (found 0)`)},
	{toml: `pull_policy = "sometimes"`, code: system, want: w(`@1: pull_policy[0]: "sometimes" is not one of always, if-not-present, never`)},
	{toml: "allowed_pull_policies = [\"never\"]\npull_policy = \"always\"", code: system, want: w(`@2: pull_policy[0]: "always" is not one of allowed_pull_policies [never]`)},
	{toml: `allowed_images = ["[a"]`, code: system, want: w(`@1: allowed_images[0]: "[a" is not a valid wildcard pattern`)},
	{toml: `helper_image_flavor = "debian"`, code: system, want: w(`@1: helper_image_flavor: "debian" is not one of`)},
	{toml: `host = "not a url"`, code: system, want: w(`@1: host: want a URL such as https://10.0.0.1:6443, got "not a url"`)},
	{toml: "cert_file = \"/c.crt\"\nhost = \"https://127.0.0.1:1\"", code: system, want: w(`@1: cert_file: cert_file and key_file must be set together`)},
	{toml: `bearer_token = "very-secret-operator-token"`, code: system, want: w(`$CONFIG: host: required when cert_file, key_file, ca_file or bearer_token is set`)},
	{toml: "cpu_limit = \"x\"\nmemory_limit = \"y\"\nnamespace = \"A\"", code: system,
		want: w(`@1: cpu_limit: "x" is not`, `@2: memory_limit: "y" is not`, `@3: namespace: "A" is not a valid namespace`)},

	// pod_spec patches, inline and in files.
	{toml: "[[pod_spec]]\nname = \"p\"\npatch = \"hostname: x\"\npatch_path = \"/etc/p.yaml\"", code: system, want: w(`@1: pod_spec[0] (p): set patch or patch_path, not both`)},
	{toml: "[[pod_spec]]\nname = \"p\"", code: system, want: w(`@1: pod_spec[0] (p): set patch or patch_path`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch = \"hostname: x\"\npatch_type = \"jsonpatch\"", code: system, want: w(`@4: pod_spec[0] (p).patch_type: "jsonpatch" is not one of merge, json, strategic`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch_type = \"json\"\npatch = '{\"op\": \"add\"}'", code: system, want: w(`@4: pod_spec[0] (p).patch: not a JSON patch (a list of operations)`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch = \"a: [\"", code: system, want: w(`@3: pod_spec[0] (p).patch: not JSON or YAML`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch_path = \"$ROOT/absent.yaml\"", code: system, want: w(`@3: pod_spec[0] (p).patch_path: stat $ROOT/absent.yaml: no such file or directory`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch_path = \"$ROOT/fifo\"", setup: mkfifo("fifo"), code: system, want: w(`@3: pod_spec[0] (p).patch_path: $ROOT/fifo is not a regular file (p---------)`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch_path = \"$ROOT\"", code: system, want: w(`@3: pod_spec[0] (p).patch_path: $ROOT is not a regular file (d---------)`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch_path = \"$ROOT/huge.yaml\"", setup: rootFile("huge.yaml", strings.Repeat("#", 1<<20+1)), code: system, want: w(`@3: pod_spec[0] (p).patch_path: $ROOT/huge.yaml has 1048577 bytes, more than a pod spec patch should`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch_path = \"$ROOT/bad.yaml\"", setup: rootFile("bad.yaml", "containers: [\n"), code: system, want: w(`@3: pod_spec[0] (p).patch_path: $ROOT/bad.yaml: not JSON or YAML`)},
	{toml: "[[pod_spec]]\nname = \"p\"\npatch_type = \"json\"\npatch_path = \"$ROOT/op.yaml\"", setup: rootFile("op.yaml", "op: add\n"), code: system, want: w(`@4: pod_spec[0] (p).patch_path: $ROOT/op.yaml: not a JSON patch`)},
	{args: "config", toml: "[[pod_spec]]\nname = \"p\"\npatch_path = \"$ROOT/shape.yaml\"", setup: rootFile("shape.yaml", "containers: 5\n"), code: system, want: w(`build pod: pod_spec[0] (p): strategic patch: json: cannot unmarshal number`)},
	{args: "config", toml: "[[pod_spec]]\nname = \"slim\"\npatch_type = \"json\"\npatch = '[{\"op\": \"remove\", \"path\": \"/containers/0\"}]'", code: system, want: w(`build pod: pod_spec[0] (slim): json patch: the pod has no build container left`)},

	// The file itself.
	{env: []string{"K8SDRV_CONFIG=/nonexistent/k8sdrv.toml"}, code: system, want: w(`config file: open /nonexistent/k8sdrv.toml: no such file or directory`)},
	{env: []string{"K8SDRV_CONFIG=/"}, code: system, want: w(`config file: read /: is a directory`)},
	{args: "--config /nonexistent/other.toml prepare", code: system, want: w(`config file: open /nonexistent/other.toml: no such file or directory`)},
	{args: "prepar", code: system, want: w(`No help topic for 'prepar'`)},
	{args: "prepare --bogus", usage: true, code: system, want: w(`flag provided but not defined: -bogus`)},
	// retry_limit = 1: without it a request that gets no answer is tried
	// for 30 s, with warnings (an API server restart), before this line.
	{toml: "host = \"https://127.0.0.1:1\"\nretry_limit = 1", code: system, want: w(`create pod in namespace default: `)},
}

var envCases = []bad{
	// The file sets poll_timeout too: the variable is to blame.
	{env: []string{"K8SDRV_POLL_TIMEOUT=abc"}, code: system, want: w(`K8SDRV_POLL_TIMEOUT: poll_timeout: "abc" is not a valid int`)},
	{env: []string{"K8SDRV_POLL_TIMEOUT=-5"}, code: system, want: w(`K8SDRV_POLL_TIMEOUT: poll_timeout: want a positive number of seconds`)},
	{env: []string{"K8SDRV_POLL_INTERVAL=1.5"}, code: system, want: w(`K8SDRV_POLL_INTERVAL: poll_interval: "1.5" is not a valid int`)},
	{env: []string{"K8SDRV_CLEANUP_RESOURCES_TIMEOUT=soon"}, code: system, want: w(`K8SDRV_CLEANUP_RESOURCES_TIMEOUT: cleanup_resources_timeout: want a duration`)},
	{env: []string{"K8SDRV_RECONNECT_TIMEOUT=-1m"}, code: system, want: w(`K8SDRV_RECONNECT_TIMEOUT: reconnect_timeout: want a positive duration`)},
	{env: []string{"K8SDRV_PRIVILEGED=maybe"}, code: system, want: w(`K8SDRV_PRIVILEGED: privileged: "maybe" is not a valid bool`)},
	{env: []string{"K8SDRV_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN=yes please"}, code: system, want: w(`K8SDRV_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN: automount_service_account_token: "yes please" is not a valid bool`)},
	{env: []string{"K8SDRV_NAMESPACE=Bad_NS"}, code: system, want: w(`K8SDRV_NAMESPACE: namespace: "Bad_NS" is not a valid namespace`)},
	{env: []string{"K8SDRV_NAMESPACE=a\nb"}, code: system, want: w(`K8SDRV_NAMESPACE: namespace: "a\nb" is not a valid namespace`)},
	{env: []string{"K8SDRV_CPU_LIMIT=lots"}, code: system, want: w(`K8SDRV_CPU_LIMIT: cpu_limit: "lots" is not a Kubernetes quantity`)},
	{env: []string{"K8SDRV_MEMORY_LIMIT_OVERWRITE_MAX_ALLOWED=all"}, code: system, want: w(`K8SDRV_MEMORY_LIMIT_OVERWRITE_MAX_ALLOWED: memory_limit_overwrite_max_allowed: "all" is not`)},
	{env: []string{"K8SDRV_PULL_POLICY=sometimes"}, code: system, want: w(`K8SDRV_PULL_POLICY: pull_policy[0]: "sometimes" is not one of`)},
	{env: []string{"K8SDRV_PULL_POLICY=always,sometimes"}, code: system, want: w(`K8SDRV_PULL_POLICY: pull_policy[1]: "sometimes" is not one of`)},
	{env: []string{"K8SDRV_DNS_POLICY=cluster_first"}, code: system, want: w(`K8SDRV_DNS_POLICY: dns_policy: "cluster_first" is not one of`)},
	{env: []string{"K8SDRV_HELPER_IMAGE_FLAVOR=debian"}, code: system, want: w(`K8SDRV_HELPER_IMAGE_FLAVOR: helper_image_flavor: "debian" is not one of`)},
	{env: []string{"K8SDRV_IMAGE=UPPER:1"}, code: system, want: w(`K8SDRV_IMAGE: image: "UPPER:1": not a valid image reference`)},
	{env: []string{"K8SDRV_BUILDS_DIR=relative"}, code: system, want: w(`K8SDRV_BUILDS_DIR: builds_dir: want an absolute path, got "relative"`)},
	{env: []string{"K8SDRV_DRIVER_DIR=relative"}, code: system, want: w(`K8SDRV_DRIVER_DIR: driver_dir: want an absolute path, got "relative"`)},
	{env: []string{"K8SDRV_NAMESPACE_OVERWRITE_ALLOWED=*"}, code: system, want: w(`K8SDRV_NAMESPACE_OVERWRITE_ALLOWED: namespace_overwrite_allowed: "*" is not a regular expression`)},
	{env: []string{"K8SDRV_HOST=not a url"}, code: system, want: w(`K8SDRV_HOST: host: want a URL`)},
	{env: []string{"K8SDRV_POD_TERMINATION_GRACE_PERIOD_SECONDS=-1"}, code: system, want: w(`K8SDRV_POD_TERMINATION_GRACE_PERIOD_SECONDS: pod_termination_grace_period_seconds: want zero or more seconds, got -1`)},
	{env: []string{"K8SDRV_RESOURCE_AVAILABILITY_CHECK_MAX_ATTEMPTS=x"}, code: system, want: w(`K8SDRV_RESOURCE_AVAILABILITY_CHECK_MAX_ATTEMPTS: resource_availability_check_max_attempts: "x" is not a valid int`)},
	{env: []string{"K8SDRV_BEARER_TOKEN=very-secret-operator-token"}, code: system, want: w(`$CONFIG: host: required when`)},
	{env: []string{"K8SDRV_CPU_LIMIT=lots"}, toml: `memory_limit = "much"`, code: system, want: w(`@1: memory_limit: "much" is not`, `K8SDRV_CPU_LIMIT: cpu_limit: "lots" is not`)},
	// Unprefixed names in the runner's environment are not k8sdrv's.
	{env: []string{"NAMESPACE=Bad_NS", "POLL_TIMEOUT=abc"}, toml: `cpu_limit = "x"`, code: system, want: w(`@1: cpu_limit: "x" is not`)},
	{env: []string{"K8SDRV_CONFIG="}, toml: `unused = 1`, code: system, want: w(`connect to Kubernetes: no cluster configured`), setup: noKubeconfig},
}

// responseCases: gitlab-runner writes JOB_RESPONSE_FILE; one that does not
// parse is the runner's (a system failure), what it asks for the job's.
var responseCases = []bad{
	{setup: removeTMPFile("response.json"), code: system, want: w(`JOB_RESPONSE_FILE: open $TMP/response.json: no such file or directory`)},
	{setup: responseDir, code: system, want: w(`JOB_RESPONSE_FILE: read $TMP/response.json: is a directory`)},
	{resp: " ", code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: unexpected end of JSON input`)},
	{resp: "{not json", code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: invalid character 'n'`)},
	{resp: `{} x`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: invalid character 'x' after top-level value`)},
	{resp: `null`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: it holds null`)},
	{resp: `[]`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal array`)},
	{resp: `"job"`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal string`)},
	{resp: `{"image": "alpine"}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal string into Go struct field response.image`)},
	{resp: `{"image": {"name": 5}}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal number into Go struct field Image.image.name`)},
	{resp: `{"services": {"name": "x"}}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal object into Go struct field response.services`)},
	{resp: `{"services": ["redis"]}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal string into Go struct field response.services`)},
	{resp: `{"variables": {"a": 1}}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal object into Go struct field response.variables`)},
	{resp: `{"variables": [{"key": "A", "value": 1}]}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal number into Go struct field Variable.variables.value`)},
	{resp: `{"runner_info": {"timeout": "1h"}}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal string into Go struct field .runner_info.timeout`)},
	{resp: `{"image": {"name": "alpine", "pull_policy": "always"}}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal string into Go struct field Image.image.pull_policy`)},
	{resp: `{"image": {"name": "alpine", "entrypoint": "sh"}}`, code: system, want: w(`JOB_RESPONSE_FILE $TMP/response.json: not a job response: json: cannot unmarshal string into Go struct field Image.image.entrypoint`)},
	// Parsed, but what the job asks for the cluster would refuse.
	{resp: `{"image": {"name": "Registry.example.com/App:1"}}`, code: byJob, want: w(`image "Registry.example.com/App:1": not a valid image reference`)},
	{resp: `{"image": {"name": "alpine with space"}}`, code: byJob, want: w(`image "alpine with space": not a valid image reference`)},
	{resp: `{"image": {"name": "alpine:3", "pull_policy": ["sometimes"]}}`, code: byJob, want: w(`image "alpine:3": pull_policy ([sometimes]) defined in GitLab pipeline config is not one of the allowed_pull_policies`)},
	{resp: `{"services": [null]}`, code: byJob, want: w(`services[0]: service without an image name`)},
	{resp: `{"services": [{"name": ""}]}`, code: byJob, want: w(`services[0]: service without an image name`)},
	{resp: `{"services": [{"name": "Redis:7"}]}`, code: byJob, want: w(`services[0]: image "Redis:7": not a valid image reference`)},
	{resp: `{"services": [{"name": "redis:7", "alias": "db_1"}]}`, code: byJob, want: w(`services[0] redis:7: alias "db_1" is not a valid host name`)},
	{resp: `{"services": [{"name": "redis:7", "alias": "db,Cache"}]}`, code: byJob, want: w(`services[0] redis:7: alias "Cache" is not a valid host name`)},
	{resp: `{"services": [{"name": "redis:7", "variables": [{"key": "1BAD", "value": "x"}]}]}`, code: byJob, want: w(`services[0] redis:7: variable "1BAD" is not a valid environment variable name`)},
	{resp: `{"services": [{"name": "redis:7", "pull_policy": ["always"]}]}`, toml: `pull_policy = "never"`, code: byJob, want: w(`service "redis:7": pull_policy ([Always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([Never])`)},
	{resp: `{"image": {"name": "debian:bookworm"}}`, toml: `allowed_images = ["alpine:*"]`, code: byJob, want: w(`image "debian:bookworm" is not allowed: it matches none of allowed_images [alpine:*]`)},
	{resp: `{"services": [{"name": "mysql:8"}]}`, toml: `allowed_services = ["postgres:*"]`, code: byJob, want: w(`service "mysql:8" is not allowed: it matches none of allowed_services [postgres:*]`)},
	{resp: `{"image": {"name": "UPPER"}, "services": [{"name": ""}, {"name": "redis", "alias": "a_b"}]}`, code: byJob,
		want: w(`image "UPPER": not a valid image reference`, `services[0]: service without an image name`, `services[1] redis: alias "a_b" is not a valid host name`)},
	// Without JOB_RESPONSE_FILE, CUSTOM_ENV_* describes the job.
	{env: []string{"-JOB_RESPONSE_FILE", ce + "CI_JOB_IMAGE=Bad Image"}, code: byJob, want: w(`image "Bad Image": not a valid image reference`)},
	{env: []string{"-JOB_RESPONSE_FILE", ce + "CI_JOB_SERVICES=[{\"name\":"}, code: system, want: w(`CUSTOM_ENV_CI_JOB_SERVICES: not a JSON list of services: unexpected end of JSON input`)},
	{env: []string{"-JOB_RESPONSE_FILE", ce + "CI_JOB_SERVICES=redis:7"}, code: system, want: w(`CUSTOM_ENV_CI_JOB_SERVICES: not a JSON list of services`)},
}

// jobCases: the job's overwrite variables, beyond what the operator
// allows or malformed. An ungated one is ignored with a warning (shown by
// a dry run, which creates nothing).
var jobCases = []bad{
	{toml: `namespace_overwrite_allowed = "ci-.*"`, env: []string{ce + "KUBERNETES_NAMESPACE_OVERWRITE=kube-system"}, code: byJob, want: w(`KUBERNETES_NAMESPACE_OVERWRITE="kube-system" is not allowed: it must match namespace_overwrite_allowed "ci-.*" (the whole value)`)},
	{toml: `namespace_overwrite_allowed = "ci-.*"`, env: []string{ce + "KUBERNETES_NAMESPACE_OVERWRITE=x-ci-y"}, code: byJob, want: w(`KUBERNETES_NAMESPACE_OVERWRITE="x-ci-y" is not allowed`)},
	{toml: `namespace_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_NAMESPACE_OVERWRITE=Bad_NS"}, code: byJob, want: w(`KUBERNETES_NAMESPACE_OVERWRITE="Bad_NS" is not a valid namespace`)},
	{toml: `namespace_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_NAMESPACE_OVERWRITE=" + canaryValue}, code: byJob, want: w(`KUBERNETES_NAMESPACE_OVERWRITE="[MASKED]" is not a valid namespace`)},
	{toml: `namespace_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_NAMESPACE_OVERWRITE=$" + canaryName}, code: byJob, want: w(`KUBERNETES_NAMESPACE_OVERWRITE="$K8SDRV_E2E_CANARY" is not a valid namespace`)},
	{args: "prepare --dry-run", env: []string{ce + "KUBERNETES_NAMESPACE_OVERWRITE=kube-system"}, code: passes, want: w(`WARNING: KUBERNETES_NAMESPACE_OVERWRITE is ignored: namespace_overwrite_allowed is not set`)},
	{toml: `service_account_overwrite_allowed = "ci-.*"`, env: []string{ce + "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE=admin"}, code: byJob, want: w(`KUBERNETES_SERVICE_ACCOUNT_OVERWRITE="admin" is not allowed`)},
	{toml: `service_account_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE=Builder_SA"}, code: byJob, want: w(`KUBERNETES_SERVICE_ACCOUNT_OVERWRITE="Builder_SA" is not a valid service account name`)},
	{env: []string{"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE_ALLOWED=ci-.*", ce + "KUBERNETES_SERVICE_ACCOUNT_OVERWRITE=admin"}, code: byJob, want: w(`KUBERNETES_SERVICE_ACCOUNT_OVERWRITE="admin" is not allowed: it must match service_account_overwrite_allowed "ci-.*"`)},
	{toml: `bearer_token_overwrite_allowed = true`, env: []string{ce + "KUBERNETES_BEARER_TOKEN=very-secret-job-token"}, code: byJob, want: w(`KUBERNETES_BEARER_TOKEN needs host in the k8sdrv configuration`)},
	{args: "prepare --dry-run", env: []string{ce + "KUBERNETES_BEARER_TOKEN=very-secret-job-token"}, code: passes, want: w(`WARNING: KUBERNETES_BEARER_TOKEN is ignored: bearer_token_overwrite_allowed is not set`)},
	{toml: `cpu_limit_overwrite_max_allowed = "2"`, env: []string{ce + "KUBERNETES_CPU_LIMIT=16"}, code: byJob, want: w(`KUBERNETES_CPU_LIMIT=16 is above cpu_limit_overwrite_max_allowed (2)`)},
	{toml: `cpu_limit_overwrite_max_allowed = "2"`, env: []string{ce + "KUBERNETES_CPU_LIMIT=lots"}, code: byJob, want: w(`KUBERNETES_CPU_LIMIT: "lots" is not a Kubernetes quantity`)},
	{toml: `cpu_limit_overwrite_max_allowed = "2"`, env: []string{ce + "KUBERNETES_CPU_LIMIT=-1"}, code: byJob, want: w(`KUBERNETES_CPU_LIMIT: "-1" is not a Kubernetes quantity`)},
	{toml: `cpu_limit_overwrite_max_allowed = "2"`, env: []string{ce + "KUBERNETES_CPU_LIMIT=1 "}, code: byJob, want: w(`KUBERNETES_CPU_LIMIT: "1 " is not a Kubernetes quantity`)},
	{toml: `cpu_request_overwrite_max_allowed = "1"`, env: []string{ce + "KUBERNETES_CPU_REQUEST=1001m"}, code: byJob, want: w(`KUBERNETES_CPU_REQUEST=1001m is above cpu_request_overwrite_max_allowed (1)`)},
	{toml: `memory_limit_overwrite_max_allowed = "1Gi"`, env: []string{ce + "KUBERNETES_MEMORY_LIMIT=2Gi"}, code: byJob, want: w(`KUBERNETES_MEMORY_LIMIT=2Gi is above memory_limit_overwrite_max_allowed (1Gi)`)},
	{toml: `memory_limit_overwrite_max_allowed = "1Gi"`, env: []string{ce + "KUBERNETES_MEMORY_LIMIT=" + canaryValue}, code: byJob, want: w(`KUBERNETES_MEMORY_LIMIT: "[MASKED]" is not a Kubernetes quantity`)},
	{toml: `helper_cpu_limit_overwrite_max_allowed = "500m"`, env: []string{ce + "KUBERNETES_HELPER_CPU_LIMIT=1"}, code: byJob, want: w(`KUBERNETES_HELPER_CPU_LIMIT=1 is above helper_cpu_limit_overwrite_max_allowed (500m)`)},
	{toml: `service_memory_limit_overwrite_max_allowed = "1Gi"`, env: []string{ce + "KUBERNETES_SERVICE_MEMORY_LIMIT=1 Gi"}, code: byJob, want: w(`KUBERNETES_SERVICE_MEMORY_LIMIT: "1 Gi" is not a Kubernetes quantity`)},
	{toml: `ephemeral_storage_limit_overwrite_max_allowed = "10Gi"`, env: []string{ce + "KUBERNETES_EPHEMERAL_STORAGE_LIMIT=1Ti"}, code: byJob, want: w(`KUBERNETES_EPHEMERAL_STORAGE_LIMIT=1Ti is above ephemeral_storage_limit_overwrite_max_allowed (10Gi)`)},
	{args: "prepare --dry-run", env: []string{ce + "KUBERNETES_CPU_LIMIT=64"}, code: passes, want: w(`WARNING: KUBERNETES_CPU_LIMIT is ignored: cpu_limit_overwrite_max_allowed is not set`)},
	{toml: `cpu_limit_overwrite_max_allowed = "2"`, env: []string{ce + "KUBERNETES_CPU_LIMIT=16", ce + "KUBERNETES_MEMORY_LIMIT=1Gi"}, code: byJob,
		want: w(`KUBERNETES_CPU_LIMIT=16 is above`)}, // no warnings about a refused job
	{toml: `pod_labels_overwrite_allowed = "team=.*"`, env: []string{ce + "KUBERNETES_POD_LABELS_1=k8sdrv.io/job-id=1"}, code: byJob, want: w(`KUBERNETES_POD_LABELS_1="k8sdrv.io/job-id=1" is not allowed`)},
	{toml: `pod_labels_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_LABELS_1=novalue"}, code: byJob, want: w(`KUBERNETES_POD_LABELS_1="novalue": want KEY=VALUE`)},
	{toml: `pod_labels_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_LABELS_1==v"}, code: byJob, want: w(`KUBERNETES_POD_LABELS_1="=v": want KEY=VALUE`)},
	{toml: `pod_labels_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_LABELS_1=bad key=v"}, code: byJob, want: w(`KUBERNETES_POD_LABELS_1="bad key=v": "bad key" is not a valid key`)},
	{toml: `pod_labels_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_LABELS_1=team=$" + canaryName}, code: byJob, want: w(`KUBERNETES_POD_LABELS_* "team": it would hold masked variable K8SDRV_E2E_CANARY, and masked values never go into the pod`)},
	{toml: `pod_labels_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_LABELS_1=a=b", ce + "KUBERNETES_POD_LABELS_2=c", ce + "KUBERNETES_POD_LABELS_3=d e=f"}, code: byJob,
		want: w(`KUBERNETES_POD_LABELS_2="c": want KEY=VALUE`, `KUBERNETES_POD_LABELS_3="d e=f": "d e" is not a valid key`)},
	{toml: `pod_annotations_overwrite_allowed = "team/.*"`, env: []string{ce + "KUBERNETES_POD_ANNOTATIONS_1=kubernetes.io/x=y"}, code: byJob, want: w(`KUBERNETES_POD_ANNOTATIONS_1="kubernetes.io/x=y" is not allowed`)},
	{toml: `pod_annotations_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_ANNOTATIONS_1=novalue"}, code: byJob, want: w(`KUBERNETES_POD_ANNOTATIONS_1="novalue": want KEY=VALUE`)},
	{toml: `pod_annotations_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_ANNOTATIONS_1=-x=y"}, code: byJob, want: w(`KUBERNETES_POD_ANNOTATIONS_1="-x=y": "-x" is not a valid key`)},
	{toml: `pod_annotations_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_ANNOTATIONS_1=a=" + canaryValue}, code: byJob, want: w(`KUBERNETES_POD_ANNOTATIONS_* "a": it would hold masked variable K8SDRV_E2E_CANARY`)},
	{toml: `pod_annotations_overwrite_allowed = ".*"`, env: []string{ce + "KUBERNETES_POD_ANNOTATIONS_1=a=${" + canaryName + "}"}, code: byJob, want: w(`KUBERNETES_POD_ANNOTATIONS_* "a": it would hold masked variable K8SDRV_E2E_CANARY`)},
	{args: "prepare --dry-run", env: []string{ce + "KUBERNETES_POD_ANNOTATIONS_1=a=b"}, code: passes, want: w(`WARNING: KUBERNETES_POD_ANNOTATIONS_1 is ignored: pod_annotations_overwrite_allowed is not set`)},
	{toml: "[pod_labels]\n\"team\" = \"$" + canaryName + "\"", code: byJob, want: w(`pod_labels "team": it would hold masked variable K8SDRV_E2E_CANARY`)},
	{toml: "[pod_annotations]\n\"x\" = \"${" + canaryName + "}\"", code: byJob, want: w(`pod_annotations "x": it would hold masked variable K8SDRV_E2E_CANARY`)},
	{toml: "[[volumes.pvc]]\nname = \"cache-$" + canaryName + "\"\nmount_path = \"/p\"", code: byJob, want: w(`volumes.pvc "cache-$K8SDRV_E2E_CANARY": it would hold masked variable K8SDRV_E2E_CANARY`)},
	{toml: "namespace_overwrite_allowed = \"ci-.*\"\ncpu_limit_overwrite_max_allowed = \"1\"", env: []string{ce + "KUBERNETES_NAMESPACE_OVERWRITE=prod", ce + "KUBERNETES_CPU_LIMIT=2"}, code: byJob,
		want: w(`KUBERNETES_NAMESPACE_OVERWRITE="prod" is not allowed`, `KUBERNETES_CPU_LIMIT=2 is above`)},
}

// exitCodeCases: the runner's exit-code variables. Unset, the defaults
// stand (a person debugging by hand sets neither); set to anything but
// 1..255 they are an error, exiting with the default system code.
var exitCodeCases = []bad{
	{env: []string{"-BUILD_FAILURE_EXIT_CODE"}, toml: `cpu_limit = "x"`, code: system, want: w(`@1: cpu_limit: "x" is not`)},
	{env: []string{"-BUILD_FAILURE_EXIT_CODE"}, toml: `namespace_overwrite_allowed = "ci-.*"`, code: byJob, setup: jobVar("KUBERNETES_NAMESPACE_OVERWRITE", "prod"), want: w(`KUBERNETES_NAMESPACE_OVERWRITE="prod" is not allowed`)},
	{env: []string{"-SYSTEM_FAILURE_EXIT_CODE"}, toml: `cpu_limit = "x"`, code: system, want: w(`@1: cpu_limit: "x" is not`)},
	{env: []string{"SYSTEM_FAILURE_EXIT_CODE=7"}, toml: `cpu_limit = "x"`, code: 7, want: w(`@1: cpu_limit: "x" is not`)},
	{env: []string{"BUILD_FAILURE_EXIT_CODE=9"}, toml: `namespace_overwrite_allowed = "ci-.*"`, code: 9, setup: jobVar("KUBERNETES_NAMESPACE_OVERWRITE", "prod"), want: w(`KUBERNETES_NAMESPACE_OVERWRITE="prod" is not allowed`)},
	{env: []string{"BUILD_FAILURE_EXIT_CODE=0"}, code: system, want: w(`runner environment: BUILD_FAILURE_EXIT_CODE=0: want an exit code from 1 to 255`)},
	{env: []string{"BUILD_FAILURE_EXIT_CODE=256"}, code: system, want: w(`runner environment: BUILD_FAILURE_EXIT_CODE=256: want an exit code from 1 to 255`)},
	{env: []string{"BUILD_FAILURE_EXIT_CODE=-1"}, code: system, want: w(`runner environment: BUILD_FAILURE_EXIT_CODE=-1: want an exit code from 1 to 255`)},
	{env: []string{"BUILD_FAILURE_EXIT_CODE=one"}, code: system, want: w(`runner environment: BUILD_FAILURE_EXIT_CODE="one": want an exit code from 1 to 255`)},
	{env: []string{"BUILD_FAILURE_EXIT_CODE="}, code: system, want: w(`runner environment: BUILD_FAILURE_EXIT_CODE="": want an exit code from 1 to 255`)},
	{env: []string{"SYSTEM_FAILURE_EXIT_CODE= 7"}, code: system, want: w(`runner environment: SYSTEM_FAILURE_EXIT_CODE=" 7": want an exit code from 1 to 255`)},
	{env: []string{"SYSTEM_FAILURE_EXIT_CODE=0"}, toml: `cpu_limit = "x"`, code: system, want: w(`runner environment: SYSTEM_FAILURE_EXIT_CODE=0: want an exit code from 1 to 255`)},
	{env: []string{"SYSTEM_FAILURE_EXIT_CODE=256"}, code: system, want: w(`runner environment: SYSTEM_FAILURE_EXIT_CODE=256: want an exit code from 1 to 255`)},
	{env: []string{"SYSTEM_FAILURE_EXIT_CODE=two"}, code: system, want: w(`runner environment: SYSTEM_FAILURE_EXIT_CODE="two": want an exit code from 1 to 255`)},
	{env: []string{"BUILD_FAILURE_EXIT_CODE=0", "SYSTEM_FAILURE_EXIT_CODE=two"}, code: system,
		want: w(`runner environment: BUILD_FAILURE_EXIT_CODE=0: want`, `runner environment: SYSTEM_FAILURE_EXIT_CODE="two": want`)},
	{args: "run", env: []string{"SYSTEM_FAILURE_EXIT_CODE=300"}, code: system, want: w(`runner environment: SYSTEM_FAILURE_EXIT_CODE=300: want`)},
	{args: "cleanup", env: []string{"BUILD_FAILURE_EXIT_CODE=x"}, code: system, want: w(`runner environment: BUILD_FAILURE_EXIT_CODE="x": want`)},
}

// stateCases: TMPDIR and prepare's state file in it.
var stateCases = []bad{
	{args: "run", code: system, want: w(`no state file $TMP/k8sdrv-state.json: prepare has not created a pod for this job`)},
	{args: "run", setup: stateDir, code: system, want: w(`read state: read $TMP/k8sdrv-state.json: is a directory`)},
	{args: "run", state: " ", code: system, want: w(`state file $TMP/k8sdrv-state.json is damaged: unexpected end of JSON input`)},
	{args: "run", state: `{"namespace": "def`, code: system, want: w(`state file $TMP/k8sdrv-state.json is damaged: unexpected end of JSON input`)},
	{args: "run", state: `null`, code: system, want: w(`state file $TMP/k8sdrv-state.json is damaged: it names no pod`)},
	{args: "run", state: `[]`, code: system, want: w(`state file $TMP/k8sdrv-state.json is damaged: json: cannot unmarshal array`)},
	{args: "run", state: anotherJobsState, code: system, want: w(`state file $TMP/k8sdrv-state.json is stale: it belongs to job 1 (project 4242, runner e2eTok12, concurrent id 0)`)},
	{args: "run", state: `{"pod": "runner-x"}`, code: system, want: w(`state file $TMP/k8sdrv-state.json is damaged: namespace "" is not a valid namespace`)},
	{args: "run", state: `{"namespace": "kube-system", "pod": "../../x", "driver_dir": "/k8sdrv"}`, code: system, want: w(`state file $TMP/k8sdrv-state.json is damaged: pod "../../x" is not a valid pod name`)},
	{args: "run", state: `{"namespace": "default", "pod": "runner-x", "driver_dir": "k8sdrv"}`, code: system, want: w(`state file $TMP/k8sdrv-state.json is damaged: driver_dir "k8sdrv" is not an absolute path`)},
	{args: "run /nonexistent/script build_script", state: `{"namespace": "default", "pod": "runner-x", "driver_dir": "/k8sdrv"}`, code: system, want: w(`stage build_script: open /nonexistent/script: no such file or directory`)},
	{args: "run /dev/null", code: system, want: w(`run: want <script> <stage>, got 1 arguments`)},
	{args: "run /dev/null build_script extra", code: system, want: w(`run: want <script> <stage>, got 3 arguments`)},
	{args: "run", env: []string{"-" + ce + "CI_JOB_ID"}, state: anotherJobsState, code: system, want: w(`state file $TMP/k8sdrv-state.json is stale: it belongs to job 1`)},
	// cleanup goes by the job's labels, leaving another job's pod alone.
	{args: "cleanup", state: anotherJobsState, code: passes, want: w(`WARNING: state file $TMP/k8sdrv-state.json is stale: it belongs to job 1`)},
	{args: "cleanup", state: "{garbage", code: passes, want: w(`WARNING: state file $TMP/k8sdrv-state.json is damaged: invalid character 'g'`)},
	{args: "cleanup", state: `{"pod": "runner-x"}`, code: passes, want: w(`WARNING: state file $TMP/k8sdrv-state.json is damaged: namespace ""`)},
	{args: "cleanup", setup: stateDir, code: passes, want: w(`WARNING: read state: read $TMP/k8sdrv-state.json: is a directory`)},
	{args: "cleanup", env: []string{"-" + ce + "CI_JOB_ID"}, state: "{garbage", code: system,
		want: w(`WARNING: state file $TMP/k8sdrv-state.json is damaged`, `state file $TMP/k8sdrv-state.json is damaged: invalid character 'g'`)},
	{args: "cleanup", resp: "{not json", code: passes, want: w(`WARNING: JOB_RESPONSE_FILE $TMP/response.json: not a job response`)},
	// prepare needs a TMPDIR to keep its state in, before it creates a pod.
	{env: []string{"TMPDIR=/nonexistent/tmp"}, code: system, want: w(`TMPDIR /nonexistent/tmp: prepare keeps the job's state there: no such file or directory`)},
	{env: []string{"TMPDIR=/dev/null"}, code: system, want: w(`TMPDIR /dev/null: prepare keeps the job's state there: not a directory`)},
	{env: []string{"-TMPDIR"}, code: system, want: w(`TMPDIR is not set: prepare keeps the job's state there`)},
}

func w(lines ...string) []string { return lines }

// checkBad runs one case and checks all that the catalogue promises.
func checkBad(t *testing.T, c bad) {
	j := newJob(t, jobOptions{})
	base := writeCaseConfig(t, j, c.toml)
	if c.resp != "" {
		writeFile(t, filepath.Join(j.tmp, "response.json"), c.resp)
	}
	if c.state != "" {
		writeFile(t, filepath.Join(j.tmp, stateFile), c.state)
	}
	if c.setup != nil {
		c.setup(t, j)
	}
	args := strings.Fields(cmp.Or(c.args, "prepare"))
	if c.args == "run" {
		args = []string{"run", j.stageScript("build_script", "true\n"), "build_script"}
	}
	before := entries(t, j.tmp)
	r := callWith(t, j, c.env, args)

	expand := func(s string) string {
		s = strings.ReplaceAll(s, "$ROOT", j.root)
		s = strings.ReplaceAll(s, "$TMP", j.tmp)
		s = strings.ReplaceAll(s, "$CONFIG", j.configPath)
		return atLine.ReplaceAllStringFunc(s, func(m string) string {
			n, _ := strconv.Atoi(m[1 : len(m)-1])
			return j.configPath + ":" + strconv.Itoa(base+n) + ":"
		})
	}
	assert.Check(t, r.code == c.code, "exit code %d, want %d; stderr:\n%s", r.code, c.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	assert.Check(t, len(lines) == len(c.want) && strings.HasSuffix(r.stderr, "\n"),
		"%d lines on stderr, want %d:\n%s", len(lines), len(c.want), r.stderr)
	for _, want := range c.want {
		prefix := expand(want)
		if !strings.HasPrefix(want, "WARNING: ") {
			prefix = "ERROR: k8sdrv: " + prefix
		}
		assert.Check(t, slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) }),
			"no line starts with %q:\n%s", prefix, r.stderr)
	}
	// A dry run prints the pod, whose annotations hold the job's name
	// (the test's, so the case's): only stderr is k8sdrv's own there.
	dryRun := strings.Contains(c.args, "--dry-run")
	if !dryRun && !c.usage {
		assert.Check(t, r.stdout == "", "stdout: %s", r.stdout)
	}
	for _, secret := range []string{"very-secret-operator-token", "very-secret-job-token"} {
		assert.Check(t, !strings.Contains(r.stderr, secret) && (dryRun || !strings.Contains(r.stdout, secret)), "%s printed", secret)
	}
	assert.DeepEqual(t, j.pods(), []string(nil))
	after := entries(t, j.tmp)
	for _, name := range after {
		assert.Check(t, slices.Contains(before, name), "k8sdrv left %s in TMPDIR", name)
	}
}

// atLine is "@N:", line N of a case's TOML.
var atLine = regexp.MustCompile(`@\d+:`)

// writeCaseConfig rewrites the job's config: the harness's lines, less
// those whose keys the case sets, then the case's. It returns how many
// lines come before the case's.
func writeCaseConfig(t *testing.T, j *job, text string) int {
	data, err := os.ReadFile(j.configPath)
	assert.NilError(t, err)
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		key, _, found := strings.Cut(line, " =")
		if strings.TrimSpace(line) == "" || found && regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(key)+` =`).MatchString(text) {
			continue
		}
		lines = append(lines, line)
	}
	text = strings.ReplaceAll(text, "$ROOT", j.root)
	writeFile(t, j.configPath, strings.Join(lines, "\n")+"\n"+text+"\n")
	return len(lines)
}

// callWith is job.call with the case's changes to the environment:
// NAME=value sets a variable, -NAME unsets it.
func callWith(t *testing.T, j *job, changes []string, args []string) result {
	cmd := j.command(context.Background(), args...)
	for _, c := range changes {
		name, value, _ := strings.Cut(strings.TrimPrefix(c, "-"), "=")
		cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
		if !strings.HasPrefix(c, "-") {
			cmd.Env = append(cmd.Env, name+"="+value)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: plain(stderr.String()), rawStderr: stderr.String()}
	assertNoSecret(t, "what k8sdrv "+strings.Join(args, " ")+" printed", r.stdout+r.stderr)
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		r.code = exitErr.ExitCode()
	} else {
		assert.NilError(t, err)
	}
	return r
}

func entries(t *testing.T, dir string) []string {
	list, err := os.ReadDir(dir)
	assert.NilError(t, err)
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

func mkfifo(name string) func(*testing.T, *job) {
	return func(t *testing.T, j *job) { assert.NilError(t, syscall.Mkfifo(filepath.Join(j.root, name), 0o600)) }
}

func rootFile(name, content string) func(*testing.T, *job) {
	return func(t *testing.T, j *job) { writeFile(t, filepath.Join(j.root, name), content) }
}

func removeTMPFile(name string) func(*testing.T, *job) {
	return func(t *testing.T, j *job) { assert.NilError(t, os.Remove(filepath.Join(j.tmp, name))) }
}

func responseDir(t *testing.T, j *job) {
	removeTMPFile("response.json")(t, j)
	assert.NilError(t, os.Mkdir(filepath.Join(j.tmp, "response.json"), 0o700))
}

func stateDir(t *testing.T, j *job) {
	assert.NilError(t, os.Mkdir(filepath.Join(j.tmp, stateFile), 0o700))
}

func jobVar(name, value string) func(*testing.T, *job) {
	return func(_ *testing.T, j *job) { j.env[ce+name] = value }
}

// noKubeconfig leaves k8sdrv no cluster to find: no config file, no
// kubeconfig, so that it fails at the first API call.
func noKubeconfig(_ *testing.T, j *job) { j.kubeconfig = "/nonexistent/kubeconfig" }
