package examples

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
)

// TestREADMEListsEverySetting: the README's settings table names every
// key of the configuration, and names no key the configuration lacks.
func TestREADMEListsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	assert.NilError(t, err)
	documented := map[string]bool{}
	key := regexp.MustCompile("`([A-Za-z_]+)`")
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for _, m := range key.FindAllStringSubmatch(cells[1], -1) {
			documented[m[1]] = true
		}
		// "and the same with helper_ and service_" covers those prefixes.
		if strings.Contains(cells[1], "the same with `helper_` and `service_`") {
			for _, m := range key.FindAllStringSubmatch(cells[1], -1) {
				if !strings.HasSuffix(m[1], "_") {
					documented["helper_"+m[1]] = true
					documented["service_"+m[1]] = true
				}
			}
		}
	}
	var missing []string
	for _, k := range tomlKeys(reflect.TypeFor[config.Config]()) {
		if !documented[k] {
			missing = append(missing, k)
		}
		delete(documented, k)
	}
	delete(documented, "helper_")
	delete(documented, "service_")
	var unknown []string
	for k := range documented {
		unknown = append(unknown, k)
	}
	sort.Strings(unknown)
	assert.DeepEqual(t, missing, []string(nil))
	assert.DeepEqual(t, unknown, []string(nil))
}

func tomlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if f.Anonymous {
			keys = append(keys, tomlKeys(f.Type)...)
		} else if k := f.Tag.Get("toml"); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestREADMEListsKeysWithoutEffect: every key of GitLab Runner's that
// k8sdrv accepts with a warning is named in the README's list of them.
func TestREADMEListsKeysWithoutEffect(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	assert.NilError(t, err)
	text := string(data)
	start := strings.Index(text, "**GitLab Runner's keys that k8sdrv accepts without acting on them.**")
	assert.Assert(t, start >= 0, "README has no list of the keys k8sdrv accepts without acting on them")
	end := strings.Index(text[start:], "\n\n**")
	assert.Assert(t, end > 0)
	list := text[start : start+end]
	for _, k := range config.NotImplementedKeys() {
		assert.Check(t, strings.Contains(list, "`"+k+"`"), "README's list of keys without effect lacks %s", k)
	}
}
