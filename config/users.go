package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/k8sdrv/k8sdrv/job"
)

// RunAs is the user and group a job asks a container to run as; nil
// where it asks for none, or where the operator's security context sets
// them (which wins, as in GitLab Runner).
type RunAs struct{ User, Group *int64 }

// parseID parses a user or group id as Kubernetes takes it.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 0 || id > math.MaxInt32 {
		return 0, fmt.Errorf("%q is not a user or group id (a number from 0 to %d)", s, math.MaxInt32)
	}
	return id, nil
}

// jobUsers checks the `image: kubernetes: user` of the job's image and of
// each of its services against allowed_users and allowed_groups.
func (c *Config) jobUsers(j *job.Job) (build RunAs, services []RunAs, errs []error) {
	check := func(what string, img job.Image, own *ContainerSecurityContext) RunAs {
		user := j.Expand(string(img.ExecutorOptions.Kubernetes.User))
		if user == "" {
			return RunAs{}
		}
		uid, gid, _ := strings.Cut(user, ":")
		pinnedUser, pinnedGroup := c.pinnedIDs(own)
		var out RunAs
		var err error
		what = fmt.Sprintf("%s: kubernetes user %q", what, user)
		out.User, err = c.jobID(what, "user", uid, c.AllowedUsers, "allowed_users", pinnedUser)
		errs = append(errs, errList(err)...)
		out.Group, err = c.jobID(what, "group", gid, c.AllowedGroups, "allowed_groups", pinnedGroup)
		errs = append(errs, errList(err)...)
		return out
	}
	build = check(fmt.Sprintf("image %q", j.Image.Name), j.Image, c.BuildContainerSecurityContext)
	for i, s := range j.Services {
		services = append(services, check(fmt.Sprintf("services[%d] %s", i, s.Name), s.Image, c.ServiceContainerSecurityContext))
	}
	return build, services, errs
}

// pinnedIDs returns where the operator sets the user and the group: the
// container's security context, else the pod's.
func (c *Config) pinnedIDs(own *ContainerSecurityContext) (user, group string) {
	if own != nil && own.RunAsUser != nil {
		user = "run_as_user of the container's security context"
	} else if p := c.PodSecurityContext; p != nil && p.RunAsUser != nil {
		user = "pod_security_context.run_as_user"
	}
	if own != nil && own.RunAsGroup != nil {
		group = "run_as_group of the container's security context"
	} else if p := c.PodSecurityContext; p != nil && p.RunAsGroup != nil {
		group = "pod_security_context.run_as_group"
	}
	return user, group
}

// jobID checks one id the job asks for ("" for none). An id set by the
// operator's pinned setting is kept, with a warning; 0 needs an explicit
// entry even where the list is empty.
func (c *Config) jobID(what, kind, s string, allowed []string, key, pinned string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	if pinned != "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: the %s is ignored: %s sets it", what, kind, pinned))
		return nil, nil
	}
	id, err := parseID(s)
	if err != nil {
		return nil, jobErrorf("%s: %v", what, err)
	}
	listed := slices.ContainsFunc(allowed, func(a string) bool {
		n, err := parseID(a)
		return err == nil && n == id
	})
	switch {
	case id == 0 && !listed:
		return nil, jobErrorf("%s: %s 0 (root) is allowed only where %s lists 0", what, kind, key)
	case len(allowed) > 0 && !listed:
		return nil, jobErrorf("%s: %s %d is not in %s %v", what, kind, id, key, allowed)
	}
	return &id, nil
}
