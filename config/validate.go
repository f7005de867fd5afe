package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/k8sdrv/k8sdrv/job"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate checks every key and returns all problems joined, each naming
// its key. It reads nothing: a Config built in code can be checked as is.
func (c *Config) Validate() error {
	var ps problems
	c.validate(ps.add)
	return errors.Join(sortErrors(ps.errors())...)
}

func (c *Config) validate(add func(key, format string, args ...any)) {
	c.validateDriverDir(add)
	c.validateDirs(add)
	c.validateConnection(add)
	for _, msg := range validation.IsDNS1123Label(c.Namespace) {
		add("namespace", "%q is not a valid namespace: %s", c.Namespace, msg)
	}
	for _, r := range c.Resources.Settings() {
		for key, value := range map[string]string{r.Key: *r.Value, r.Key + "_overwrite_max_allowed": *r.Max} {
			if _, err := ParseQuantity(value); value != "" && err != nil {
				add(key, "%v", err)
			}
		}
	}
	for _, p := range c.Resources.checkRequirements(len(c.Services)) {
		add(p.key, "%s", p.msg)
	}
	c.validateTimes(add)
	c.Retry.validate(add)
	c.Pod.validate(add)
	c.Security.validate(add)
	c.validateProfileAnnotations(add)
	c.Volumes.validate(add)
	c.validateVolumesInPod(add)
	c.validatePrivileges(add)
	c.Overwrites.validate(add)
	c.Images.validate(add)
	c.ContainerLifecycle.validate(add)
	validatePatches(c.PodSpec, add)
	c.validateImages(add)
}

// validateDirs checks builds_dir and cache_dir: absolute, apart from
// k8sdrv's own directory and from each other.
func (c *Config) validateDirs(add func(key, format string, args ...any)) {
	for key, dir := range map[string]string{"builds_dir": c.BuildsDir, "cache_dir": c.CacheDir} {
		if !path.IsAbs(dir) {
			add(key, "want an absolute path, got %q", dir)
		} else if why := c.driverDirClash(dir); why != "" {
			add(key, "%q %s", dir, why)
		}
	}
	if path.Clean(c.BuildsDir) == path.Clean(c.CacheDir) {
		add("cache_dir", "%q is also builds_dir: each is a volume of its own, and a pod cannot mount two at one path", c.CacheDir)
	}
}

// validateTimes checks the timeouts, intervals and attempt counts.
func (c *Config) validateTimes(add func(key, format string, args ...any)) {
	for key, seconds := range map[string]int{"poll_timeout": c.PollTimeout, "poll_interval": c.PollInterval} {
		if seconds < 0 || int64(seconds) > maxSeconds {
			add(key, "want a positive number of seconds up to %d, got %d", maxSeconds, seconds)
		}
	}
	if t := c.WaitForServicesTimeout; t < -1 || int64(t) > maxSeconds {
		add("wait_for_services_timeout", "want seconds up to %d, or -1 to not wait for services, got %d", maxSeconds, t)
	}
	if c.ResourceAvailabilityCheckMaxAttempts < 0 {
		add("resource_availability_check_max_attempts", "want zero or more, got %d", c.ResourceAvailabilityCheckMaxAttempts)
	}
	if c.CleanupResourcesTimeout.Duration < 0 {
		add("cleanup_resources_timeout", "want a positive duration")
	}
	if c.ReconnectTimeout.Duration < 0 {
		add("reconnect_timeout", "want a positive duration")
	}
}

// validateVolumesInPod checks the operator's volumes against the rest of
// the pod: k8sdrv's own directory, and privileges for Bidirectional.
func (c *Config) validateVolumesInPod(add func(key, format string, args ...any)) {
	for key, m := range c.Volumes.All() {
		if why := c.driverDirClash(m.MountPath); why != "" {
			add(key+".mount_path", "%q %s", m.MountPath, why)
		}
	}
	for key, mode := range c.Volumes.Propagations() {
		// The volume is mounted in every job container, and Kubernetes
		// takes Bidirectional only in privileged ones.
		if mode == "Bidirectional" && !c.allPrivileged() {
			add(key+".mount_propagation", "Bidirectional needs privileged = true: Kubernetes allows it only in privileged containers")
		}
	}
}

// allPrivileged reports whether every job container (build, helper,
// services) runs privileged.
func (c *Config) allPrivileged() bool {
	for _, own := range c.Security.ContainerKinds() {
		if privileged, _ := c.ContainerPrivileges(own); privileged == nil || !*privileged {
			return false
		}
	}
	return true
}

// validateConnection checks how k8sdrv reaches the API server.
func (c *Config) validateConnection(add func(key, format string, args ...any)) {
	if c.Host != "" {
		if u, err := url.Parse(c.Host); err != nil || u.Host == "" {
			add("host", "want a URL such as https://10.0.0.1:6443, got %q", c.Host)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		add("cert_file", "cert_file and key_file must be set together")
	}
	if (c.CertFile != "" || c.CAFile != "" || c.BearerToken != "") && c.Host == "" {
		add("host", "required when cert_file, key_file, ca_file or bearer_token is set")
	}
}

// validateImages checks the operator's images and [[services]] as the
// runtime would read them at pull time.
func (c *Config) validateImages(add func(key, format string, args ...any)) {
	for key, image := range map[string]string{"image": c.Image, "helper_image": c.HelperImage} {
		checked := image
		if key == "helper_image" { // as a job will have it
			checked = ExpandHelperImage(image, helperImageProbe)
		}
		if err := CheckImageName(checked); image != "" && err != nil {
			add(key, "%q: %v", image, err)
		}
	}
	for i, svc := range c.Services {
		key := fmt.Sprintf("services[%d]", i)
		if svc.Name == "" {
			add(key+".name", "required")
		} else if err := CheckImageName(svc.Name); err != nil {
			add(key+".name", "%q: %v", svc.Name, err)
		}
		for _, alias := range (job.Service{Image: job.Image{Alias: svc.Alias}}).Aliases() {
			if msg := invalidHostName(alias); msg != "" {
				add(key+".alias", "%q is not a valid host name: %s", alias, msg)
			}
		}
		for n, e := range svc.Environment {
			name, _, found := strings.Cut(e, "=")
			switch msgs := validation.IsEnvVarName(name); {
			case !found:
				add(fmt.Sprintf("%s.environment[%d]", key, n), "%q: want NAME=value", e)
			case len(msgs) > 0:
				add(fmt.Sprintf("%s.environment[%d]", key, n), "%q is not a valid environment variable name: %s", name, msgs[0])
			}
		}
	}
}

// invalidHostName says why name cannot be a service's host name, or "".
func invalidHostName(name string) string {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return msgs[0]
	}
	return ""
}

// sortErrors orders errors by message so that reports are stable.
func sortErrors(errs []error) []error {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}
