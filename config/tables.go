package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// scalarTables reports every key whose setting is a table of strings
// (node_selector, pod_labels, match_labels, ...) but which the file gives
// a string, a number or a list. The toml package leaves such a map empty
// without a word, so `node_selector = "kubernetes.io/arch=arm64"` would
// schedule the job anywhere.
func (o *origin) scalarTables(md *toml.MetaData) []*located {
	var ls []*located
	for _, key := range md.Keys() {
		t := settingType(key)
		if t == nil || t.Kind() != reflect.Map {
			continue
		}
		found := md.Type(key...)
		if found == "Hash" {
			continue
		}
		line := 0
		if lines := o.keys.linesOf(key); len(lines) > 0 {
			line = lines[0]
		}
		ls = append(ls, &located{source: o.path, line: line, key: key.String(),
			err: tableWanted(found)})
	}
	return ls
}

// tableWanted says what the file gives instead of a table, by the toml
// package's name of its type.
func tableWanted(found string) error {
	what := map[string]string{
		"String": "a string", "Integer": "an integer", "Float": "a float", "Bool": "a boolean",
		"Datetime": "a date", "Array": "an array", "ArrayHash": "an array of tables",
	}[found]
	if what == "" {
		what = strings.ToLower(found)
	}
	return fmt.Errorf(`want a table such as { "key" = "value" }, found %s`, what)
}

// settingType returns the Go type the file's key decodes into, following
// the toml tags from Config ([runners.kubernetes] keys as top-level ones),
// or nil when the key is not one of k8sdrv's.
func settingType(key toml.Key) reflect.Type {
	path := []string(key)
	if len(path) > 0 && path[0] == "runners" {
		if len(path) < 2 || path[1] != "kubernetes" {
			return nil // runner-level keys are strings or gitlab-runner's own
		}
		path = path[2:]
	}
	t := reflect.TypeFor[Config]()
	for _, seg := range path {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			if t = tomlField(t, seg); t == nil {
				return nil
			}
		default:
			return nil
		}
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// tomlField returns the type of struct t's field with toml name, looking
// into embedded structs as the toml package does.
func tomlField(t reflect.Type, name string) reflect.Type {
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case tag == name:
			return f.Type
		case f.Anonymous && tag == "":
			if ft := tomlField(f.Type, name); ft != nil {
				return ft
			}
		}
	}
	return nil
}
