package main

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// TestIntegrationDist checks what make release wrote into K8SDRV_DIST (make
// test-release runs it): static binaries for each architecture, the amd64
// one reporting K8SDRV_VERSION, SHA256SUMS over every artifact, image
// archives that hold exactly their binary, SBOMs that list every module.
func TestIntegrationDist(t *testing.T) {
	dist, version := os.Getenv("K8SDRV_DIST"), os.Getenv("K8SDRV_VERSION")
	if testing.Short() || dist == "" || version == "" {
		t.Skip("make test-release sets K8SDRV_DIST and K8SDRV_VERSION")
	}
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		t.Run(arch, func(t *testing.T) {
			bin := filepath.Join(dist, "k8sdrv-"+version+"-linux-"+arch)
			checkStatic(t, bin, machine)
			binary, err := os.ReadFile(bin)
			assert.NilError(t, err)
			archive, err := os.ReadFile(bin + ".oci.tar")
			assert.NilError(t, err)
			cfg := checkImage(t, archive, binary)
			assert.Equal(t, cfg.Architecture, arch)
			assert.Equal(t, cfg.Config.Labels["org.opencontainers.image.version"], version)
			checkSBOM(t, bin, bin+".cdx.json", version)
			if arch == runtime.GOARCH {
				out, err := exec.Command(bin, "version").CombinedOutput()
				assert.NilError(t, err, "%s", out)
				assert.Assert(t, strings.HasPrefix(string(out), "k8sdrv "+version+"\n"), "%s", out)
				assert.Assert(t, !strings.Contains(string(out), "unknown"), "not stamped:\n%s", out)
			}
		})
	}
	checkSums(t, dist)
}

// checkStatic: no program interpreter and no shared libraries, so the
// binary runs on any Linux of its architecture.
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	assert.NilError(t, err)
	defer f.Close()
	assert.Equal(t, f.Machine, machine)
	for _, p := range f.Progs {
		assert.Check(t, p.Type != elf.PT_INTERP && p.Type != elf.PT_DYNAMIC, "%s has a %s program header", path, p.Type)
	}
	libs, err := f.ImportedLibraries()
	assert.NilError(t, err)
	assert.Check(t, len(libs) == 0, "%s needs %v", path, libs)
}

// checkSBOM: one component, with a hash, for every module of the binary.
func checkSBOM(t *testing.T, bin, sbom, version string) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	assert.NilError(t, err)
	data, err := os.ReadFile(sbom)
	assert.NilError(t, err)
	var bom BOM
	assert.NilError(t, json.Unmarshal(data, &bom))
	assert.Equal(t, bom.Metadata.Component.Version, version)
	listed := map[string]bool{}
	for _, c := range bom.Components {
		assert.Check(t, len(c.Hashes) == 1 && len(c.Hashes[0].Content) == 64, "%s: no hash", c.Name)
		listed[c.Name+"@"+c.Version] = true
	}
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		assert.Check(t, listed[m.Path+"@"+m.Version], "%s does not list %s@%s", sbom, m.Path, m.Version)
		// make release builds with urfave_cli_no_docs, as make build does.
		assert.Check(t, m.Path != "github.com/russross/blackfriday/v2", "%s links urfave/cli's docs renderer", bin)
	}
}

// checkSums: sha256sum -c accepts SHA256SUMS, which names every other file.
func checkSums(t *testing.T, dist string) {
	t.Helper()
	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = dist
	out, err := cmd.CombinedOutput()
	assert.NilError(t, err, "%s", out)
	sums, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	assert.NilError(t, err)
	defer sums.Close()
	var named []string
	for s := bufio.NewScanner(sums); s.Scan(); {
		named = append(named, strings.TrimPrefix(strings.Fields(s.Text())[1], "*"))
	}
	entries, err := os.ReadDir(dist)
	assert.NilError(t, err)
	var files []string
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" {
			files = append(files, e.Name())
		}
	}
	sort.Strings(named)
	assert.DeepEqual(t, named, files)
}
