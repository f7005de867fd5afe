package config

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/job"
)

func TestJobDriverDir(t *testing.T) {
	j := &job.Job{ID: "4242", ProjectID: "17"}
	for _, tc := range []struct {
		name string
		cfg  Config
		j    *job.Job
		want string
	}{
		{"driver_dir", Config{DriverDir: "/k8sdrv"}, j, "/k8sdrv"},
		{"scripts_base_dir", Config{ScriptsBaseDir: "/tmp"}, j, "/tmp/k8sdrv-17-4242"},
		{"logs_base_dir alone", Config{LogsBaseDir: "/var/tmp"}, j, "/var/tmp/k8sdrv-17-4242"},
		{"trailing slashes", Config{LogsBaseDir: "/tmp//", ScriptsBaseDir: "/tmp/"}, j, "/tmp/k8sdrv-17-4242"},
		{"the root", Config{ScriptsBaseDir: "/"}, j, "/k8sdrv-17-4242"},
		{"driver_dir wins", Config{DriverDir: "/opt/k8sdrv", ScriptsBaseDir: "/tmp"}, j, "/opt/k8sdrv"},
		// Ids come from the job's environment: none may leave the one
		// directory name.
		{"ids with slashes", Config{ScriptsBaseDir: "/tmp"}, &job.Job{ID: "../../etc", ProjectID: "a/b"}, "/tmp/k8sdrv-a_b-.._.._etc"},
		{"long ids", Config{ScriptsBaseDir: "/tmp"}, &job.Job{ID: strings.Repeat("9", 300), ProjectID: "1"}, "/tmp/k8sdrv-1-" + strings.Repeat("9", maxDirName-len("k8sdrv-1-"))},
	} {
		assert.Equal(t, tc.cfg.JobDriverDir(tc.j), tc.want, tc.name)
	}
}
