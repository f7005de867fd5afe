package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

var errNotDuration = errors.New("want a duration such as \"90s\" or a number of seconds")

// EnvPrefix prefixes the environment variables that override scalar keys.
const EnvPrefix = "K8SDRV"

// Load reads the configuration file at path (an empty path means no file:
// defaults plus environment), applies K8SDRV_* overrides and defaults, reads
// the pod_spec patch files, and validates the result. It reports every
// problem at once, one per line, each naming the file and line, or the
// variable, where it comes from.
func Load(path string) (*Config, error) {
	cfg := &Config{}
	var from *origin
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		if from, err = decodeFile(path, data, cfg); err != nil {
			return nil, err
		}
	}
	env := envOverrides()
	if err := envconfig.Process("", cfg); err != nil {
		return nil, envError(err, env)
	}
	if from != nil {
		cfg.Warnings = append(cfg.Warnings, from.warnings...)
	}
	cfg.applyDefaults()
	var ps problems
	loadPatches(cfg.PodSpec, ps.add)
	cfg.validate(ps.add)
	if len(ps) > 0 {
		return nil, locate(ps, from, env)
	}
	return cfg, nil
}

// envOverrides maps each key that a K8SDRV_* variable of this environment
// overrides to that variable, from the struct tags envconfig follows.
func envOverrides() map[string]string {
	set := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			name, key := f.Tag.Get("envconfig"), f.Tag.Get("toml")
			switch _, ok := os.LookupEnv(name); {
			case f.Anonymous:
				walk(f.Type)
			case ok && key != "" && f.Tag.Get("ignored") != "true":
				set[key] = name
			}
		}
	}
	walk(reflect.TypeFor[Config]())
	return set
}

// envError blames a value envconfig cannot parse on its variable, not on
// the file.
func envError(err error, env map[string]string) error {
	var parse *envconfig.ParseError
	if !errors.As(err, &parse) {
		return fmt.Errorf("%s environment: %w", EnvPrefix, err)
	}
	reason := parse.Err
	var num *strconv.NumError
	if errors.As(reason, &num) {
		reason = fmt.Errorf("%q is not a valid %s", parse.Value, strings.TrimPrefix(parse.TypeName, "*"))
	}
	var key string
	for k, name := range env {
		if name == parse.KeyName {
			key = k
		}
	}
	return &located{source: parse.KeyName, key: key, err: reason}
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
	if seconds, err := strconv.ParseInt(s, 10, 64); err == nil {
		return secondsDuration(seconds)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errNotDuration
	}
	return d, nil
}

// maxSeconds is the most whole seconds a time.Duration holds (292 years).
const maxSeconds = math.MaxInt64 / int64(time.Second)

// secondsDuration converts seconds to a Duration, refusing what would
// overflow it (and silently become a tiny or negative timeout).
func secondsDuration(seconds int64) (time.Duration, error) {
	if seconds > maxSeconds || seconds < -maxSeconds {
		return 0, fmt.Errorf("%d seconds is more than k8sdrv can wait (at most %d)", seconds, maxSeconds)
	}
	return time.Duration(seconds) * time.Second, nil
}
