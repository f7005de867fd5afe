package podbuilder_test

import (
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
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

// TestBuildRefusesUnmaskedProcInTheHostsUsers: proc_mount = "unmasked"
// needs the pod in its own user namespace, which only a pod_spec patch
// (hostUsers: false) gives it; the finished pod is checked for it.
func TestBuildRefusesUnmaskedProcInTheHostsUsers(t *testing.T) {
	const sc = "[build_container_security_context]\nproc_mount = \"unmasked\"\n"
	for _, tc := range []struct{ name, patch, want string }{
		{"own user namespace", "hostUsers: false", ""},
		{"the host's users", "hostname: ci", `container build has proc_mount unmasked, which Kubernetes takes only with hostUsers: false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			body := sc + "[[pod_spec]]\nname = \"p\"\npatch = \"" + tc.patch + "\"\n"
			path := t.TempDir() + "/k8sdrv.toml"
			assert.NilError(t, os.WriteFile(path, []byte(body), 0o600))
			cfg, err := config.Load(path)
			assert.NilError(t, err)
			pod, err := build(cfg, &job.Job{})
			if tc.want != "" {
				assert.ErrorContains(t, err, tc.want)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, string(*pod.Spec.Containers[0].SecurityContext.ProcMount), "Unmasked")
		})
	}
}

// TestBuildAnnotationsWithinTheAPIServersLimit: the job's annotation
// overwrites add to the operator's; together they may not pass the API
// server's 256 KiB.
func TestBuildAnnotationsWithinTheAPIServersLimit(t *testing.T) {
	clearEnv(t)
	path := t.TempDir() + "/k8sdrv.toml"
	assert.NilError(t, os.WriteFile(path, []byte("pod_annotations_overwrite_allowed = \".*\"\n[pod_annotations]\n\"a\" = \""+strings.Repeat("a", 200000)+"\"\n"), 0o600))
	cfg, err := config.Load(path)
	assert.NilError(t, err)
	jc, err := config.ForJob(cfg, &job.Job{Variables: map[string]string{"KUBERNETES_POD_ANNOTATIONS_1": "b=" + strings.Repeat("b", 70000)}}, func(string) string { return "" })
	assert.NilError(t, err)
	_, err = podbuilder.Build(jc)
	assert.ErrorContains(t, err, "pod_annotations: annotations size 270002 is larger than limit 262144, which the API server refuses")
}
