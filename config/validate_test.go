package config

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

// TestValidateChecksOnly: Validate takes a Config built in code as it is:
// it neither reads patch_path nor fills in defaults.
func TestValidateChecksOnly(t *testing.T) {
	cfg := withDefaults()
	cfg.PodSpec = []PodSpecPatch{
		{Name: "from a file", PatchPath: "/nonexistent/patch.yaml", JSON: []byte(`{"hostname":"x"}`)},
		{Name: "inline", Patch: "[]", PatchType: "json", JSON: []byte(`[]`)},
	}
	before := cfg
	before.PodSpec = append([]PodSpecPatch(nil), cfg.PodSpec...)

	assert.NilError(t, cfg.Validate())
	assert.DeepEqual(t, cfg, before)
}

// TestLoadReadsPatchFiles: reading patch_path and defaulting patch_type
// happen when loading.
func TestLoadReadsPatchFiles(t *testing.T) {
	clearEnv(t)
	patch := filepath.Join(t.TempDir(), "patch.yaml")
	assert.NilError(t, os.WriteFile(patch, []byte("hostname: from-file\n"), 0o600))

	cfg, err := Load(writeConfig(t, "[[pod_spec]]\nname = \"p\"\npatch_path = \""+patch+"\"\n"))

	assert.NilError(t, err)
	assert.DeepEqual(t, cfg.PodSpec, []PodSpecPatch{{Name: "p", PatchPath: patch, PatchType: "strategic", JSON: []byte(`{"hostname":"from-file"}`)}})
}
