package config

import (
	"fmt"
	"os"
	"regexp"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/yaml"
)

// Lifecycle is [container_lifecycle]: hooks of the build container.
type Lifecycle struct {
	PostStart *LifecycleHandler `toml:"post_start"`
	PreStop   *LifecycleHandler `toml:"pre_stop"`
}

// LifecycleHandler is one hook; exactly one of its actions is set.
type LifecycleHandler struct {
	Exec      *ExecAction      `toml:"exec"`
	HTTPGet   *HTTPGetAction   `toml:"http_get"`
	TCPSocket *TCPSocketAction `toml:"tcp_socket"`
}

// ExecAction runs a command in the container.
type ExecAction struct {
	Command []string `toml:"command"`
}

// HTTPGetAction performs an HTTP GET.
type HTTPGetAction struct {
	Port        int          `toml:"port"`
	Host        string       `toml:"host"`
	Path        string       `toml:"path"`
	Scheme      string       `toml:"scheme"`
	HTTPHeaders []HTTPHeader `toml:"http_headers"`
}

// HTTPHeader is one header of an HTTP GET hook.
type HTTPHeader struct {
	Name  string `toml:"name"`
	Value string `toml:"value"`
}

// TCPSocketAction opens a TCP connection.
type TCPSocketAction struct {
	Port int    `toml:"port"`
	Host string `toml:"host"`
}

func (l *Lifecycle) validate(add func(key, format string, args ...any)) {
	for name, h := range map[string]*LifecycleHandler{"container_lifecycle.post_start": l.PostStart, "container_lifecycle.pre_stop": l.PreStop} {
		if h == nil {
			continue
		}
		set := 0
		if h.Exec != nil {
			set++
			if len(h.Exec.Command) == 0 {
				add(name+".exec.command", "required")
			}
		}
		if h.HTTPGet != nil {
			set++
			validatePort(name+".http_get.port", h.HTTPGet.Port, add)
			if s := h.HTTPGet.Scheme; s != "" && s != "HTTP" && s != "HTTPS" {
				add(name+".http_get.scheme", "%q is not HTTP or HTTPS", s)
			}
			for i, hd := range h.HTTPGet.HTTPHeaders {
				// GitLab's own example uses "header_name_1", which the
				// API server refuses.
				if !httpHeaderName.MatchString(hd.Name) {
					add(fmt.Sprintf("%s.http_get.http_headers[%d].name", name, i), "%q is not an HTTP header name (letters, digits and '-')", hd.Name)
				}
			}
		}
		if h.TCPSocket != nil {
			set++
			validatePort(name+".tcp_socket.port", h.TCPSocket.Port, add)
		}
		if set != 1 {
			add(name, "set exactly one of exec, http_get, tcp_socket (found %d)", set)
		}
	}
}

var httpHeaderName = regexp.MustCompile(`^[-A-Za-z0-9]+$`)

func validatePort(key string, port int, add func(key, format string, args ...any)) {
	if port < 1 || port > 65535 {
		add(key, "want a port from 1 to 65535, got %d", port)
	}
}

// PodSpecPatch is one [[pod_spec]] entry: a patch applied to the PodSpec
// k8sdrv builds, after everything else.
type PodSpecPatch struct {
	Name      string `toml:"name"`
	Patch     string `toml:"patch"`
	PatchPath string `toml:"patch_path"`
	PatchType string `toml:"patch_type"`
	// JSON is the patch (from Patch or the file at PatchPath) as JSON.
	JSON []byte `toml:"-"`
}

// PatchTypes are the accepted patch_type values; strategic is the default.
var PatchTypes = setOf("merge", "json", "strategic")

// loadPatches reads every patch_path file and converts every patch to
// JSON, reporting problems by key.
func loadPatches(patches []PodSpecPatch, add func(key, format string, args ...any)) {
	for i := range patches {
		p := &patches[i]
		key := fmt.Sprintf("pod_spec[%d]", i)
		if p.Name != "" {
			key = fmt.Sprintf("pod_spec[%d] (%s)", i, p.Name)
		}
		if p.PatchType == "" {
			p.PatchType = "strategic"
		}
		if !PatchTypes[p.PatchType] {
			add(key+".patch_type", "%q is not one of merge, json, strategic", p.PatchType)
		}
		text := p.Patch
		switch {
		case p.Patch != "" && p.PatchPath != "":
			add(key, "set patch or patch_path, not both")
			continue
		case p.PatchPath != "":
			data, err := os.ReadFile(p.PatchPath)
			if err != nil {
				add(key+".patch_path", "%v", err)
				continue
			}
			text = string(data)
		case p.Patch == "":
			add(key, "set patch or patch_path")
			continue
		}
		js, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			add(key+".patch", "not JSON or YAML: %v", err)
			continue
		}
		if p.PatchType == "json" {
			if _, err := jsonpatch.DecodePatch(js); err != nil {
				add(key+".patch", "not a JSON patch (a list of operations): %v", err)
				continue
			}
		}
		p.JSON = js
	}
}
