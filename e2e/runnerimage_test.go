package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"gotest.tools/v3/assert"
)

// runnerImageUID is the user the runner image runs as: the gitlab-runner
// user of GitLab's own images, as examples/deploy's Deployment expects.
const runnerImageUID = 999

// importRunnerImage builds an image holding gitlab-runner at
// /usr/bin/gitlab-runner and k8sdrv at /usr/local/bin/k8sdrv (the paths of
// examples/deploy/Dockerfile's image) and imports it into the real node's
// containerd under name; it is removed again when the test ends. There is
// no registry and no Docker: the image is a `docker save` archive of one
// layer, as hack/cluster/real-images.sh makes the node's other images.
func importRunnerImage(t *testing.T, name, gitlabRunner, k8sdrv string) {
	t.Helper()
	for _, bin := range []string{gitlabRunner, k8sdrv} {
		assertStatic(t, bin)
	}
	layer := tarFiles(t, []tarEntry{
		{name: "etc/", mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\ngitlab-runner:x:%[1]d:%[1]d::/tmp:/sbin/nologin\n", runnerImageUID))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\ngitlab-runner:x:%d:\n", runnerImageUID))},
		{name: "etc/gitlab-runner/", mode: 0o755},
		{name: "etc/k8sdrv/", mode: 0o755},
		{name: "tmp/", mode: 0o1777},
		{name: "usr/", mode: 0o755},
		{name: "usr/bin/", mode: 0o755},
		{name: "usr/bin/gitlab-runner", mode: 0o755, path: gitlabRunner},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: "usr/local/bin/k8sdrv", mode: 0o755, path: k8sdrv},
	})
	diffID := sha256Hex(layer)
	cfg, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env":  []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			"User": fmt.Sprintf("%[1]d:%[1]d", runnerImageUID),
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + diffID}},
	})
	assert.NilError(t, err)
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   sha256Hex(cfg) + ".json",
		"RepoTags": []string{name},
		"Layers":   []string{diffID + "/layer.tar"},
	}})
	assert.NilError(t, err)
	archive := tarFiles(t, []tarEntry{
		{name: diffID + "/", mode: 0o755},
		{name: diffID + "/layer.tar", mode: 0o644, data: layer},
		{name: sha256Hex(cfg) + ".json", mode: 0o644, data: cfg},
		{name: "manifest.json", mode: 0o644, data: manifest},
	})
	path := filepath.Join(t.TempDir(), "runner-image.tar")
	assert.NilError(t, os.WriteFile(path, archive, 0o644))

	realImage(t, "import", path)
	t.Cleanup(func() { realImage(t, "remove", name) })
}

// realImage runs hack/cluster/real-image.sh.
func realImage(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("../hack/cluster/real-image.sh", args...).CombinedOutput()
	assert.NilError(t, err, "hack/cluster/real-image.sh %v: %s", args, out)
}

// assertStatic fails unless bin is a statically linked ELF file: the image
// has no libc.
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	assert.NilError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.Assert(t, p.Type != elf.PT_INTERP, "%s is dynamically linked; build it with CGO_ENABLED=0 (make build)", bin)
	}
}

// tarEntry is a directory (name ends in /), a file with data, or a copy of
// the file at path.
type tarEntry struct {
	name string
	mode int64
	data []byte
	path string
}

// tarFiles is a tar of entries with fixed owners and times, so that the
// same inputs give the same image.
func tarFiles(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, e := range entries {
		data := e.data
		if e.path != "" {
			var err error
			data, err = os.ReadFile(e.path)
			assert.NilError(t, err)
		}
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: tar.TypeReg, Size: int64(len(data)), Format: tar.FormatPAX}
		if e.name[len(e.name)-1] == '/' {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		assert.NilError(t, w.WriteHeader(h))
		_, err := w.Write(data)
		assert.NilError(t, err)
	}
	assert.NilError(t, w.Close())
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
