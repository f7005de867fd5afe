package config

import (
	"fmt"
	"regexp"
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
