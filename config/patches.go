package config

import (
	"fmt"
	"os"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/yaml"
)

// PodSpecPatch is one [[pod_spec]] entry: a patch applied to the PodSpec
// k8sdrv builds, after everything else.
type PodSpecPatch struct {
	Name      string `toml:"name"`
	Patch     string `toml:"patch"`
	PatchPath string `toml:"patch_path"`
	PatchType string `toml:"patch_type"`
	// JSON is the patch (from Patch or the file at PatchPath) as JSON; Load
	// fills it in.
	JSON []byte `toml:"-"`
}

// PatchTypes are the accepted patch_type values; strategic is the default.
var PatchTypes = setOf("merge", "json", "strategic")

// patchKey names the i-th [[pod_spec]] entry with its name, when it has
// one: an index alone is hard to find in a long file.
func patchKey(i int, p PodSpecPatch) string {
	if p.Name != "" {
		return fmt.Sprintf("pod_spec[%d] (%s)", i, p.Name)
	}
	return fmt.Sprintf("pod_spec[%d]", i)
}

// loadPatches is part of loading, not of validating: it reads every
// patch_path file and turns every patch into the JSON podbuilder applies.
// An entry with both or neither of patch and patch_path is left alone for
// validatePatches to report.
func loadPatches(patches []PodSpecPatch, add func(key, format string, args ...any)) {
	for i := range patches {
		p := &patches[i]
		key, where := patchText(patchKey(i, *p), *p)
		text := p.Patch
		switch {
		case (p.Patch == "") == (p.PatchPath == ""):
			continue
		case p.PatchPath != "":
			data, err := readPatchFile(p.PatchPath)
			if err != nil {
				add(key, "%v", err)
				continue
			}
			text = string(data)
		}
		js, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			add(key, "%snot JSON or YAML: %v", where, err)
			continue
		}
		p.JSON = js
	}
}

// validatePatches checks the entries as loadPatches left them; a patch it
// could not load has no JSON and has already been reported.
func validatePatches(patches []PodSpecPatch, add func(key, format string, args ...any)) {
	for i, p := range patches {
		key := patchKey(i, p)
		if p.PatchType != "" && !PatchTypes[p.PatchType] {
			add(key+".patch_type", "%q is not one of merge, json, strategic", p.PatchType)
		}
		switch {
		case p.Patch != "" && p.PatchPath != "":
			add(key, "set patch or patch_path, not both")
		case p.Patch == "" && p.PatchPath == "":
			add(key, "set patch or patch_path")
		case p.PatchType == "json" && p.JSON != nil:
			if _, err := jsonpatch.DecodePatch(p.JSON); err != nil {
				key, where := patchText(key, p)
				add(key, "%snot a JSON patch (a list of operations): %v", where, err)
			}
		}
	}
}

// patchText names where entry p's patch text comes from, for a problem
// with that text: its key (patch, or patch_path, so that the line is
// that of patch_path) and, for a file, the file's name to start the message.
func patchText(entry string, p PodSpecPatch) (key, where string) {
	if p.PatchPath != "" {
		return entry + ".patch_path", p.PatchPath + ": "
	}
	return entry + ".patch", ""
}

// maxPatchFile bounds a patch_path file: a pod spec patch is a few KB.
const maxPatchFile = 1 << 20

// readPatchFile reads a regular file of at most maxPatchFile bytes. A FIFO
// or device named by mistake would otherwise block or never end.
func readPatchFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, info.Mode().Type())
	}
	if info.Size() > maxPatchFile {
		return nil, fmt.Errorf("%s has %d bytes, more than a pod spec patch should (at most %d)", path, info.Size(), maxPatchFile)
	}
	return os.ReadFile(path)
}
