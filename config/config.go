// Package config loads and validates the operator's k8sdrv configuration: a
// TOML file with the keys of GitLab Runner's [runners.kubernetes] section
// (plus the runner-level builds_dir and cache_dir), overridable per scalar key
// by K8SDRV_<KEY> environment variables.
//
// Job-controlled input (CUSTOM_ENV_*) never reaches this package.
package config

import (
	"strings"
	"time"
)

// Defaults for keys the operator leaves unset.
const (
	DefaultBuildsDir               = "/builds"
	DefaultCacheDir                = "/cache"
	DefaultDriverDir               = "/k8sdrv"
	DefaultNamespace               = "default"
	DefaultImage                   = "alpine:latest"
	DefaultPollTimeout             = 180
	DefaultPollInterval            = 3
	DefaultCleanupResourcesTimeout = 5 * time.Minute
	DefaultReconnectTimeout        = 5 * time.Minute
	// DefaultWaitForServicesTimeout is GitLab Runner's default of
	// wait_for_services_timeout, in seconds.
	DefaultWaitForServicesTimeout = 30
)

// Config is the operator's configuration. Field tags name the TOML key and
// the environment variable that overrides it; fields tagged ignored:"true"
// are tables or lists and come from the file only. The variable names carry
// their K8SDRV_ prefix in the tag because envconfig, given a prefix, falls
// back to the bare name: NAMESPACE or HOST in the runner's environment
// must never change k8sdrv's settings.
type Config struct {
	// Runner-level keys (in GitLab Runner they sit in [[runners]]).
	BuildsDir string `toml:"builds_dir" envconfig:"K8SDRV_BUILDS_DIR"`
	CacheDir  string `toml:"cache_dir" envconfig:"K8SDRV_CACHE_DIR"`

	// Connection.
	Host        string `toml:"host" envconfig:"K8SDRV_HOST"`
	CertFile    string `toml:"cert_file" envconfig:"K8SDRV_CERT_FILE"`
	KeyFile     string `toml:"key_file" envconfig:"K8SDRV_KEY_FILE"`
	CAFile      string `toml:"ca_file" envconfig:"K8SDRV_CA_FILE"`
	BearerToken string `toml:"bearer_token" envconfig:"K8SDRV_BEARER_TOKEN"`
	// Context is the kubeconfig context to use instead of the current one.
	Context string `toml:"context" envconfig:"K8SDRV_CONTEXT"`

	Namespace string `toml:"namespace" envconfig:"K8SDRV_NAMESPACE"`
	// NamespacePerJob runs every job in a namespace of its own,
	// ci-job-<CI_JOB_ID>, which prepare creates and cleanup deletes;
	// namespace and the namespace overwrite are then not used for jobs.
	NamespacePerJob bool `toml:"namespace_per_job" envconfig:"K8SDRV_NAMESPACE_PER_JOB"`
	// PodDisruptionBudget gives every job pod a PodDisruptionBudget
	// (minAvailable 1, owned by the pod), so that a node drain does not
	// evict a running job.
	PodDisruptionBudget bool `toml:"pod_disruption_budget" envconfig:"K8SDRV_POD_DISRUPTION_BUDGET"`

	Image       string `toml:"image" envconfig:"K8SDRV_IMAGE"`
	HelperImage string `toml:"helper_image" envconfig:"K8SDRV_HELPER_IMAGE"`
	Privileged  *bool  `toml:"privileged" envconfig:"K8SDRV_PRIVILEGED"`

	Resources  `envconfig:"K8SDRV_RESOURCES"`
	Pod        `envconfig:"K8SDRV_POD"`
	Security   `envconfig:"K8SDRV_SECURITY"`
	Overwrites `envconfig:"K8SDRV_OVERWRITES"`
	Images     `envconfig:"K8SDRV_IMAGES"`
	Retry      `envconfig:"K8SDRV_RETRY"`

	PrintPodWarningEvents *bool `toml:"print_pod_warning_events" envconfig:"K8SDRV_PRINT_POD_WARNING_EVENTS"`
	// ResourceAvailabilityCheckMaxAttempts is how often prepare checks, 5 s
	// apart, that the service account and pull secrets exist (0: never).
	ResourceAvailabilityCheckMaxAttempts int `toml:"resource_availability_check_max_attempts" envconfig:"K8SDRV_RESOURCE_AVAILABILITY_CHECK_MAX_ATTEMPTS"`

	PollTimeout             int      `toml:"poll_timeout" envconfig:"K8SDRV_POLL_TIMEOUT"`
	PollInterval            int      `toml:"poll_interval" envconfig:"K8SDRV_POLL_INTERVAL"`
	CleanupResourcesTimeout Duration `toml:"cleanup_resources_timeout" envconfig:"K8SDRV_CLEANUP_RESOURCES_TIMEOUT"`
	// WaitForServicesTimeout is how many seconds prepare waits for the
	// services to listen on their ports (0: the default, -1: no wait).
	// GitLab Runner keeps it in [runners.docker]; a pasted [[runners]]
	// entry may have it there (decodeRunner).
	WaitForServicesTimeout int `toml:"wait_for_services_timeout" envconfig:"K8SDRV_WAIT_FOR_SERVICES_TIMEOUT"`

	Services []Service `toml:"services" ignored:"true"`
	Volumes  Volumes   `toml:"volumes" ignored:"true"`

	ContainerLifecycle Lifecycle      `toml:"container_lifecycle" ignored:"true"`
	PodSpec            []PodSpecPatch `toml:"pod_spec" ignored:"true"`

	// k8sdrv's own keys.

	// DriverDir is where the execution-model volumes (stage scripts, logs,
	// exit codes) are mounted, one in the build and one in the helper
	// container.
	DriverDir string `toml:"driver_dir" envconfig:"K8SDRV_DRIVER_DIR"`
	// LogsBaseDir and ScriptsBaseDir are GitLab Runner's keys for where
	// its executor's log and script volumes go; in k8sdrv they place its
	// own volume, at a directory named after the job under them, instead
	// of DriverDir (see JobDriverDir), unless driver_dir is set too. Set
	// together, they must agree.
	LogsBaseDir    string `toml:"logs_base_dir" envconfig:"K8SDRV_LOGS_BASE_DIR"`
	ScriptsBaseDir string `toml:"scripts_base_dir" envconfig:"K8SDRV_SCRIPTS_BASE_DIR"`
	// ReconnectTimeout bounds how long run keeps reconnecting to a stage
	// whose stream broke before giving up with a system failure.
	ReconnectTimeout Duration `toml:"reconnect_timeout" envconfig:"K8SDRV_RECONNECT_TIMEOUT"`

	// Warnings are problems that do not stop k8sdrv, such as deprecated
	// keys; prepare prints them to the job log.
	Warnings []string `toml:"-" ignored:"true"`
}

// ServicesWait returns how long prepare waits for the services to listen
// on their ports; false when wait_for_services_timeout turns it off.
func (c *Config) ServicesWait() (time.Duration, bool) {
	return time.Duration(c.WaitForServicesTimeout) * time.Second, c.WaitForServicesTimeout > 0
}

// Service is a config-level service container, started for every job.
type Service struct {
	Name       string   `toml:"name"`
	Alias      string   `toml:"alias"`
	Entrypoint []string `toml:"entrypoint"`
	Command    []string `toml:"command"`
	// Environment holds the service container's variables, "NAME=value".
	Environment []string `toml:"environment"`
}

// Variables splits Environment into names and values; Validate has
// checked that each entry has a name and "=".
func (s Service) Variables() (names, values []string) {
	for _, e := range s.Environment {
		name, value, _ := strings.Cut(e, "=")
		names, values = append(names, name), append(values, value)
	}
	return names, values
}

// Duration is a TOML/env value such as "90s" or "5m"; a bare integer is
// taken as seconds, as GitLab Runner's documentation allows for timeouts.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler for TOML strings and
// environment variables.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	d.Duration = v
	return err
}

// UnmarshalTOML accepts both strings and integers (seconds).
func (d *Duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		var err error
		d.Duration, err = secondsDuration(x)
		return err
	case string:
		return d.UnmarshalText([]byte(x))
	default:
		return errNotDuration
	}
}

// Decode implements envconfig.Decoder.
func (d *Duration) Decode(value string) error { return d.UnmarshalText([]byte(value)) }

func (c *Config) applyDefaults() {
	setDefault(&c.BuildsDir, DefaultBuildsDir)
	setDefault(&c.CacheDir, DefaultCacheDir)
	switch {
	case c.LogsBaseDir == "" && c.ScriptsBaseDir == "":
		setDefault(&c.DriverDir, DefaultDriverDir)
	case c.DriverDir != "":
		c.Warnings = append(c.Warnings, "logs_base_dir and scripts_base_dir have no effect: driver_dir, which is set, places k8sdrv's volume")
	}
	setDefault(&c.Namespace, DefaultNamespace)
	setDefault(&c.Image, DefaultImage)
	setDefault(&c.HelperImage, DefaultHelperImageFor(c.HelperImageFlavor, c.NodeSelector))
	for i := range c.PodSpec {
		setDefault(&c.PodSpec[i].PatchType, "strategic")
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.QuotaWaitTimeout.Duration == 0 && c.PollTimeout > 0 { // a negative poll_timeout is reported as itself
		c.QuotaWaitTimeout.Duration = time.Duration(c.PollTimeout) * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.WaitForServicesTimeout == 0 {
		c.WaitForServicesTimeout = DefaultWaitForServicesTimeout
	}
	if c.CleanupResourcesTimeout.Duration == 0 {
		c.CleanupResourcesTimeout.Duration = DefaultCleanupResourcesTimeout
	}
	if c.ReconnectTimeout.Duration == 0 {
		c.ReconnectTimeout.Duration = DefaultReconnectTimeout
	}
	if c.InitPermissionsContainerSecurityContext != nil {
		c.Warnings = append(c.Warnings, "init_permissions_container_security_context has no effect: k8sdrv runs no init-permissions container (its builds and cache volumes are world-writable emptyDirs)")
	}
	c.Warnings = append(c.Warnings, c.Retry.warnings()...)
	c.Warnings = append(c.Warnings, c.namespacePerJobWarnings()...)
	if c.TerminationGracePeriodSeconds != nil {
		c.Warnings = append(c.Warnings, "terminationGracePeriodSeconds is deprecated: use pod_termination_grace_period_seconds (and cleanup_grace_period_seconds)")
		if c.PodTerminationGracePeriodSeconds == nil {
			c.PodTerminationGracePeriodSeconds = c.TerminationGracePeriodSeconds
		}
	}
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}
