package podbuilder_test

import (
	"os"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// TestBuildRefusesUnprivilegedBidirectional: config accepts a Bidirectional
// mount only with privileged = true, but a pod_spec patch may take
// privileged away from a container afterwards; the finished pod is
// checked as the API server will check it.
func TestBuildRefusesUnprivilegedBidirectional(t *testing.T) {
	const volume = "privileged = true\n[[volumes.empty_dir]]\nname = \"m\"\nmount_path = \"/m\"\nmount_propagation = \"Bidirectional\"\n"
	for _, tc := range []struct{ name, patch, want string }{
		{"privileged kept", "", ""},
		{"helper made unprivileged", `[{"op": "replace", "path": "/containers/1/securityContext/privileged", "value": false}]`,
			`container helper mounts volume "m" with Bidirectional propagation but is not privileged, which Kubernetes refuses`},
		{"build's security context removed", `[{"op": "remove", "path": "/containers/0/securityContext"}]`,
			`container build mounts volume "m" with Bidirectional propagation`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			body := volume
			if tc.patch != "" {
				body += "[[pod_spec]]\nname = \"p\"\npatch_type = \"json\"\npatch = '" + tc.patch + "'\n"
			}
			path := t.TempDir() + "/k8sdrv.toml"
			assert.NilError(t, os.WriteFile(path, []byte(body), 0o600))
			cfg, err := config.Load(path)
			assert.NilError(t, err)
			_, err = build(cfg, &job.Job{})
			if tc.want == "" {
				assert.NilError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}
