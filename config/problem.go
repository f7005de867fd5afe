package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// problem is one thing wrong with the configuration: the key it is about,
// named as a key of the [runners.kubernetes] section ("volumes.pvc[1].name"),
// and what is wrong with it.
type problem struct {
	key string
	err error
}

func (p *problem) Error() string { return p.key + ": " + p.err.Error() }
func (p *problem) Unwrap() error { return p.err }

// problems collects what is wrong with a configuration, so that the
// operator sees every problem at once.
type problems []*problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, &problem{key: key, err: fmt.Errorf(format, args...)})
}

func (ps problems) errors() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// located is a problem with where it comes from: the file and line, the
// file alone when no line sets the key, or the K8SDRV_* variable that set
// it. Its text is one line, "source[:line]: key: what is wrong", which
// editors and scripts can read.
type located struct {
	source string
	line   int
	key    string // as the operator wrote it: runners.kubernetes.cpu_limit
	err    error
}

func (l *located) Error() string {
	source := l.source
	if l.line > 0 {
		source += ":" + strconv.Itoa(l.line)
	}
	if l.key == "" {
		return source + ": " + l.err.Error()
	}
	return source + ": " + l.key + ": " + l.err.Error()
}

func (l *located) Unwrap() error { return l.err }

// report joins located problems one per line, in the order of the file.
func report(ls []*located) error {
	// Problems without a line come after those with one, in a stable order.
	order := func(l *located) int {
		if l.line == 0 {
			return math.MaxInt
		}
		return l.line
	}
	slices.SortFunc(ls, func(a, b *located) int {
		return cmp.Or(
			strings.Compare(a.source, b.source),
			cmp.Compare(order(a), order(b)),
			strings.Compare(a.Error(), b.Error()),
		)
	})
	errs := make([]error, len(ls))
	for i, l := range ls {
		errs[i] = l
	}
	return errors.Join(errs...)
}

// locate names the source of each problem found after decoding: the
// K8SDRV_* variable that set its key, or else the file (from, nil when
// there is none) and the line the key is on.
func locate(ps problems, from *origin, env map[string]string) []*located {
	var ls []*located
	for _, p := range ps {
		path := keyPath(p.key)
		if len(path) == 0 {
			path = []string{p.key}
		}
		switch name, fromEnv := env[path[0]]; {
		case fromEnv:
			ls = append(ls, &located{source: name, key: p.key, err: p.err})
		case from == nil:
			ls = append(ls, &located{source: "environment", key: p.key, err: p.err})
		default:
			ls = append(ls, from.locate(p, path))
		}
	}
	return ls
}

// keyPath splits a problem's key into the segments keyIndex uses:
// `pod_spec[0] (name).patch` is pod_spec, [0], patch and
// `node_tolerations."a=b"` is node_tolerations, a=b.
func keyPath(key string) []string {
	var path []string
	for key != "" {
		end := 0
		switch {
		case key[0] == '.':
			end = 1
		case key[0] == '"':
			quoted, err := strconv.QuotedPrefix(key)
			if err != nil {
				return append(path, key)
			}
			unquoted, _ := strconv.Unquote(quoted)
			path, end = append(path, unquoted), len(quoted)
		case strings.HasPrefix(key, " ("):
			// The entry's name, added for the reader.
			end = strings.IndexByte(key, ')') + 1
		case key[0] == '[':
			end = strings.IndexByte(key, ']') + 1
			path = append(path, key[:end])
		default:
			end = len(key)
			if i := strings.IndexAny(key[1:], ".[ "); i >= 0 {
				end = i + 1
			}
			path = append(path, key[:end])
		}
		if end <= 0 {
			return append(path, key)
		}
		key = key[end:]
	}
	return path
}
