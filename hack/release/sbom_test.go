package main

import (
	"debug/buildinfo"
	"os"
	"runtime/debug"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// TestSBOMListsEveryModuleWithItsHash: every module of the build
// information is a component with its version, package URL and hash; a
// replaced module is listed as what was linked.
func TestSBOMListsEveryModuleWithItsHash(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/k8sdrv/k8sdrv", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/a", Version: "v1.0.0+incompatible", Sum: "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
			{Path: "example.com/b", Version: "v0.1.0", Sum: "h1:x", Replace: &debug.Module{Path: "example.com/fork", Version: "v0.2.0", Sum: "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}},
		},
		Settings: []debug.BuildSetting{{Key: "GOARCH", Value: "arm64"}},
	}

	bom, err := newBOM(info, "v1.2.3", time.Unix(0, 0))

	assert.NilError(t, err)
	assert.Equal(t, bom.Metadata.Component.PURL, "pkg:golang/github.com/k8sdrv/k8sdrv@v1.2.3?type=module")
	assert.Equal(t, len(bom.Components), 2)
	a := bom.Components[0]
	assert.Equal(t, a.PURL, "pkg:golang/example.com/a@v1.0.0%2Bincompatible?type=module")
	assert.DeepEqual(t, a.Hashes, []Hash{{"SHA-256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}})
	assert.Equal(t, bom.Components[1].Name, "example.com/fork")
	assert.DeepEqual(t, bom.Dependencies[0].DependsOn, []string{a.BOMRef, bom.Components[1].BOMRef})

	info.Deps = append(info.Deps, &debug.Module{Path: "example.com/c", Version: "v1.0.0"})
	_, err = newBOM(info, "v1.2.3", time.Unix(0, 0))
	assert.ErrorContains(t, err, "example.com/c@v1.0.0")
}

// TestSBOMOfARealBinary: the test binary itself, a Go binary with real
// module hashes, gives one component per module.
func TestSBOMOfARealBinary(t *testing.T) {
	exe, err := os.Executable()
	assert.NilError(t, err)
	info, err := buildinfo.ReadFile(exe)
	assert.NilError(t, err)

	bom, err := newBOM(info, "", time.Unix(0, 0))

	assert.NilError(t, err)
	assert.Equal(t, len(bom.Components), len(info.Deps))
}
