package podbuilder_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// refusedBySpec are the documentation's snippets whose values Kubernetes
// refuses; k8sdrv must name the key instead of creating a pod that fails.
var refusedBySpec = map[string]string{
	`key = "cpu_type"`:       `match_fields[0].key: "cpu_type" is not a node field`,
	`"namespace_1"`:          `namespaces[0]: "namespace_1" is not a valid namespace`,
	`name = "header_name_1"`: `http_headers[0].name: "header_name_1" is not an HTTP header name`,
}

// TestDocumentationSnippets loads every config.toml snippet of GitLab's
// Kubernetes executor documentation (copied into testdata/docs, each
// naming its section) as a k8sdrv config: each one loads and builds a pod,
// except those with values the API server refuses, which are reported by
// key.
func TestDocumentationSnippets(t *testing.T) {
	paths, err := filepath.Glob("testdata/docs/*.toml")
	assert.NilError(t, err)
	assert.Assert(t, len(paths) >= 18, "the snippets are missing from testdata/docs")
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			clearEnv(t)
			text, err := os.ReadFile(path)
			assert.NilError(t, err)
			cfg, err := config.Load(path)
			if want := refusal(string(text)); want != "" {
				assert.ErrorContains(t, err, want)
				return
			}
			assert.NilError(t, err)
			_, err = build(cfg, &job.Job{ID: "1", ProjectID: "1", ConcurrentID: "0", RunnerShortToken: "doc"})
			assert.NilError(t, err)
		})
	}
}

func refusal(snippet string) string {
	for marker, want := range refusedBySpec {
		if strings.Contains(snippet, marker) {
			return want
		}
	}
	return ""
}
