package e2e

import (
	"debug/buildinfo"
	"testing"

	"gotest.tools/v3/assert"
)

// docsRenderers are the modules urfave/cli links in to render man pages
// and Markdown, unless built with the urfave_cli_no_docs tag. Their
// package initialisation runs at every call of k8sdrv, once per stage.
var docsRenderers = []string{"github.com/cpuguy83/go-md2man/v2", "github.com/russross/blackfriday/v2"}

// TestBinaryLeavesOutTheDocsRenderer: the k8sdrv under test (make build's)
// does not carry urfave/cli's documentation renderer.
func TestBinaryLeavesOutTheDocsRenderer(t *testing.T) {
	info, err := buildinfo.ReadFile(binary)
	assert.NilError(t, err)
	for _, m := range info.Deps {
		for _, r := range docsRenderers {
			assert.Check(t, m.Path != r, "%s links %s: build it with -tags urfave_cli_no_docs (make build)", binary, r)
		}
	}
}
