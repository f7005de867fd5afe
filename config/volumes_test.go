package config

import (
	"testing"

	"gotest.tools/v3/assert"
)

func TestBuildsDirIsShared(t *testing.T) {
	for _, tc := range []struct {
		name    string
		volumes Volumes
		want    bool
	}{
		{"own emptyDir", Volumes{}, false},
		{"host path at builds_dir", Volumes{HostPath: []HostPathVolume{{Mount: Mount{MountPath: "/builds"}}}}, true},
		{"host path elsewhere", Volumes{HostPath: []HostPathVolume{{Mount: Mount{MountPath: "/other"}}}}, false},
		{"nfs export at builds_dir", Volumes{NFS: []NFSVolume{{Mount: Mount{MountPath: "/builds"}}}}, true},
		{"nfs export elsewhere", Volumes{NFS: []NFSVolume{{Mount: Mount{MountPath: "/other"}}}}, false},
		{"one claim for all jobs", Volumes{PVC: []PVCVolume{{Mount: Mount{Name: "builds-rwx", MountPath: "/builds"}}}}, true},
		{"a claim per concurrent job", Volumes{PVC: []PVCVolume{{Mount: Mount{Name: "b-$CI_CONCURRENT_ID", MountPath: "/builds"}}}}, false},
	} {
		c := &Config{BuildsDir: "/builds", Volumes: tc.volumes}
		assert.Equal(t, c.BuildsDirIsShared(), tc.want, tc.name)
	}
}
