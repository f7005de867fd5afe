package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/kelseyhightower/envconfig"
)

var errNotDuration = errors.New("want a duration such as \"90s\" or a number of seconds")

// EnvPrefix prefixes the environment variables that override scalar keys.
const EnvPrefix = "K8SDRV"

// Load reads the configuration file at path (an empty path means no file:
// defaults plus environment), applies K8SDRV_* overrides and defaults, reads
// the pod_spec patch files, and validates the result, reporting every
// problem at once.
func Load(path string) (*Config, error) {
	cfg := &Config{}
	source := "configuration"
	if path != "" {
		source = path
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		if err := decode(path, data, cfg); err != nil {
			return nil, err
		}
	}
	if err := envconfig.Process("", cfg); err != nil {
		return nil, fmt.Errorf("%s environment: %w", EnvPrefix, err)
	}
	cfg.applyDefaults()
	var ps problems
	loadPatches(cfg.PodSpec, ps.add)
	cfg.validate(ps.add)
	if len(ps) > 0 {
		return nil, prefixEach(source, errors.Join(sortErrors(ps)...))
	}
	return cfg, nil
}

// decode parses the TOML strictly: unknown keys are errors naming the key.
// A section pasted with its [runners.kubernetes] header is unwrapped first.
func decode(path string, data []byte, cfg *Config) error {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := raw["runners"]; ok {
		flat, err := unwrapRunners(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(flat); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		data = buf.Bytes()
	}
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return unknownKeys(path, md.Undecoded())
}

// unwrapRunners turns {runners: {builds_dir, kubernetes: {...}}} (a table or
// a one-element array of tables) into the flat form k8sdrv reads.
func unwrapRunners(raw map[string]any) (map[string]any, error) {
	runner, ok := raw["runners"].(map[string]any)
	if list, isList := raw["runners"].([]map[string]any); isList {
		if len(list) != 1 {
			return nil, fmt.Errorf("runners: want one [[runners]] entry, found %d", len(list))
		}
		runner, ok = list[0], true
	}
	if !ok {
		return nil, errors.New("runners: want a table holding [runners.kubernetes]")
	}
	flat := map[string]any{}
	for key, value := range raw {
		// A whole config.toml pasted: its global keys are gitlab-runner's.
		if key != "runners" && !runnerGlobalKeys[key] {
			flat[key] = value
		}
	}
	kube, _ := runner["kubernetes"].(map[string]any)
	for key, value := range kube {
		flat[key] = value
	}
	// Runner-level keys that k8sdrv uses; the rest of [[runners]] (url,
	// token, executor, [runners.custom]) belongs to gitlab-runner itself.
	for _, key := range []string{"builds_dir", "cache_dir"} {
		if value, ok := runner[key]; ok {
			flat[key] = value
		}
	}
	return flat, nil
}

// runnerGlobalKeys are gitlab-runner's own settings at the top of its
// config.toml; k8sdrv ignores them when a whole file is pasted.
var runnerGlobalKeys = map[string]bool{
	"concurrent": true, "check_interval": true, "log_level": true, "log_format": true,
	"listen_address": true, "shutdown_timeout": true, "sentry_dsn": true,
	"connection_max_age": true, "session_server": true,
}

func unknownKeys(path string, keys []toml.Key) error {
	var errs []error
	reported := map[string]bool{}
	for _, key := range keys {
		if underReported(key, reported) {
			continue // the keys of an unknown table are not news
		}
		name := key.String()
		reported[name] = true
		errs = append(errs, fmt.Errorf("%s: %s: unknown key", path, name))
	}
	return errors.Join(sortErrors(errs)...)
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

func setOf(keys ...string) map[string]bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if seconds, err := strconv.Atoi(s); err == nil {
		return time.Duration(seconds) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errNotDuration
	}
	return d, nil
}

// prefixEach names the source on every line of a joined error, so that
// each problem reads on its own.
func prefixEach(source string, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Errorf("%s: %w", source, err)
	}
	var errs []error
	for _, e := range joined.Unwrap() {
		errs = append(errs, fmt.Errorf("%s: %w", source, e))
	}
	return errors.Join(errs...)
}
