package config

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources holds the requests and limits of the build, helper and service
// containers, and the highest value a job may set for each through its
// KUBERNETES_* overwrite variable (no maximum: no overwrite).
type Resources struct {
	CPULimit                          string `toml:"cpu_limit" envconfig:"K8SDRV_CPU_LIMIT"`
	CPULimitMax                       string `toml:"cpu_limit_overwrite_max_allowed" envconfig:"K8SDRV_CPU_LIMIT_OVERWRITE_MAX_ALLOWED"`
	CPURequest                        string `toml:"cpu_request" envconfig:"K8SDRV_CPU_REQUEST"`
	CPURequestMax                     string `toml:"cpu_request_overwrite_max_allowed" envconfig:"K8SDRV_CPU_REQUEST_OVERWRITE_MAX_ALLOWED"`
	MemoryLimit                       string `toml:"memory_limit" envconfig:"K8SDRV_MEMORY_LIMIT"`
	MemoryLimitMax                    string `toml:"memory_limit_overwrite_max_allowed" envconfig:"K8SDRV_MEMORY_LIMIT_OVERWRITE_MAX_ALLOWED"`
	MemoryRequest                     string `toml:"memory_request" envconfig:"K8SDRV_MEMORY_REQUEST"`
	MemoryRequestMax                  string `toml:"memory_request_overwrite_max_allowed" envconfig:"K8SDRV_MEMORY_REQUEST_OVERWRITE_MAX_ALLOWED"`
	EphemeralStorageLimit             string `toml:"ephemeral_storage_limit" envconfig:"K8SDRV_EPHEMERAL_STORAGE_LIMIT"`
	EphemeralStorageLimitMax          string `toml:"ephemeral_storage_limit_overwrite_max_allowed" envconfig:"K8SDRV_EPHEMERAL_STORAGE_LIMIT_OVERWRITE_MAX_ALLOWED"`
	EphemeralStorageRequest           string `toml:"ephemeral_storage_request" envconfig:"K8SDRV_EPHEMERAL_STORAGE_REQUEST"`
	EphemeralStorageRequestMax        string `toml:"ephemeral_storage_request_overwrite_max_allowed" envconfig:"K8SDRV_EPHEMERAL_STORAGE_REQUEST_OVERWRITE_MAX_ALLOWED"`
	HelperCPULimit                    string `toml:"helper_cpu_limit" envconfig:"K8SDRV_HELPER_CPU_LIMIT"`
	HelperCPULimitMax                 string `toml:"helper_cpu_limit_overwrite_max_allowed" envconfig:"K8SDRV_HELPER_CPU_LIMIT_OVERWRITE_MAX_ALLOWED"`
	HelperCPURequest                  string `toml:"helper_cpu_request" envconfig:"K8SDRV_HELPER_CPU_REQUEST"`
	HelperCPURequestMax               string `toml:"helper_cpu_request_overwrite_max_allowed" envconfig:"K8SDRV_HELPER_CPU_REQUEST_OVERWRITE_MAX_ALLOWED"`
	HelperMemoryLimit                 string `toml:"helper_memory_limit" envconfig:"K8SDRV_HELPER_MEMORY_LIMIT"`
	HelperMemoryLimitMax              string `toml:"helper_memory_limit_overwrite_max_allowed" envconfig:"K8SDRV_HELPER_MEMORY_LIMIT_OVERWRITE_MAX_ALLOWED"`
	HelperMemoryRequest               string `toml:"helper_memory_request" envconfig:"K8SDRV_HELPER_MEMORY_REQUEST"`
	HelperMemoryRequestMax            string `toml:"helper_memory_request_overwrite_max_allowed" envconfig:"K8SDRV_HELPER_MEMORY_REQUEST_OVERWRITE_MAX_ALLOWED"`
	HelperEphemeralStorageLimit       string `toml:"helper_ephemeral_storage_limit" envconfig:"K8SDRV_HELPER_EPHEMERAL_STORAGE_LIMIT"`
	HelperEphemeralStorageLimitMax    string `toml:"helper_ephemeral_storage_limit_overwrite_max_allowed" envconfig:"K8SDRV_HELPER_EPHEMERAL_STORAGE_LIMIT_OVERWRITE_MAX_ALLOWED"`
	HelperEphemeralStorageRequest     string `toml:"helper_ephemeral_storage_request" envconfig:"K8SDRV_HELPER_EPHEMERAL_STORAGE_REQUEST"`
	HelperEphemeralStorageRequestMax  string `toml:"helper_ephemeral_storage_request_overwrite_max_allowed" envconfig:"K8SDRV_HELPER_EPHEMERAL_STORAGE_REQUEST_OVERWRITE_MAX_ALLOWED"`
	ServiceCPULimit                   string `toml:"service_cpu_limit" envconfig:"K8SDRV_SERVICE_CPU_LIMIT"`
	ServiceCPULimitMax                string `toml:"service_cpu_limit_overwrite_max_allowed" envconfig:"K8SDRV_SERVICE_CPU_LIMIT_OVERWRITE_MAX_ALLOWED"`
	ServiceCPURequest                 string `toml:"service_cpu_request" envconfig:"K8SDRV_SERVICE_CPU_REQUEST"`
	ServiceCPURequestMax              string `toml:"service_cpu_request_overwrite_max_allowed" envconfig:"K8SDRV_SERVICE_CPU_REQUEST_OVERWRITE_MAX_ALLOWED"`
	ServiceMemoryLimit                string `toml:"service_memory_limit" envconfig:"K8SDRV_SERVICE_MEMORY_LIMIT"`
	ServiceMemoryLimitMax             string `toml:"service_memory_limit_overwrite_max_allowed" envconfig:"K8SDRV_SERVICE_MEMORY_LIMIT_OVERWRITE_MAX_ALLOWED"`
	ServiceMemoryRequest              string `toml:"service_memory_request" envconfig:"K8SDRV_SERVICE_MEMORY_REQUEST"`
	ServiceMemoryRequestMax           string `toml:"service_memory_request_overwrite_max_allowed" envconfig:"K8SDRV_SERVICE_MEMORY_REQUEST_OVERWRITE_MAX_ALLOWED"`
	ServiceEphemeralStorageLimit      string `toml:"service_ephemeral_storage_limit" envconfig:"K8SDRV_SERVICE_EPHEMERAL_STORAGE_LIMIT"`
	ServiceEphemeralStorageLimitMax   string `toml:"service_ephemeral_storage_limit_overwrite_max_allowed" envconfig:"K8SDRV_SERVICE_EPHEMERAL_STORAGE_LIMIT_OVERWRITE_MAX_ALLOWED"`
	ServiceEphemeralStorageRequest    string `toml:"service_ephemeral_storage_request" envconfig:"K8SDRV_SERVICE_EPHEMERAL_STORAGE_REQUEST"`
	ServiceEphemeralStorageRequestMax string `toml:"service_ephemeral_storage_request_overwrite_max_allowed" envconfig:"K8SDRV_SERVICE_EPHEMERAL_STORAGE_REQUEST_OVERWRITE_MAX_ALLOWED"`

	// The pod's own requests and limits (spec.resources, Kubernetes'
	// pod-level resources): cpu and memory only, as the API server allows.
	PodCPULimit         string `toml:"pod_cpu_limit" envconfig:"K8SDRV_POD_CPU_LIMIT"`
	PodCPULimitMax      string `toml:"pod_cpu_limit_overwrite_max_allowed" envconfig:"K8SDRV_POD_CPU_LIMIT_OVERWRITE_MAX_ALLOWED"`
	PodCPURequest       string `toml:"pod_cpu_request" envconfig:"K8SDRV_POD_CPU_REQUEST"`
	PodCPURequestMax    string `toml:"pod_cpu_request_overwrite_max_allowed" envconfig:"K8SDRV_POD_CPU_REQUEST_OVERWRITE_MAX_ALLOWED"`
	PodMemoryLimit      string `toml:"pod_memory_limit" envconfig:"K8SDRV_POD_MEMORY_LIMIT"`
	PodMemoryLimitMax   string `toml:"pod_memory_limit_overwrite_max_allowed" envconfig:"K8SDRV_POD_MEMORY_LIMIT_OVERWRITE_MAX_ALLOWED"`
	PodMemoryRequest    string `toml:"pod_memory_request" envconfig:"K8SDRV_POD_MEMORY_REQUEST"`
	PodMemoryRequestMax string `toml:"pod_memory_request_overwrite_max_allowed" envconfig:"K8SDRV_POD_MEMORY_REQUEST_OVERWRITE_MAX_ALLOWED"`
}

// Container kinds, as resource settings and overwrite variables name them;
// PodLevel stands for the pod's own spec.resources.
const (
	BuildContainer   = ""
	HelperContainer  = "helper"
	ServiceContainer = "service"
	PodLevel         = "pod"
)

// ResourceSetting is one request or limit of one container kind.
type ResourceSetting struct {
	Container string // BuildContainer, HelperContainer, ServiceContainer or PodLevel
	Resource  string // "cpu", "memory" or "ephemeral-storage"
	Limit     bool   // a limit, else a request
	Key       string // the TOML key, e.g. helper_cpu_limit
	Variable  string // the job's overwrite variable, e.g. KUBERNETES_HELPER_CPU_LIMIT
	Value     *string
	Max       *string // the *_overwrite_max_allowed setting
}

// Settings lists every request and limit, in a fixed order, pointing into r.
func (r *Resources) Settings() []ResourceSetting {
	type pair struct{ value, max *string }
	fields := map[string]pair{
		"cpu_limit": {&r.CPULimit, &r.CPULimitMax}, "cpu_request": {&r.CPURequest, &r.CPURequestMax},
		"memory_limit": {&r.MemoryLimit, &r.MemoryLimitMax}, "memory_request": {&r.MemoryRequest, &r.MemoryRequestMax},
		"ephemeral_storage_limit": {&r.EphemeralStorageLimit, &r.EphemeralStorageLimitMax}, "ephemeral_storage_request": {&r.EphemeralStorageRequest, &r.EphemeralStorageRequestMax},
		"helper_cpu_limit": {&r.HelperCPULimit, &r.HelperCPULimitMax}, "helper_cpu_request": {&r.HelperCPURequest, &r.HelperCPURequestMax},
		"helper_memory_limit": {&r.HelperMemoryLimit, &r.HelperMemoryLimitMax}, "helper_memory_request": {&r.HelperMemoryRequest, &r.HelperMemoryRequestMax},
		"helper_ephemeral_storage_limit": {&r.HelperEphemeralStorageLimit, &r.HelperEphemeralStorageLimitMax}, "helper_ephemeral_storage_request": {&r.HelperEphemeralStorageRequest, &r.HelperEphemeralStorageRequestMax},
		"service_cpu_limit": {&r.ServiceCPULimit, &r.ServiceCPULimitMax}, "service_cpu_request": {&r.ServiceCPURequest, &r.ServiceCPURequestMax},
		"service_memory_limit": {&r.ServiceMemoryLimit, &r.ServiceMemoryLimitMax}, "service_memory_request": {&r.ServiceMemoryRequest, &r.ServiceMemoryRequestMax},
		"service_ephemeral_storage_limit": {&r.ServiceEphemeralStorageLimit, &r.ServiceEphemeralStorageLimitMax}, "service_ephemeral_storage_request": {&r.ServiceEphemeralStorageRequest, &r.ServiceEphemeralStorageRequestMax},
		"pod_cpu_limit": {&r.PodCPULimit, &r.PodCPULimitMax}, "pod_cpu_request": {&r.PodCPURequest, &r.PodCPURequestMax},
		"pod_memory_limit": {&r.PodMemoryLimit, &r.PodMemoryLimitMax}, "pod_memory_request": {&r.PodMemoryRequest, &r.PodMemoryRequestMax},
	}
	var out []ResourceSetting
	for _, container := range []string{BuildContainer, HelperContainer, ServiceContainer, PodLevel} {
		for _, res := range []string{"cpu", "memory", "ephemeral_storage"} {
			if container == PodLevel && res == "ephemeral_storage" {
				continue // the API server takes only cpu and memory for the pod
			}
			for _, kind := range []string{"request", "limit"} {
				key := res + "_" + kind
				if container != BuildContainer {
					key = container + "_" + key
				}
				f := fields[key]
				out = append(out, ResourceSetting{
					Container: container,
					Resource:  map[string]string{"cpu": "cpu", "memory": "memory", "ephemeral_storage": "ephemeral-storage"}[res],
					Limit:     kind == "limit",
					Key:       key,
					Variable:  "KUBERNETES_" + strings.ToUpper(key),
					Value:     f.value,
					Max:       f.max,
				})
			}
		}
	}
	return out
}

// ParseQuantity parses a resource value: a non-negative Kubernetes
// quantity written without a sign.
func ParseQuantity(s string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil || s == "" || !(s[0] >= '0' && s[0] <= '9' || s[0] == '.') {
		return q, fmt.Errorf("%q is not a Kubernetes quantity (examples: 500m, 2, 1Gi)", s)
	}
	return q, nil
}
