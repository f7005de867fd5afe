package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
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
// variable, where it comes from: every K8SDRV_* value that does not parse
// together with every invalid setting. A file that cannot be decoded, or
// has unknown keys, is not validated; its problems still come with the
// variables'.
func Load(path string) (*Config, error) {
	cfg := &Config{}
	var from *origin
	var found []*located // the file's unknown keys
	var fileErr error    // a file k8sdrv could not decode
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			fileErr = fmt.Errorf("config file: %w", err)
		} else {
			from, found, fileErr = decodeFile(path, data, cfg)
		}
	}
	env := envOverrides()
	envProblems, badEnv := applyEnv(cfg, env)
	if fileErr != nil || len(found) > 0 {
		// An unknown key is most often a misspelt one, whose default
		// would only add problems that fixing the spelling removes.
		return nil, errors.Join(fileErr, report(append(found, envProblems...)))
	}
	if from != nil {
		cfg.Warnings = append(cfg.Warnings, from.warnings...)
	}
	cfg.applyDefaults()
	var ps problems
	loadPatches(cfg.PodSpec, ps.add)
	cfg.validate(ps.add)
	// A key whose variable did not parse keeps the file's value, which is
	// not what the operator meant to use: its variable is the problem.
	ps = slices.DeleteFunc(ps, func(p *problem) bool {
		path := keyPath(p.key)
		return len(path) > 0 && badEnv[path[0]]
	})
	if all := append(envProblems, locate(ps, from, env)...); len(all) > 0 {
		return nil, report(all)
	}
	return cfg, nil
}

// applyEnv sets each key that a K8SDRV_* variable of this environment
// overrides (env, from envOverrides), decoding every variable on its own
// with envconfig so that every value that does not parse is reported, not
// only the first. It returns those problems and their keys.
func applyEnv(cfg *Config, env map[string]string) ([]*located, map[string]bool) {
	var ls []*located
	bad := map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		for i, f := range slices.Collect(v.Type().Fields()) {
			key := f.Tag.Get("toml")
			switch {
			case f.Anonymous:
				walk(v.Field(i))
			case env[key] == "" || env[key] != f.Tag.Get("envconfig"):
			default:
				// A struct of this one field, for envconfig to decode as it
				// would decode the whole Config.
				one := reflect.New(reflect.StructOf([]reflect.StructField{{
					Name: "V", Type: f.Type, Tag: reflect.StructTag(`envconfig:"` + env[key] + `"`),
				}}))
				if err := envconfig.Process("", one.Interface()); err != nil {
					ls, bad[key] = append(ls, envError(err, key)), true
					continue
				}
				v.Field(i).Set(one.Elem().Field(0))
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem())
	return ls, bad
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
func envError(err error, key string) *located {
	var parse *envconfig.ParseError
	if !errors.As(err, &parse) {
		return &located{source: EnvPrefix + " environment", key: key, err: err}
	}
	reason := parse.Err
	var num *strconv.NumError
	if errors.As(reason, &num) {
		reason = fmt.Errorf("%q is not a valid %s", parse.Value, strings.TrimPrefix(parse.TypeName, "*"))
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
