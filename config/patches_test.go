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
