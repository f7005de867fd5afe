package podbuilder_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// specPage is GitLab's Kubernetes executor documentation, kept beside the
// repository (shared/spec) as the behaviour k8sdrv implements.
const specPage = "../../shared/spec/kubernetes-executor-15.x.md"

// refusedBySpec are the documentation's snippets whose values Kubernetes
// refuses; k8sdrv must name the key instead of creating a pod that fails.
var refusedBySpec = map[string]string{
	`key = "cpu_type"`:       `match_fields[0].key: "cpu_type" is not a node field`,
	`"namespace_1"`:          `namespaces[0]: "namespace_1" is not a valid namespace`,
	`name = "header_name_1"`: `http_headers[0].name: "header_name_1" is not an HTTP header name`,
}

// TestDocumentationSnippets pastes every config.toml snippet of the
// documentation into a k8sdrv config: each one that is TOML at all (some
// are abbreviated with "..." or "(...)") loads and builds a pod, except
// those with values the API server refuses, which are reported by key.
func TestDocumentationSnippets(t *testing.T) {
	page, err := os.ReadFile(specPage)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("the documentation is not beside the repository (shared/spec)")
	}
	assert.NilError(t, err)
	snippets := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(string(page), -1)
	assert.Assert(t, len(snippets) > 15)
	loaded := 0
	for i, m := range snippets {
		text := m[1]
		var probe map[string]any
		if _, err := toml.Decode(text, &probe); err != nil {
			continue // an abbreviated example, not a file
		}
		path := filepath.Join(t.TempDir(), "config.toml")
		assert.NilError(t, os.WriteFile(path, []byte(text), 0o600))
		cfg, err := config.Load(path)
		if want := refusal(text); want != "" {
			assert.ErrorContains(t, err, want, "snippet %d", i)
			continue
		}
		assert.NilError(t, err, "snippet %d:\n%s", i, text)
		_, err = build(cfg, &job.Job{ID: "1", ProjectID: "1", ConcurrentID: "0", RunnerShortToken: "doc"})
		assert.NilError(t, err, "snippet %d:\n%s", i, text)
		loaded++
	}
	assert.Assert(t, loaded > 10, "only %d snippets loaded", loaded)
}

func refusal(snippet string) string {
	for marker, want := range refusedBySpec {
		if strings.Contains(snippet, marker) {
			return want
		}
	}
	return ""
}
