package examples

import (
	"os/exec"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// layers is the package table of docs/ARCHITECTURE.md: a package may
// import only packages on a lower layer (a higher number).
var layers = map[string]int{
	"cmd/k8sdrv": 0,
	"driver":     1,
	"podbuilder": 2, "attach": 2,
	"config": 3, "kubeapi": 3, "podlayout": 3, "scripts": 3,
	"job": 4,
}

// TestPackagesImportDownward: no package imports its caller or a package
// beside it, and every package has its place in docs/ARCHITECTURE.md.
func TestPackagesImportDownward(t *testing.T) {
	const module = "github.com/k8sdrv/k8sdrv/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../...").Output()
	assert.NilError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if pkg == "e2e" || pkg == "examples" {
			continue // tests only
		}
		if strings.HasPrefix(pkg, "hack/") {
			continue // build tools, not part of k8sdrv
		}
		layer, ok := layers[pkg]
		assert.Assert(t, ok, "package %s has no layer in docs/ARCHITECTURE.md", pkg)
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, module)
			if ours {
				assert.Check(t, layers[dep] > layer, "%s (layer %d) imports %s (layer %d)", pkg, layer, dep, layers[dep])
			}
		}
	}
}
