package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestIndexKeys(t *testing.T) {
	doc := `# a comment with = and [brackets]
namespace = "ci" # trailing comment
cap_add = [
  "NET_ADMIN", # ]
  "NET_RAW",
]
"quoted.key" = 'C:\dir\'
dotted . key = """
fake = 1
[[fake]]
\"""still inside"""
after = '''
[not.a.table]'''

[node_selector]
"kubernetes.io/arch" = "amd64"

[[runners]]
url = "https://gitlab.example.com"
[runners.kubernetes]
pod_labels = { team = "ci",
  }
[[runners.kubernetes.pod_spec]]
name = "first"
[[runners.kubernetes.pod_spec]]
name = "second"
[[runners.kubernetes.pod_spec.extra]]
`
	_, err := toml.Decode(doc, &map[string]any{})
	assert.NilError(t, err, "the test document must be valid TOML")

	var got []string
	for _, k := range indexKeys(doc) {
		got = append(got, fmt.Sprintf("%s @%d", strings.Join(k.path, " "), k.line))
	}
	assert.DeepEqual(t, got, []string{
		"namespace @2",
		"cap_add @3",
		"quoted.key @7",
		"dotted key @8",
		"after @12",
		"node_selector @15",
		"node_selector kubernetes.io/arch @16",
		"runners [0] @18",
		"runners [0] url @19",
		"runners [0] kubernetes @20",
		"runners [0] kubernetes pod_labels @21",
		"runners [0] kubernetes pod_spec [0] @23",
		"runners [0] kubernetes pod_spec [0] name @24",
		"runners [0] kubernetes pod_spec [1] @25",
		"runners [0] kubernetes pod_spec [1] name @26",
		"runners [0] kubernetes pod_spec [1] extra [0] @27",
	})
}

func TestKeyIndexLookups(t *testing.T) {
	ix := indexKeys("[[volumes.pvc]]\nname = \"a\"\n\n[[volumes.pvc]]\nname = \"b\"\nnode_selector = { a = \"b\" }\n")

	assert.Check(t, is.Equal(ix.lineOf([]string{"volumes", "pvc", "[1]", "name"}, 1), 5))
	assert.Check(t, is.Equal(ix.lineOf([]string{"volumes", "pvc", "[0]", "name"}, 1), 2))
	// A key inside an inline table has the line of the table's key.
	assert.Check(t, is.Equal(ix.lineOf([]string{"volumes", "pvc", "[1]", "node_selector", "a"}, 1), 6))
	// Not past the ancestor the caller allows.
	assert.Check(t, is.Equal(ix.lineOf([]string{"volumes", "pvc", "[1]", "mount_path"}, 4), 0))
	assert.Check(t, is.Equal(ix.lineOf([]string{"host"}, 1), 0))
	assert.Check(t, is.DeepEqual(ix.linesOf(toml.Key{"volumes", "pvc", "name"}), []int{2, 5}))
	assert.Check(t, is.DeepEqual(ix.linesOf(toml.Key{"volumes", "pvc", "node_selector", "a"}), []int{6}))
}

// TestIndexKeysStopsOnWhatItDoesNotKnow: a document the scanner cannot
// follow keeps the lines found before it.
func TestIndexKeysStopsOnWhatItDoesNotKnow(t *testing.T) {
	ix := indexKeys("a = 1\n= 2\nb = 3\n")
	assert.Check(t, is.Len(ix, 1))
}
