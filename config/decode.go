package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

var errUnknownKey = errors.New("unknown key")

// document is the file as the operator wrote it: k8sdrv's keys at the top
// level, or a [runners.kubernetes] section, alone or in a whole
// gitlab-runner config.toml. Runners stays undecoded until its shape, a
// table or an array of tables, is known.
type document struct {
	Config
	Runners toml.Primitive `toml:"runners"`
}

// runnerEntry is what k8sdrv reads of [runners] or of the [[runners]]
// entry; the rest of it is gitlab-runner's own (runnerEntryKeys).
type runnerEntry struct {
	BuildsDir  *string        `toml:"builds_dir"`
	CacheDir   *string        `toml:"cache_dir"`
	Kubernetes toml.Primitive `toml:"kubernetes"`
	// Docker is where GitLab Runner reads wait_for_services_timeout; the
	// rest of [runners.docker] is gitlab-runner's own.
	Docker struct {
		WaitForServicesTimeout *int `toml:"wait_for_services_timeout"`
	} `toml:"docker"`
}

// origin is where the file keeps k8sdrv's keys, so that a problem found
// after decoding names the key as written and the line it is on.
type origin struct {
	path string
	keys keyIndex
	// runner is the path of [runners] (a pasted section) or of the one
	// [[runners]] entry (runners, [0]); nil for keys at the top level.
	runner []string
	// warnings are for the keys of GitLab Runner's that k8sdrv accepts
	// without acting on them (notImplemented), one per key.
	warnings []string
}

// decodeFile decodes the file into cfg in one pass of the toml package, so
// that its errors carry the file's own lines and keys. It returns every
// unknown key, which leaves the rest of cfg as the file says and so worth
// validating, and an error for what leaves cfg unreliable: a syntax or type
// error, or tables the file gives a scalar (all of these at once).
func decodeFile(path string, data []byte, cfg *Config) (from *origin, unknown []*located, err error) {
	from = &origin{path: path, keys: indexKeys(string(data))}
	var doc document
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return nil, nil, from.decodeError(err)
	}
	*cfg = doc.Config
	if md.IsDefined("runners") {
		if err := from.decodeRunner(&md, doc.Runners, cfg); err != nil {
			return nil, nil, err
		}
	}
	unknown = from.unknownKeys(md.Undecoded())
	if scalars := from.scalarTables(&md); len(scalars) > 0 {
		return nil, nil, report(append(unknown, scalars...))
	}
	return from, unknown, nil
}

// decodeRunner decodes [runners.kubernetes] over the top-level keys, then
// the runner-level builds_dir and cache_dir, which is where gitlab-runner
// reads them, and [runners.docker]'s wait_for_services_timeout unless
// [runners.kubernetes] or the top level sets one.
func (o *origin) decodeRunner(md *toml.MetaData, raw toml.Primitive, cfg *Config) error {
	// Decoding into any tells the shape apart without marking keys decoded.
	var shape any
	if err := md.PrimitiveDecode(raw, &shape); err != nil {
		return o.decodeError(err)
	}
	var entry runnerEntry
	switch shape.(type) {
	case map[string]any:
		o.runner = []string{"runners"}
		if err := md.PrimitiveDecode(raw, &entry); err != nil {
			return o.decodeError(err)
		}
	case []map[string]any:
		var entries []runnerEntry
		if err := md.PrimitiveDecode(raw, &entries); err != nil {
			return o.decodeError(err)
		}
		if len(entries) != 1 {
			return o.at([]string{"runners", indexSegment(1)}, "runners", fmt.Errorf("want one [[runners]] entry, found %d", len(entries)))
		}
		o.runner, entry = []string{"runners", indexSegment(0)}, entries[0]
	default:
		return o.at([]string{"runners"}, "runners", errors.New("want a table holding [runners.kubernetes]"))
	}
	if err := md.PrimitiveDecode(entry.Kubernetes, cfg); err != nil {
		return o.decodeError(err)
	}
	if entry.BuildsDir != nil {
		cfg.BuildsDir = *entry.BuildsDir
	}
	if entry.CacheDir != nil {
		cfg.CacheDir = *entry.CacheDir
	}
	if t := entry.Docker.WaitForServicesTimeout; t != nil && cfg.WaitForServicesTimeout == 0 {
		cfg.WaitForServicesTimeout = *t
	}
	return nil
}

// at is a problem at the line of path, with key as the operator wrote it.
func (o *origin) at(path []string, key string, err error) *located {
	return &located{source: o.path, line: o.keys.lineOf(path, 1), key: key, err: err}
}

// decodeError names the file of an error from the toml package, keeping
// its line and key: a ParseError carries them in fields, its type errors
// only in their text.
func (o *origin) decodeError(err error) error {
	var parse toml.ParseError
	if errors.As(err, &parse) {
		// Some messages quote the rest of the line, newline included:
		// a problem is one line of output.
		msg := strings.ReplaceAll(parse.Message, "\n", `\n`)
		return &located{source: o.path, line: parse.Position.Line, key: parse.LastKey, err: errors.New(msg)}
	}
	if m := tomlTypeError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		key, _ := strconv.Unquote(m[2])
		return &located{source: o.path, line: line, key: key, err: errors.New(m[3])}
	}
	return fmt.Errorf("%s: %w", o.path, err)
}

// tomlTypeError is the text of the toml package's type errors, such as
// `toml: line 8 (last key "runners.kubernetes.cpu_limit"): incompatible types: …`.
var tomlTypeError = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// unknownKeys reports every key k8sdrv does not know, on every line that
// sets it; the keys inside an unknown table are not news. In a whole
// config.toml, gitlab-runner's own keys are not k8sdrv's to judge.
func (o *origin) unknownKeys(keys []toml.Key) []*located {
	var ls []*located
	reported := map[string]bool{}
	for _, key := range keys {
		if o.runner != nil && isRunnerKey(key) || reported[key.String()] || underReported(key, reported) {
			continue
		}
		if name := o.notImplementedKey(key); name != "" {
			if !reported["\x00"+name] {
				reported["\x00"+name] = true
				o.warnings = append(o.warnings, notImplemented[name])
			}
			continue
		}
		reported[key.String()] = true
		lines := o.keys.linesOf(key)
		if len(lines) == 0 {
			lines = []int{0}
		}
		for _, line := range lines {
			ls = append(ls, &located{source: o.path, line: line, key: key.String(), err: errUnknownKey})
		}
	}
	return ls
}

// underReported reports whether a proper prefix of key was reported.
func underReported(key toml.Key, reported map[string]bool) bool {
	for i := 1; i < len(key); i++ {
		if reported[key[:i].String()] {
			return true
		}
	}
	return false
}

// isRunnerKey reports whether key is one of gitlab-runner's own in its
// config.toml: a global key, or a [[runners]] key other than kubernetes.
// A misspelt [runners.kubernetes] header is not one of them: it is
// reported rather than silently leaving every setting at its default.
func isRunnerKey(key toml.Key) bool {
	if key[0] == "runners" {
		return len(key) > 1 && runnerEntryKeys[key[1]]
	}
	return runnerGlobalKeys[key[0]]
}

// runnerGlobalKeys are gitlab-runner's settings at the top of its
// config.toml (common.Config in its source).
var runnerGlobalKeys = setOf("listen_address", "session_server", "labels", "concurrent",
	"check_interval", "log_level", "log_format", "user", "sentry_dsn", "connection_max_age",
	"machine", "experimental", "shutdown_timeout")

// runnerEntryKeys are the keys and sections of a [[runners]] entry
// (common.RunnerConfig, RunnerCredentials and RunnerSettings in its
// source, plus the clone scripts older files still carry).
var runnerEntryKeys = setOf("name", "limit", "output_limit", "request_concurrency",
	"strict_check_interval", "unhealthy_requests_limit", "unhealthy_interval",
	"job_status_final_update_retry_limit", "experimental",
	"url", "id", "token", "token_obtained_at", "token_expires_at",
	"tls-ca-file", "tls-cert-file", "tls-key-file",
	"labels", "executor", "builds_dir", "cache_dir", "clone_url", "environment", "proxy_exec",
	"pre_get_sources_script", "post_get_sources_script", "pre_clone_script", "post_clone_script",
	"pre_build_script", "post_build_script", "prepare_timeout", "get_sources_timeout",
	"debug_trace_disabled", "safe_directory_checkout", "clean_git_config", "shell",
	"custom_build_dir", "referees", "cache", "artifact", "feature_flags", "monitoring",
	"use_slot_cgroups", "slot_cgroup_template", "instance", "ssh", "docker", "parallels",
	"virtualbox", "machine", "custom", "autoscaler", "step_runner_image")

// locate names the key of a problem as the operator wrote it and its line:
// in the [[runners]] entry (builds_dir, cache_dir), in [runners.kubernetes]
// or at the top level, in the order decodeRunner lets them override each
// other. A key the file does not set is named as a key of the section.
func (o *origin) locate(p *problem, path []string) *located {
	type place struct {
		path   []string
		prefix string
	}
	var places []place
	if o.runner != nil {
		if path[0] == "builds_dir" || path[0] == "cache_dir" {
			places = append(places, place{o.runner, "runners."})
		}
		places = append(places, place{append(slices.Clone(o.runner), "kubernetes"), "runners.kubernetes."})
		if path[0] == "wait_for_services_timeout" {
			places = append(places, place{append(slices.Clone(o.runner), "docker"), "runners.docker."})
		}
	}
	places = append(places, place{nil, ""})
	for _, pl := range places {
		if line := o.keys.lineOf(append(slices.Clone(pl.path), path...), len(pl.path)+1); line > 0 {
			return &located{source: o.path, line: line, key: pl.prefix + p.key, err: p.err}
		}
	}
	if o.runner != nil {
		return &located{source: o.path, key: "runners.kubernetes." + p.key, err: p.err}
	}
	return &located{source: o.path, key: p.key, err: p.err}
}
