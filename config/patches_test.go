package config

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// TestPatchPathMustBeARegularFile: a FIFO named as patch_path used to
// block config and prepare forever; a directory or a huge file is refused
// too, naming the key.
func TestPatchPathMustBeARegularFile(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	assert.NilError(t, syscall.Mkfifo(fifo, 0o600))
	huge := filepath.Join(dir, "huge.yaml")
	assert.NilError(t, os.WriteFile(huge, make([]byte, maxPatchFile+1), 0o600))
	for path, want := range map[string]string{
		fifo: "pod_spec[0] (p).patch_path: " + fifo + " is not a regular file (p---------)",
		dir:  "pod_spec[0] (p).patch_path: " + dir + " is not a regular file (d---------)",
		huge: "pod_spec[0] (p).patch_path: " + huge + " has 1048577 bytes, more than a pod spec patch should (at most 1048576)",
	} {
		config := writeConfig(t, "[[pod_spec]]\nname = \"p\"\npatch_path = \""+path+"\"\n")
		done := make(chan error, 1)
		go func() { _, err := Load(config); done <- err }()
		select {
		case err := <-done:
			assert.ErrorContains(t, err, want)
		case <-time.After(10 * time.Second):
			t.Fatalf("loading a config whose patch_path is %s hangs", path)
		}
	}
}

// TestPatchPathThatIsNoYAML: a file that does not parse is the file's
// problem: the message names patch_path, its line and the file.
func TestPatchPathThatIsNoYAML(t *testing.T) {
	clearEnv(t)
	patch := filepath.Join(t.TempDir(), "patch.yaml")
	assert.NilError(t, os.WriteFile(patch, []byte("containers: [\n"), 0o600))
	assertLoadError(t, "[[pod_spec]]\nname = \"p\"\npatch_path = \""+patch+"\"\n",
		"$FILE:3: pod_spec[0] (p).patch_path: "+patch+": not JSON or YAML: yaml: line 1: did not find expected node content")
	assert.NilError(t, os.WriteFile(patch, []byte("op: add\n"), 0o600))
	assertLoadError(t, "[[pod_spec]]\nname = \"p\"\npatch_type = \"json\"\npatch_path = \""+patch+"\"\n",
		"$FILE:4: pod_spec[0] (p).patch_path: "+patch+": not a JSON patch (a list of operations): json: cannot unmarshal object into Go value of type jsonpatch.Patch")
}
