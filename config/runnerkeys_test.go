package config

import (
	"bufio"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// beingAdded are GitLab Runner's keys that a branch is adding to k8sdrv
// while this list is checked (key → branch); each line goes when its
// branch is merged. None today.
var beingAdded = map[string]string{}

// runnerKey is one line of testdata/runner-keys.txt.
type runnerKey struct{ key, since, line string }

// readRunnerKeys reads testdata/runner-keys.txt, the keys of GitLab
// Runner's [runners.kubernetes] from 17.0 to its main branch, written by
// hack/runnerkeys from the runner's source.
func readRunnerKeys(t *testing.T) []runnerKey {
	t.Helper()
	f, err := os.Open("testdata/runner-keys.txt")
	assert.NilError(t, err)
	defer f.Close()
	var keys []runnerKey
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		assert.Assert(t, len(fields) >= 2, "runner-keys.txt: %q: want a key and a revision", sc.Text())
		keys = append(keys, runnerKey{key: fields[0], since: fields[1], line: sc.Text()})
	}
	assert.NilError(t, sc.Err())
	assert.Assert(t, len(keys) > 300, "runner-keys.txt holds only %d keys", len(keys))
	return keys
}

// configKeys lists every key path of t as the toml package reports
// undecoded keys: dotted, without array indices.
func configKeys(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for f := range t.Fields() {
		name := f.Tag.Get("toml")
		if f.Anonymous && name == "" {
			configKeys(f.Type, prefix, out)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		out[prefix+name] = true
		configKeys(f.Type, prefix+name+".", out)
	}
}

// TestRunnerKeysAreKnown: every key GitLab Runner 17.0 and later knows in
// [runners.kubernetes] is one k8sdrv implements, or one it accepts with a
// warning (notImplemented), so that a runner's configuration loads as it
// is. A key added to the runner fails this test until k8sdrv knows it
// (regenerate the list with hack/runnerkeys).
func TestRunnerKeysAreKnown(t *testing.T) {
	known := map[string]bool{}
	configKeys(reflect.TypeFor[Config](), "", known)
	o := &origin{}
	for _, k := range readRunnerKeys(t) {
		switch {
		case known[k.key], o.notImplementedKey(strings.Split(k.key, ".")) != "":
		case beingAdded[k.key] != "":
			t.Logf("%s: being added (%s)", k.key, beingAdded[k.key])
		default:
			t.Errorf("GitLab Runner's key %s (since %s) is unknown to k8sdrv: implement it, or add it to notImplemented with what k8sdrv does instead", k.key, k.since)
		}
	}
	for key, branch := range beingAdded {
		assert.Check(t, !known[key], "%s is a key of k8sdrv now (%s): remove it from beingAdded", key, branch)
	}
}

// TestNotImplementedKeysAreRunnerKeys: notImplemented holds only keys
// of GitLab Runner's that k8sdrv does not implement.
func TestNotImplementedKeysAreRunnerKeys(t *testing.T) {
	known := map[string]bool{}
	configKeys(reflect.TypeFor[Config](), "", known)
	var runner []string
	for _, k := range readRunnerKeys(t) {
		runner = append(runner, k.key)
	}
	for _, key := range NotImplementedKeys() {
		assert.Check(t, slices.Contains(runner, key), "notImplemented key %s is not one of GitLab Runner's", key)
		assert.Check(t, !known[key], "notImplemented key %s is one k8sdrv implements", key)
		assert.Check(t, strings.HasPrefix(notImplemented[key], key+" has no effect: "), "the warning for %s: %q", key, notImplemented[key])
	}
}

// TestRunnerFixturesLoad: config.toml files written for GitLab Runner 17,
// 18 and 19 (testdata/runner-*.toml, each with the keys its release
// added) load as they are, warning once for each key k8sdrv accepts
// without acting on it. podbuilder's TestBuildRunnerFixtures builds
// their pods.
func TestRunnerFixturesLoad(t *testing.T) {
	tests := map[string][]string{
		"runner-17.toml": nil,
		"runner-18.toml": {notImplemented["autoscaler"]},
		"runner-19.toml": {
			notImplemented["helper_image_autoset_arch_and_os"], notImplemented["suspend_pvc_size"],
			notImplemented["suspend_pvc_storage_class"], notImplemented["autoscaler"],
			notImplemented["services.suspend_data_path"],
		},
	}
	for name, warnings := range tests {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			cfg, err := Load("testdata/" + name)
			assert.NilError(t, err)
			assert.DeepEqual(t, cfg.Warnings, warnings)
		})
	}
}
