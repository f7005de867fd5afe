package main

import (
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"
)

// The SBOM is CycloneDX 1.5 JSON made from the build information Go writes
// into the binary (what `go version -m` prints): the modules actually
// linked, not go.mod's wider list. Each module's hash is its go.sum h1:
// hash (the SHA-256 of the module's file list), in hex as CycloneDX wants
// it, and as written under the property go:h1, as cyclonedx-gomod does.

// BOM is the part of a CycloneDX document k8sdrv writes.
type BOM struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	Version      int          `json:"version"`
	Metadata     Metadata     `json:"metadata"`
	Components   []Component  `json:"components"`
	Dependencies []Dependency `json:"dependencies"`
}

// Metadata says what the BOM describes and what wrote it.
type Metadata struct {
	Timestamp time.Time `json:"timestamp"`
	Tools     struct {
		Components []Component `json:"components"`
	} `json:"tools"`
	Component Component `json:"component"`
}

// Component is a module (or the binary itself).
type Component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref,omitempty"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Hashes     []Hash     `json:"hashes,omitempty"`
	Properties []Property `json:"properties,omitempty"`
}

// Hash is a component's digest.
type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// Property is a name and a value.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Dependency lists what a component depends on.
type Dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// writeSBOM writes the SBOM of the Go binary at path.
func writeSBOM(w io.Writer, path, version string, created time.Time) error {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return err
	}
	bom, err := newBOM(info, version, created)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(bom)
}

// newBOM lists every module of info; a module without a hash is an error,
// since a module nobody can check against go.sum is what an SBOM is for.
// version is the binary's stamped version: a build from a checkout has only
// "(devel)" as its module version, and -trimpath leaves -ldflags out of
// the build information.
func newBOM(info *debug.BuildInfo, version string, created time.Time) (BOM, error) {
	bom := BOM{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1}
	bom.Metadata.Timestamp = created
	bom.Metadata.Tools.Components = []Component{{Type: "application", Name: "github.com/k8sdrv/k8sdrv/hack/release"}}
	main := Component{Type: "application", Name: info.Main.Path, Version: version}
	if version == "" {
		main.Version = info.Main.Version
	}
	main.PURL = purl(main.Name, main.Version)
	main.BOMRef = main.PURL
	main.Properties = append(main.Properties, Property{"go:toolchain", info.GoVersion})
	for _, s := range info.Settings {
		main.Properties = append(main.Properties, Property{"go:build:" + s.Key, s.Value})
	}
	bom.Metadata.Component = main
	deps := Dependency{Ref: main.BOMRef, DependsOn: []string{}}
	var missing []string
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c, err := moduleComponent(m)
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		bom.Components = append(bom.Components, c)
		deps.DependsOn = append(deps.DependsOn, c.BOMRef)
	}
	if len(missing) > 0 {
		return bom, fmt.Errorf("modules without a usable hash: %s", strings.Join(missing, ", "))
	}
	bom.Dependencies = []Dependency{deps}
	return bom, nil
}

func moduleComponent(m *debug.Module) (Component, error) {
	sum, ok := strings.CutPrefix(m.Sum, "h1:")
	raw, err := base64.StdEncoding.DecodeString(sum)
	if !ok || err != nil || len(raw) != 32 {
		return Component{}, fmt.Errorf("%s@%s (sum %q)", m.Path, m.Version, m.Sum)
	}
	ref := purl(m.Path, m.Version)
	return Component{
		Type: "library", BOMRef: ref, Name: m.Path, Version: m.Version, PURL: ref,
		Hashes:     []Hash{{Alg: "SHA-256", Content: hex.EncodeToString(raw)}},
		Properties: []Property{{"go:h1", m.Sum}},
	}, nil
}

// purl is a Go module's package URL, pkg:golang/<path>@<version>.
func purl(path, version string) string {
	return "pkg:golang/" + path + "@" + strings.ReplaceAll(version, "+", "%2B") + "?type=module"
}
