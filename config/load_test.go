package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// clearEnv unsets every K8SDRV_* variable for the test, so that the
// environment of whoever runs the tests cannot change what Load returns.
func clearEnv(t testing.TB) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") {
			t.Setenv(name, "") // restores the old value after the test
			assert.NilError(t, os.Unsetenv(name))
		}
	}
}

// writeConfig writes body to a config file in a fresh directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k8sdrv.toml")
	assert.NilError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

// withDefaults is the configuration of an empty file.
func withDefaults() Config {
	return Config{
		BuildsDir:               DefaultBuildsDir,
		CacheDir:                DefaultCacheDir,
		DriverDir:               DefaultDriverDir,
		Namespace:               DefaultNamespace,
		Image:                   DefaultImage,
		HelperImage:             DefaultHelperImageFor("", nil),
		PollTimeout:             DefaultPollTimeout,
		PollInterval:            DefaultPollInterval,
		CleanupResourcesTimeout: Duration{DefaultCleanupResourcesTimeout},
		ReconnectTimeout:        Duration{DefaultReconnectTimeout},
		WaitForServicesTimeout:  DefaultWaitForServicesTimeout,
		Retry:                   Retry{QuotaWaitTimeout: Duration{DefaultPollTimeout * time.Second}},
	}
}

// kubernetesKeys sets every key of the [runners.kubernetes] section that
// k8sdrv supports, plus k8sdrv's own keys; fullKubernetes is what they load as.
const kubernetesKeys = `
host = "https://10.0.0.1:6443"
cert_file = "/etc/k8sdrv/client.crt"
key_file = "/etc/k8sdrv/client.key"
ca_file = "/etc/k8sdrv/ca.crt"
bearer_token = "token-from-file"
context = "ci-cluster"
namespace = "ci-jobs"
namespace_per_job = true
pod_disruption_budget = true
image = "ubuntu:24.04"
helper_image = "registry.example.com/gitlab-runner-helper:v18"
privileged = true
cpu_limit = "2"
cpu_request = "500m"
memory_limit = "4Gi"
memory_request = "1Gi"
helper_cpu_limit = "1"
helper_cpu_request = "100m"
helper_memory_limit = "512Mi"
helper_memory_request = "128Mi"
service_cpu_limit = "1500m"
service_cpu_request = "250m"
service_memory_limit = "2Gi"
service_memory_request = "256Mi"
poll_timeout = 600
poll_interval = 5
cleanup_resources_timeout = "90s"
driver_dir = "/opt/k8sdrv"
logs_base_dir = "/tmp"
scripts_base_dir = "/tmp/"
reconnect_timeout = "2m"
wait_for_services_timeout = 45
quota_wait_timeout = "10m"
retry_limit = 7
retry_backoff_max = 4000
retry_limits = { "exceeded quota" = 20, "etcdserver: request timed out" = 3 }
node_selector = { "kubernetes.io/arch" = "amd64" }
node_tolerations = { "node-role=ci" = "NoSchedule", "onlyKey" = "", "empty.value=" = "PreferNoSchedule" }
affinity = { node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "zone", operator = "In", values = ["a", "b"] }] }] } }, pod_anti_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "kubernetes.io/hostname", label_selector = { match_labels = { app = "ci" } }, match_label_keys = ["team"], mismatch_label_keys = ["k8sdrv.io/runner"] }] } }
priority_class_name = "ci-low"
scheduler_name = "ci-scheduler"
runtime_class_name = "gvisor"
dns_policy = "none"
dns_config = { nameservers = ["10.0.0.10"], searches = ["ci.svc"], options = [{ name = "ndots", value = "2" }, { name = "edns0" }] }
host_aliases = [{ ip = "10.0.0.5", hostnames = ["registry.local"] }]
pod_labels = { team = "ci" }
pod_annotations = { "example.com/owner" = "ci" }
pod_termination_grace_period_seconds = 15
cleanup_grace_period_seconds = 3
terminationGracePeriodSeconds = 20
allow_privilege_escalation = true
cap_add = ["NET_ADMIN", "NET_RAW"]
cap_drop = ["SYS_ADMIN"]
pod_security_context = { fs_group = 59417, run_as_group = 59417, run_as_non_root = true, run_as_user = 59417, supplemental_groups = [1, 2], selinux_type = "spc_t", seccomp_profile = { type = "RuntimeDefault" }, app_armor_profile = { type = "RuntimeDefault" } }
build_container_security_context = { run_as_user = 65534, run_as_group = 65534, capabilities = { add = ["SYS_TIME"] }, privileged = false, allow_privilege_escalation = false, read_only_root_filesystem = true, proc_mount = "Default" }
helper_container_security_context = { run_as_user = 1000, run_as_non_root = true, seccomp_profile = { type = "Localhost", localhost_profile = "profiles/helper.json" }, app_armor_profile = { type = "Localhost", localhost_profile = "k8sdrv-helper" } }
service_container_security_context = { run_as_user = 1000, capabilities = { drop = ["ALL"] }, selinux_type = "container_t" }
init_permissions_container_security_context = { run_as_user = 1000 }
cpu_request_overwrite_max_allowed = "4"
cpu_limit_overwrite_max_allowed = "4"
memory_request_overwrite_max_allowed = "8Gi"
memory_limit_overwrite_max_allowed = "8Gi"
ephemeral_storage_request = "1Gi"
ephemeral_storage_request_overwrite_max_allowed = "20Gi"
ephemeral_storage_limit = "1Gi"
ephemeral_storage_limit_overwrite_max_allowed = "20Gi"
helper_cpu_request_overwrite_max_allowed = "4"
helper_cpu_limit_overwrite_max_allowed = "4"
helper_memory_request_overwrite_max_allowed = "8Gi"
helper_memory_limit_overwrite_max_allowed = "8Gi"
helper_ephemeral_storage_request = "1Gi"
helper_ephemeral_storage_request_overwrite_max_allowed = "20Gi"
helper_ephemeral_storage_limit = "1Gi"
helper_ephemeral_storage_limit_overwrite_max_allowed = "20Gi"
service_cpu_request_overwrite_max_allowed = "4"
service_cpu_limit_overwrite_max_allowed = "4"
service_memory_request_overwrite_max_allowed = "8Gi"
service_memory_limit_overwrite_max_allowed = "8Gi"
service_ephemeral_storage_request = "1Gi"
service_ephemeral_storage_request_overwrite_max_allowed = "20Gi"
service_ephemeral_storage_limit = "1Gi"
service_ephemeral_storage_limit_overwrite_max_allowed = "20Gi"
pod_cpu_request = "2"
pod_cpu_request_overwrite_max_allowed = "6"
pod_cpu_limit = "6"
pod_cpu_limit_overwrite_max_allowed = "12"
pod_memory_request = "8Gi"
pod_memory_request_overwrite_max_allowed = "16Gi"
pod_memory_limit = "16Gi"
pod_memory_limit_overwrite_max_allowed = "32Gi"
namespace_overwrite_allowed = "ci-.*"
service_account = "ci-runner"
service_account_overwrite_allowed = "ci-.*"
bearer_token_overwrite_allowed = true
pod_labels_overwrite_allowed = "team=.*"
pod_annotations_overwrite_allowed = ".*"
node_tolerations_overwrite_allowed = "gpu=.*"
node_selector_overwrite_allowed = "kubernetes.io/arch=(amd64|arm64)"
image_pull_secrets = ["registry-cred", "mirror-cred"]
use_service_account_image_pull_secrets = true
automount_service_account_token = false
print_pod_warning_events = false
resource_availability_check_max_attempts = 3
container_lifecycle = { post_start = { exec = { command = ["touch", "/builds/started"] } } }
pod_spec = [{ name = "hostname", patch = "hostname: custom", patch_type = "merge" }]
pull_policy = ["always", "if-not-present"]
allowed_pull_policies = ["always", "if-not-present"]
allowed_images = ["registry.example.com/**"]
allowed_services = ["postgres:*", "redis:*"]
allowed_users = ["1000", "0"]
allowed_groups = ["1001"]
helper_image_flavor = "ubuntu"
volumes = { host_path = [{ name = "docker", mount_path = "/var/run/docker.sock", read_only = true, mount_propagation = "HostToContainer" }], pvc = [{ name = "build-$CI_CONCURRENT_ID", mount_path = "/srv/builds", sub_path = "b", mount_propagation = "None" }], config_map = [{ name = "cm", mount_path = "/etc/cm", items = { a = "b" } }], secret = [{ name = "sec", mount_path = "/etc/sec" }], empty_dir = [{ name = "tmp", mount_path = "/tmp/x", medium = "Memory", size_limit = "512Mi", mount_propagation = "HostToContainer" }], csi = [{ name = "csi", mount_path = "/csi", driver = "d", fs_type = "ext4", volume_attributes = { size = "1Gi" } }], nfs = [{ name = "nfs", mount_path = "/nfs", sub_path = "ci", read_only = true, server = "nfs.example.com", path = "/exports/ci" }] }
`

const runnerKeys = `
builds_dir = "/srv/builds"
cache_dir = "/srv/cache"
`

func servicesTable(header string) string {
	return `
[[` + header + `]]
name = "redis:7"
alias = "cache"
entrypoint = ["redis-server"]
command = ["--port", "6380"]
environment = ["REDIS_ARGS=--save ''", "TZ=UTC"]

[[` + header + `]]
name = "postgres:16"
`
}

func fullKubernetes() Config {
	yes, two := true, "2"
	fifteen, three, twenty := int64(15), int64(3), int64(20)
	no, uid, nobody, thousand := false, int64(59417), int64(65534), int64(1000)
	return Config{
		BuildsDir:           DefaultBuildsDir,
		CacheDir:            DefaultCacheDir,
		Host:                "https://10.0.0.1:6443",
		CertFile:            "/etc/k8sdrv/client.crt",
		KeyFile:             "/etc/k8sdrv/client.key",
		CAFile:              "/etc/k8sdrv/ca.crt",
		BearerToken:         "token-from-file",
		Context:             "ci-cluster",
		Namespace:           "ci-jobs",
		NamespacePerJob:     true,
		PodDisruptionBudget: true,
		Image:               "ubuntu:24.04",
		HelperImage:         "registry.example.com/gitlab-runner-helper:v18",
		Privileged:          &yes,
		Resources: Resources{
			CPULimit:                          "2",
			CPURequest:                        "500m",
			MemoryLimit:                       "4Gi",
			MemoryRequest:                     "1Gi",
			HelperCPULimit:                    "1",
			HelperCPURequest:                  "100m",
			HelperMemoryLimit:                 "512Mi",
			HelperMemoryRequest:               "128Mi",
			ServiceCPULimit:                   "1500m",
			ServiceCPURequest:                 "250m",
			ServiceMemoryLimit:                "2Gi",
			ServiceMemoryRequest:              "256Mi",
			CPURequestMax:                     "4",
			CPULimitMax:                       "4",
			MemoryRequestMax:                  "8Gi",
			MemoryLimitMax:                    "8Gi",
			EphemeralStorageRequest:           "1Gi",
			EphemeralStorageRequestMax:        "20Gi",
			EphemeralStorageLimit:             "1Gi",
			EphemeralStorageLimitMax:          "20Gi",
			HelperCPURequestMax:               "4",
			HelperCPULimitMax:                 "4",
			HelperMemoryRequestMax:            "8Gi",
			HelperMemoryLimitMax:              "8Gi",
			HelperEphemeralStorageRequest:     "1Gi",
			HelperEphemeralStorageRequestMax:  "20Gi",
			HelperEphemeralStorageLimit:       "1Gi",
			HelperEphemeralStorageLimitMax:    "20Gi",
			ServiceCPURequestMax:              "4",
			ServiceCPULimitMax:                "4",
			ServiceMemoryRequestMax:           "8Gi",
			ServiceMemoryLimitMax:             "8Gi",
			ServiceEphemeralStorageRequest:    "1Gi",
			ServiceEphemeralStorageRequestMax: "20Gi",
			ServiceEphemeralStorageLimit:      "1Gi",
			ServiceEphemeralStorageLimitMax:   "20Gi",
			PodCPURequest:                     "2",
			PodCPURequestMax:                  "6",
			PodCPULimit:                       "6",
			PodCPULimitMax:                    "12",
			PodMemoryRequest:                  "8Gi",
			PodMemoryRequestMax:               "16Gi",
			PodMemoryLimit:                    "16Gi",
			PodMemoryLimitMax:                 "32Gi",
		},
		Overwrites: Overwrites{
			NamespaceOverwriteAllowed:       "ci-.*",
			ServiceAccount:                  "ci-runner",
			ServiceAccountOverwriteAllowed:  "ci-.*",
			BearerTokenOverwriteAllowed:     true,
			PodLabelsOverwriteAllowed:       "team=.*",
			PodAnnotationsOverwriteAllowed:  ".*",
			NodeTolerationsOverwriteAllowed: "gpu=.*",
			NodeSelectorOverwriteAllowed:    "kubernetes.io/arch=(amd64|arm64)",
			ImagePullSecrets:                []string{"registry-cred", "mirror-cred"},

			UseServiceAccountImagePullSecrets: true,
			AutomountServiceAccountToken:      new(false),
		},
		Retry: Retry{RetryLimit: 7, RetryBackoffMax: 4000,
			RetryLimits:      map[string]int{"exceeded quota": 20, "etcdserver: request timed out": 3},
			QuotaWaitTimeout: Duration{10 * time.Minute}},
		PollTimeout:             600,
		PollInterval:            5,
		CleanupResourcesTimeout: Duration{90 * time.Second},
		Services: []Service{
			{Name: "redis:7", Alias: "cache", Entrypoint: []string{"redis-server"}, Command: []string{"--port", "6380"}, Environment: []string{"REDIS_ARGS=--save ''", "TZ=UTC"}},
			{Name: "postgres:16"},
		},
		DriverDir:              "/opt/k8sdrv",
		LogsBaseDir:            "/tmp",
		ScriptsBaseDir:         "/tmp/",
		ReconnectTimeout:       Duration{2 * time.Minute},
		WaitForServicesTimeout: 45,
		Pod: Pod{
			NodeSelector:    map[string]string{"kubernetes.io/arch": "amd64"},
			NodeTolerations: map[string]string{"node-role=ci": "NoSchedule", "onlyKey": "", "empty.value=": "PreferNoSchedule"},
			Affinity: &Affinity{NodeAffinity: &NodeAffinity{Required: &NodeSelector{Terms: []NodeSelectorTerm{{
				MatchExpressions: []Requirement{{Key: "zone", Operator: "In", Values: []string{"a", "b"}}},
			}}}}, PodAntiAffinity: &PodAffinity{Required: []PodAffinityTerm{{
				TopologyKey:       "kubernetes.io/hostname",
				LabelSelector:     &LabelSelector{MatchLabels: map[string]string{"app": "ci"}},
				MatchLabelKeys:    []string{"team"},
				MismatchLabelKeys: []string{"k8sdrv.io/runner"},
			}}}},
			PriorityClassName: "ci-low",
			SchedulerName:     "ci-scheduler",
			RuntimeClassName:  "gvisor",
			DNSPolicy:         "none",
			DNSConfig: &DNSConfig{
				Nameservers: []string{"10.0.0.10"},
				Searches:    []string{"ci.svc"},
				Options:     []DNSOption{{Name: "ndots", Value: &two}, {Name: "edns0"}},
			},
			HostAliases:                      []HostAlias{{IP: "10.0.0.5", Hostnames: []string{"registry.local"}}},
			PodLabels:                        map[string]string{"team": "ci"},
			PodAnnotations:                   map[string]string{"example.com/owner": "ci"},
			PodTerminationGracePeriodSeconds: &fifteen,
			CleanupGracePeriodSeconds:        &three,
			TerminationGracePeriodSeconds:    &twenty,
		},
		Security: Security{
			AllowPrivilegeEscalation: &yes,
			CapAdd:                   []string{"NET_ADMIN", "NET_RAW"},
			CapDrop:                  []string{"SYS_ADMIN"},
			PodSecurityContext: &PodSecurityContext{
				FSGroup: &uid, RunAsGroup: &uid, RunAsNonRoot: &yes, RunAsUser: &uid,
				SupplementalGroups: []int64{1, 2}, SELinuxType: "spc_t",
				SeccompProfile: &Profile{Type: "RuntimeDefault"}, AppArmorProfile: &Profile{Type: "RuntimeDefault"},
			},
			BuildContainerSecurityContext: &ContainerSecurityContext{RunAsUser: &nobody, RunAsGroup: &nobody, Capabilities: &Capabilities{Add: []string{"SYS_TIME"}},
				Privileged: &no, AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, ProcMount: "Default"},
			HelperContainerSecurityContext: &ContainerSecurityContext{
				RunAsUser: &thousand, RunAsNonRoot: &yes,
				SeccompProfile:  &Profile{Type: "Localhost", LocalhostProfile: "profiles/helper.json"},
				AppArmorProfile: &Profile{Type: "Localhost", LocalhostProfile: "k8sdrv-helper"},
			},
			ServiceContainerSecurityContext:         &ContainerSecurityContext{RunAsUser: &thousand, Capabilities: &Capabilities{Drop: []string{"ALL"}}, SELinuxType: "container_t"},
			InitPermissionsContainerSecurityContext: &ContainerSecurityContext{RunAsUser: &thousand},
			AllowedUsers:                            []string{"1000", "0"},
			AllowedGroups:                           []string{"1001"},
		},
		PrintPodWarningEvents:                &no,
		ResourceAvailabilityCheckMaxAttempts: 3,
		ContainerLifecycle:                   Lifecycle{PostStart: &LifecycleHandler{Exec: &ExecAction{Command: []string{"touch", "/builds/started"}}}},
		PodSpec:                              []PodSpecPatch{{Name: "hostname", Patch: "hostname: custom", PatchType: "merge", JSON: []byte(`{"hostname":"custom"}`)}},
		Images: Images{
			PullPolicy:          StringList{"always", "if-not-present"},
			AllowedPullPolicies: []string{"always", "if-not-present"},
			AllowedImages:       []string{"registry.example.com/**"},
			AllowedServices:     []string{"postgres:*", "redis:*"},
			HelperImageFlavor:   "ubuntu",
		},
		Volumes: Volumes{
			HostPath:  []HostPathVolume{{Mount: Mount{Name: "docker", MountPath: "/var/run/docker.sock", ReadOnly: true}, Propagation: Propagation{MountPropagation: "HostToContainer"}}},
			PVC:       []PVCVolume{{Mount: Mount{Name: "build-$CI_CONCURRENT_ID", MountPath: "/srv/builds", SubPath: "b"}, Propagation: Propagation{MountPropagation: "None"}}},
			ConfigMap: []ConfigMapVolume{{Mount: Mount{Name: "cm", MountPath: "/etc/cm"}, Items: map[string]string{"a": "b"}}},
			Secret:    []SecretVolume{{Mount: Mount{Name: "sec", MountPath: "/etc/sec"}}},
			EmptyDir:  []EmptyDirVolume{{Mount: Mount{Name: "tmp", MountPath: "/tmp/x"}, Propagation: Propagation{MountPropagation: "HostToContainer"}, Medium: "Memory", SizeLimit: "512Mi"}},
			CSI:       []CSIVolume{{Mount: Mount{Name: "csi", MountPath: "/csi"}, Driver: "d", FSType: "ext4", VolumeAttributes: map[string]string{"size": "1Gi"}}},
			NFS:       []NFSVolume{{Mount: Mount{Name: "nfs", MountPath: "/nfs", SubPath: "ci", ReadOnly: true}, Server: "nfs.example.com", Path: "/exports/ci"}},
		},
		Warnings: []string{
			"logs_base_dir and scripts_base_dir have no effect: driver_dir, which is set, places k8sdrv's volume",
			"init_permissions_container_security_context has no effect: k8sdrv runs no init-permissions container (its builds and cache volumes are world-writable emptyDirs)",
			"namespace_overwrite_allowed has no effect: namespace_per_job runs every job in its own namespace",
			`service_account "ci-runner" must exist in each job's new namespace (namespace_per_job): something in the cluster has to create it there`,
			"terminationGracePeriodSeconds is deprecated: use pod_termination_grace_period_seconds (and cleanup_grace_period_seconds)",
		},
	}
}

func TestLoadReadsFile(t *testing.T) {
	withRunnerDirs := func(c Config) Config {
		c.BuildsDir, c.CacheDir = "/srv/builds", "/srv/cache"
		return c
	}
	minimal := withDefaults()
	minimal.Namespace = "ci-jobs"

	tests := []struct {
		name string
		body string
		want Config
	}{
		{
			name: "empty file gives defaults",
			body: "",
			want: withDefaults(),
		},
		{
			name: "minimal file",
			body: `namespace = "ci-jobs"`,
			want: minimal,
		},
		{
			name: "every supported key",
			body: runnerKeys + kubernetesKeys + servicesTable("services"),
			want: withRunnerDirs(fullKubernetes()),
		},
		{
			name: "section pasted with its [runners.kubernetes] header",
			body: "[runners.kubernetes]" + kubernetesKeys + servicesTable("runners.kubernetes.services"),
			want: fullKubernetes(),
		},
		{
			name: "[[runners]] entry with builds_dir, cache_dir and [runners.kubernetes]",
			body: `
[[runners]]
name = "k8s"
url = "https://gitlab.example.com"
token = "glrt-runner-token"
executor = "custom"` + runnerKeys + `
[runners.custom]
config_exec = "k8sdrv"

[runners.kubernetes]` + kubernetesKeys + servicesTable("runners.kubernetes.services"),
			want: withRunnerDirs(fullKubernetes()),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			cfg, err := Load(writeConfig(t, tc.body))
			assert.NilError(t, err)
			assert.DeepEqual(t, *cfg, tc.want)
		})
	}
}

func TestLoadWithoutFileAppliesDefaults(t *testing.T) {
	clearEnv(t)
	cfg, err := Load("")
	assert.NilError(t, err)
	assert.DeepEqual(t, *cfg, withDefaults())
}

// TestFullConfigSetsEveryKey keeps the "every supported key" case honest:
// a key added to Config must be added to kubernetesKeys or runnerKeys too.
func TestFullConfigSetsEveryKey(t *testing.T) {
	body := runnerKeys + kubernetesKeys + servicesTable("services")
	for _, key := range tomlKeys(reflect.TypeFor[Config]()) {
		if key == "services" {
			assert.Check(t, is.Contains(body, "[[services]]"))
			continue
		}
		assert.Check(t, strings.Contains(body, "\n"+key+" = "), "key %s missing from the full test config", key)
	}
}

// tomlKeys lists the toml tags of t's fields, descending into embedded structs.
func tomlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if f.Anonymous {
			keys = append(keys, tomlKeys(f.Type)...)
			continue
		}
		if key := f.Tag.Get("toml"); key != "-" {
			keys = append(keys, key)
		}
	}
	return keys
}

func TestLoadDurations(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
	}{
		{value: `"90s"`, want: 90 * time.Second},
		{value: `"5m"`, want: 5 * time.Minute},
		{value: `"1h30m"`, want: 90 * time.Minute},
		{value: `120`, want: 120 * time.Second},
		{value: `"45"`, want: 45 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			clearEnv(t)
			cfg, err := Load(writeConfig(t, "cleanup_resources_timeout = "+tc.value+"\nreconnect_timeout = "+tc.value))
			assert.NilError(t, err)
			assert.Equal(t, cfg.CleanupResourcesTimeout.Duration, tc.want)
			assert.Equal(t, cfg.ReconnectTimeout.Duration, tc.want)
		})
	}
}

func TestLoadEnvironmentOverridesFile(t *testing.T) {
	file := `
namespace = "from-file"
poll_timeout = 60
cleanup_resources_timeout = "1m"
cpu_limit = "1"
`
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, cfg *Config)
	}{
		{
			name: "K8SDRV_NAMESPACE",
			env:  map[string]string{"K8SDRV_NAMESPACE": "from-env"},
			check: func(t *testing.T, cfg *Config) {
				assert.Equal(t, cfg.Namespace, "from-env")
				assert.Equal(t, cfg.PollTimeout, 60)
			},
		},
		{
			name: "K8SDRV_POLL_TIMEOUT",
			env:  map[string]string{"K8SDRV_POLL_TIMEOUT": "900"},
			check: func(t *testing.T, cfg *Config) {
				assert.Equal(t, cfg.PollTimeout, 900)
				assert.Equal(t, cfg.Namespace, "from-file")
			},
		},
		{
			name: "K8SDRV_CLEANUP_RESOURCES_TIMEOUT as a duration",
			env:  map[string]string{"K8SDRV_CLEANUP_RESOURCES_TIMEOUT": "90s"},
			check: func(t *testing.T, cfg *Config) {
				assert.Equal(t, cfg.CleanupResourcesTimeout.Duration, 90*time.Second)
			},
		},
		{
			name: "K8SDRV_CLEANUP_RESOURCES_TIMEOUT as seconds",
			env:  map[string]string{"K8SDRV_CLEANUP_RESOURCES_TIMEOUT": "30"},
			check: func(t *testing.T, cfg *Config) {
				assert.Equal(t, cfg.CleanupResourcesTimeout.Duration, 30*time.Second)
			},
		},
		{
			name: "key of the embedded resources",
			env:  map[string]string{"K8SDRV_CPU_LIMIT": "3", "K8SDRV_SERVICE_MEMORY_REQUEST": "64Mi"},
			check: func(t *testing.T, cfg *Config) {
				assert.Equal(t, cfg.CPULimit, "3")
				assert.Equal(t, cfg.ServiceMemoryRequest, "64Mi")
			},
		},
		{
			name: "K8SDRV_PRIVILEGED",
			env:  map[string]string{"K8SDRV_PRIVILEGED": "false"},
			check: func(t *testing.T, cfg *Config) {
				assert.Assert(t, cfg.Privileged != nil)
				assert.Equal(t, *cfg.Privileged, false)
			},
		},
		{
			name: "K8SDRV_BUILDS_DIR and K8SDRV_DRIVER_DIR",
			env:  map[string]string{"K8SDRV_BUILDS_DIR": "/b", "K8SDRV_DRIVER_DIR": "/d"},
			check: func(t *testing.T, cfg *Config) {
				assert.Equal(t, cfg.BuildsDir, "/b")
				assert.Equal(t, cfg.DriverDir, "/d")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(writeConfig(t, file))
			assert.NilError(t, err)
			tc.check(t, cfg)
		})
	}
}

func TestLoadEnvironmentWithoutFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("K8SDRV_NAMESPACE", "ci")
	t.Setenv("K8SDRV_POLL_TIMEOUT", "30")
	want := withDefaults()
	want.Namespace, want.PollTimeout = "ci", 30
	want.QuotaWaitTimeout.Duration = 30 * time.Second // poll_timeout's

	cfg, err := Load("")
	assert.NilError(t, err)
	assert.DeepEqual(t, *cfg, want)
}

// TestLoadIgnoresUnprefixedEnvironment: only K8SDRV_<KEY> overrides a key;
// NAMESPACE, HOST or BEARER_TOKEN in the runner's environment never do.
func TestLoadIgnoresUnprefixedEnvironment(t *testing.T) {
	clearEnv(t)
	for _, name := range []string{"NAMESPACE", "HOST", "BEARER_TOKEN", "IMAGE", "PRIVILEGED", "BUILDS_DIR", "CPU_LIMIT", "POLL_TIMEOUT"} {
		t.Setenv(name, "bogus")
	}
	cfg, err := Load("")
	assert.NilError(t, err)
	assert.DeepEqual(t, *cfg, withDefaults())
}

// TestLoadWaitForServicesTimeout: k8sdrv reads wait_for_services_timeout
// at the top level and in [runners.kubernetes], and also where GitLab
// Runner keeps it, [runners.docker] of a pasted [[runners]] entry, unless
// the Kubernetes section sets it; 0 is the default, -1 no wait.
func TestLoadWaitForServicesTimeout(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{name: "unset", body: "", want: 30},
		{name: "zero is the default", body: "wait_for_services_timeout = 0", want: 30},
		{name: "off", body: "wait_for_services_timeout = -1", want: -1},
		{name: "top level", body: "wait_for_services_timeout = 90", want: 90},
		{name: "pasted section", body: "[runners.kubernetes]\nwait_for_services_timeout = 5", want: 5},
		{name: "runners.docker", body: "[[runners]]\nexecutor = \"custom\"\n[runners.docker]\nwait_for_services_timeout = 120\nimage = \"x\"\n", want: 120},
		{
			name: "runners.kubernetes wins over runners.docker",
			body: "[[runners]]\n[runners.docker]\nwait_for_services_timeout = 120\n[runners.kubernetes]\nwait_for_services_timeout = 10\n",
			want: 10,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			cfg, err := Load(writeConfig(t, tc.body))
			assert.NilError(t, err)
			assert.Equal(t, cfg.WaitForServicesTimeout, tc.want)
			wait, on := cfg.ServicesWait()
			assert.Equal(t, on, tc.want > 0)
			if on {
				assert.Equal(t, wait, time.Duration(tc.want)*time.Second)
			}
		})
	}
	t.Run("environment", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("K8SDRV_WAIT_FOR_SERVICES_TIMEOUT", "-1")
		cfg, err := Load(writeConfig(t, "wait_for_services_timeout = 60"))
		assert.NilError(t, err)
		assert.Equal(t, cfg.WaitForServicesTimeout, -1)
	})
}
