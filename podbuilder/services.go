package podbuilder

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// services returns the job's services followed by the configuration's, in
// the order their containers are named svc-0, svc-1, ...
func services(cfg *config.Config, j *job.Job) []job.Service {
	all := append([]job.Service(nil), j.Services...)
	for _, s := range cfg.Services {
		svc := job.Service{Image: job.Image{Name: s.Name, Alias: s.Alias, Entrypoint: s.Entrypoint, Command: s.Command}}
		names, values := s.Variables()
		for i, name := range names {
			svc.Variables = append(svc.Variables, job.Variable{Key: name, Value: values[i]})
		}
		all = append(all, svc)
	}
	return all
}

// Service is one service container of the job's pod, as prepare sees it.
type Service struct {
	Container string // svc-N
	Image     string
	Alias     string // the first explicit alias; "" without one
	// Ports are the TCP ports prepare waits for (none: it does not wait).
	Ports []int
	// Job: one of the job's own services, not the configuration's.
	Job bool
}

// Name is how the job log names the service: its first alias and image,
// or its image alone.
func (s Service) Name() string {
	if s.Alias == "" {
		return s.Image
	}
	return s.Alias + " (" + s.Image + ")"
}

// Services returns the pod's service containers in order, the job's
// first, with the ports to wait for (job.Service.ReadinessPorts). The
// configuration's [[services]] carry no variables and no ports, so
// prepare waits for none of them.
func Services(jc *config.JobConfig) ([]Service, error) {
	var out []Service
	for i, svc := range services(jc.Config, jc.Job) {
		ports, err := svc.ReadinessPorts()
		if err != nil {
			return nil, fmt.Errorf("services[%d] %s: %w", i, svc.Name, err)
		}
		var alias string
		if aliases := svc.Aliases(); len(aliases) > 0 {
			alias = aliases[0]
		}
		out = append(out, Service{
			Container: fmt.Sprintf("%s%d", servicePrefix, i), Image: svc.Name, Alias: alias,
			Ports: ports, Job: i < len(jc.Job.Services),
		})
	}
	return out, nil
}

// IsServiceContainer reports whether a container of the job's pod is one
// of its services.
func IsServiceContainer(name string) bool { return strings.HasPrefix(name, servicePrefix) }

func serviceContainers(jc *config.JobConfig, l layout) ([]corev1.Container, error) {
	cfg := jc.Config
	var out []corev1.Container
	for i, svc := range services(cfg, jc.Job) {
		if svc.Name == "" {
			return nil, fmt.Errorf("services[%d]: service without an image name", i)
		}
		var user config.RunAs // the configuration's services ask for none
		if i < len(jc.ServiceRunAs) {
			user = jc.ServiceRunAs[i]
		}
		var env []corev1.EnvVar
		for _, v := range svc.Variables {
			env = append(env, corev1.EnvVar{Name: v.Key, Value: literal(v.Value)})
		}
		out = append(out, corev1.Container{
			Name:         fmt.Sprintf("%s%d", servicePrefix, i),
			Image:        svc.Name,
			Command:      svc.Entrypoint,
			Args:         svc.Command,
			Env:          env,
			VolumeMounts: l.mounts,
			Resources:    resources(cfg, config.ServiceContainer),
			// privileged applies to every container, as in GitLab Runner:
			// docker:dind runs as a service and needs it.
			SecurityContext: runAs(securityContext(cfg, cfg.ServiceContainerSecurityContext), user),
		})
	}
	return out, nil
}

// literal escapes every "$" of an environment value as "$$", so that the
// kubelet hands the container the value as the job wrote it: it replaces
// $(NAME) with the value of another variable of the container, and $$ with
// "$". A service variable "$(VAR)" is meant for the service's own shell or
// program, as in GitLab Runner, which escapes every value since 19.0.
func literal(value string) string { return strings.ReplaceAll(value, "$", "$$") }

// serviceHostAliases makes every service reachable from the build container
// by its aliases: the containers of a pod share one network namespace, so
// each alias resolves to 127.0.0.1.
func serviceHostAliases(cfg *config.Config, j *job.Job) ([]corev1.HostAlias, error) {
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for i, svc := range services(cfg, j) {
		// Like GitLab Runner, the name derived from the image always
		// resolves too; when it is no valid host name it is left out.
		if derived := DefaultAlias(svc.Name); len(validation.IsDNS1123Subdomain(derived)) == 0 {
			add(derived)
		}
		for _, alias := range svc.Aliases() {
			if msgs := validation.IsDNS1123Subdomain(alias); len(msgs) > 0 {
				return nil, fmt.Errorf("services[%d] %s: alias %q is not a valid host name: %s", i, svc.Name, alias, msgs[0])
			}
			add(alias)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	return []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: names}}, nil
}

var (
	tagOrDigest  = regexp.MustCompile(`(:[^/]*|@.*)$`)
	registryPort = regexp.MustCompile(`^([^/]*):[0-9]+/`)
)

// DefaultAlias is the host name of a service without an alias, derived from
// its image as GitLab Runner does: tag, digest and registry port dropped,
// "/" becomes "-" (registry.example.com:5000/db/postgres:15 ->
// registry.example.com-db-postgres).
func DefaultAlias(image string) string {
	name := tagOrDigest.ReplaceAllString(image, "")
	name = registryPort.ReplaceAllString(name, "$1/")
	return strings.ToLower(strings.ReplaceAll(name, "/", "-"))
}

// resources returns the requests and limits of one container kind from
// already-validated quantities; unset values are left out.
func resources(cfg *config.Config, container string) corev1.ResourceRequirements {
	var req corev1.ResourceRequirements
	for _, r := range cfg.Resources.Settings() {
		if r.Container != container || *r.Value == "" {
			continue
		}
		list := &req.Requests
		if r.Limit {
			list = &req.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[corev1.ResourceName(r.Resource)] = resource.MustParse(*r.Value)
	}
	return req
}
