package config

import (
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/k8sdrv/k8sdrv/job"
)

// imageUser is an image whose `kubernetes: user` is user.
func imageUser(name, user string) job.Image {
	img := job.Image{Name: name}
	img.ExecutorOptions.Kubernetes.User = job.StringOrNumber(user)
	return img
}

func TestForJobUsers(t *testing.T) {
	id := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name     string
		config   func(*Config)
		user     string
		vars     map[string]string
		want     RunAs
		wantErr  string
		warning  string
		services bool // the user is a service's, not the image's
	}{
		{name: "no user", want: RunAs{}},
		{name: "any non-root user without a list", user: "1000:1001", want: RunAs{User: id(1000), Group: id(1001)}},
		{name: "group only", user: ":1001", want: RunAs{Group: id(1001)}},
		{name: "user only", user: "1000:", want: RunAs{User: id(1000)}},
		{name: "expanded from the job's variables", user: "${UID}", vars: map[string]string{"UID": "1000"}, want: RunAs{User: id(1000)}},
		{name: "listed", config: func(c *Config) { c.AllowedUsers, c.AllowedGroups = []string{"1000", "2000"}, []string{"3000"} },
			user: "2000:3000", want: RunAs{User: id(2000), Group: id(3000)}},
		{name: "a service's user", config: func(c *Config) { c.AllowedUsers = []string{"999"} },
			user: "999", services: true, want: RunAs{User: id(999)}},
		{name: "root only where listed", config: func(c *Config) { c.AllowedUsers, c.AllowedGroups = []string{"0"}, []string{"00"} },
			user: "000:0", want: RunAs{User: id(0), Group: id(0)}},
		{name: "root refused without a list", user: "0",
			wantErr: `image "alpine": kubernetes user "0": user 0 (root) is allowed only where allowed_users lists 0`},
		{name: "root group refused by a list without it", config: func(c *Config) { c.AllowedGroups = []string{"1000"} },
			user: "1000:0", wantErr: `kubernetes user "1000:0": group 0 (root) is allowed only where allowed_groups lists 0`},
		{name: "unlisted user", config: func(c *Config) { c.AllowedUsers = []string{"1000"} },
			user: "1001", wantErr: `image "alpine": kubernetes user "1001": user 1001 is not in allowed_users [1000]`},
		{name: "unlisted service group", config: func(c *Config) { c.AllowedGroups = []string{"1000"} },
			user: "5:6", services: true, wantErr: `services[0] redis: kubernetes user "5:6": group 6 is not in allowed_groups [1000]`},
		{name: "a name is no user id", user: "gitlab",
			wantErr: `kubernetes user "gitlab": "gitlab" is not a user or group id (a number from 0 to 2147483647)`},
		{name: "negative", user: "-5", wantErr: `"-5" is not a user or group id`},
		{name: "the operator's container security context wins",
			config: func(c *Config) {
				c.BuildContainerSecurityContext = &ContainerSecurityContext{RunAsUser: id(2000)}
				c.PodSecurityContext = &PodSecurityContext{RunAsGroup: id(3000)}
			},
			user: "0:0", want: RunAs{},
			warning: `image "alpine": kubernetes user "0:0": the user is ignored: run_as_user of the container's security context sets it`},
		{name: "the operator's pod security context wins", config: func(c *Config) { c.PodSecurityContext = &PodSecurityContext{RunAsUser: id(2000)} },
			user: "1000:1001", want: RunAs{Group: id(1001)},
			warning: `the user is ignored: pod_security_context.run_as_user sets it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withDefaults()
			if tc.config != nil {
				tc.config(&c)
			}
			j := &job.Job{Image: imageUser("alpine", ""), Variables: tc.vars}
			if tc.services {
				j.Services = []job.Service{{Image: imageUser("redis", tc.user)}}
			} else {
				j.Image = imageUser("alpine", tc.user)
			}
			jc, err := ForJob(&c, j, nil)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				var jobErr *JobError
				assert.Assert(t, errors.As(err, &jobErr), "a job error: a build failure, not retried")
				return
			}
			assert.NilError(t, err)
			got := jc.BuildRunAs
			if tc.services {
				got = jc.ServiceRunAs[0]
			}
			assert.DeepEqual(t, got, tc.want)
			if tc.warning != "" {
				assert.Check(t, is.Contains(strings.Join(jc.Warnings, "\n"), tc.warning))
			}
			assert.Check(t, is.Len(c.Warnings, 0), "ForJob changed the operator's configuration")
		})
	}
}
