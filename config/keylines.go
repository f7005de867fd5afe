package config

import (
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// The toml package knows the line of every key but keeps it to itself
// (only its own decoding errors carry one), and it does not tell the
// entries of an array of tables apart. keyIndex finds the lines again, so
// that problems found after decoding (unknown keys, invalid values) can
// point at the line the operator wrote.

// keyLine is one key the file defines and the line it is defined on. An
// entry of an array of tables adds its index as a segment: the name in the
// second [[volumes.pvc]] table is volumes, pvc, [1], name.
type keyLine struct {
	path []string
	line int
}

// keyIndex lists the keys of a document in file order. Keys inside inline
// tables and arrays are not listed: the line of their key stands for them.
type keyIndex []keyLine

// indexSegment is the path segment of an array entry, the way problems
// name it ("volumes.pvc[1].name").
func indexSegment(i int) string { return "[" + strconv.Itoa(i) + "]" }

// lineOf returns the line of path or, failing that, of its nearest
// ancestor at least min segments long; 0 if the file defines neither.
func (ix keyIndex) lineOf(path []string, min int) int {
	for n := len(path); n >= max(min, 1); n-- {
		for _, k := range ix {
			if slices.Equal(k.path, path[:n]) {
				return k.line
			}
		}
	}
	return 0
}

// linesOf returns every line that sets key, in any entry of an array of
// tables (the toml package names keys without the entry's index), or else
// the lines of its nearest ancestor: a key inside an inline table has the
// line of the table's key.
func (ix keyIndex) linesOf(key toml.Key) []int {
	for n := len(key); n > 0; n-- {
		var lines []int
		for _, k := range ix {
			plain := slices.DeleteFunc(slices.Clone(k.path), func(s string) bool { return strings.HasPrefix(s, "[") })
			if slices.Equal(plain, key[:n]) {
				lines = append(lines, k.line)
			}
		}
		if len(lines) > 0 {
			return lines
		}
	}
	return nil
}

// indexKeys scans a document the toml package has already parsed. On
// anything it does not understand it stops, keeping the lines found so
// far: a line is a help, never a condition for reporting a problem.
func indexKeys(doc string) keyIndex {
	s := lineScanner{doc: doc, line: 1, arrays: map[string]int{}}
	for s.skipBlank(); s.pos < len(s.doc); s.skipBlank() {
		line := s.line
		var ok bool
		switch {
		case s.consume("[["):
			ok = s.header(line, "]]")
		case s.consume("["):
			ok = s.header(line, "]")
		default:
			ok = s.keyValue(line)
		}
		if !ok {
			break
		}
	}
	return s.keys
}

type lineScanner struct {
	doc    string
	pos    int
	line   int
	table  []string       // the path of the current [table]
	arrays map[string]int // entries so far of each array of tables
	keys   keyIndex
}

func (s *lineScanner) header(line int, closing string) bool {
	segs, ok := s.key()
	if !ok || !s.consume(closing) {
		return false
	}
	s.table = s.resolve(segs, closing == "]]")
	s.keys = append(s.keys, keyLine{path: s.table, line: line})
	return true
}

// resolve turns a header's key into a path: a parent that is an array of
// tables means its latest entry, and a new [[array]] entry takes the next
// index.
func (s *lineScanner) resolve(segs []string, array bool) []string {
	var path []string
	for i, seg := range segs {
		path = append(path, seg)
		id := strings.Join(path, "\x00")
		n, isArray := s.arrays[id]
		switch {
		case i == len(segs)-1 && array:
			s.arrays[id] = n + 1
			path = append(path, indexSegment(n))
		case i < len(segs)-1 && isArray:
			path = append(path, indexSegment(n-1))
		}
	}
	return path
}

func (s *lineScanner) keyValue(line int) bool {
	segs, ok := s.key()
	if !ok || !s.consume("=") {
		return false
	}
	s.keys = append(s.keys, keyLine{path: append(slices.Clone(s.table), segs...), line: line})
	return s.skipValue()
}

// key reads a dotted key: bare, "basic" or 'literal' segments.
func (s *lineScanner) key() ([]string, bool) {
	var segs []string
	for {
		s.skipSpace()
		start := s.pos
		switch {
		case s.peek('"'):
			if !s.skipString() {
				return nil, false
			}
			seg, err := strconv.Unquote(s.doc[start:s.pos])
			if err != nil {
				seg = s.doc[start+1 : s.pos-1] // a TOML escape Go does not know
			}
			segs = append(segs, seg)
		case s.peek('\''):
			if !s.skipString() {
				return nil, false
			}
			segs = append(segs, s.doc[start+1:s.pos-1])
		default:
			for s.pos < len(s.doc) && isBareKeyChar(s.doc[s.pos]) {
				s.pos++
			}
			if s.pos == start {
				return nil, false
			}
			segs = append(segs, s.doc[start:s.pos])
		}
		s.skipSpace()
		if !s.consume(".") {
			return segs, true
		}
	}
}

// skipValue moves past a value, which arrays, inline tables and
// multi-line strings can spread over several lines.
func (s *lineScanner) skipValue() bool {
	depth := 0
	for s.pos < len(s.doc) {
		switch c := s.doc[s.pos]; {
		case c == '"' || c == '\'':
			if !s.skipString() {
				return false
			}
			continue
		case c == '#':
			s.skipComment()
			continue
		case c == '\n' && depth <= 0:
			return true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		}
		s.advance(1)
	}
	return true
}

// skipString moves past a basic or literal string, single- or multi-line.
func (s *lineScanner) skipString() bool {
	quote := s.doc[s.pos : s.pos+1]
	escapes := quote == `"`
	multi := strings.HasPrefix(s.doc[s.pos:], strings.Repeat(quote, 3))
	if multi {
		s.advance(3)
	} else {
		s.advance(1)
	}
	for s.pos < len(s.doc) {
		switch {
		case escapes && s.peek('\\'):
			s.advance(2)
		case multi && strings.HasPrefix(s.doc[s.pos:], strings.Repeat(quote, 3)):
			s.advance(3)
			// Up to two more quotes are part of the string.
			for i := 0; i < 2 && strings.HasPrefix(s.doc[s.pos:], quote); i++ {
				s.advance(1)
			}
			return true
		case !multi && strings.HasPrefix(s.doc[s.pos:], quote):
			s.advance(1)
			return true
		case !multi && s.peek('\n'):
			return false
		default:
			s.advance(1)
		}
	}
	return false
}

func (s *lineScanner) skipBlank() {
	for s.pos < len(s.doc) {
		switch s.doc[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.advance(1)
		case '#':
			s.skipComment()
		default:
			return
		}
	}
}

func (s *lineScanner) skipComment() {
	for s.pos < len(s.doc) && s.doc[s.pos] != '\n' {
		s.pos++
	}
}

func (s *lineScanner) skipSpace() {
	for s.pos < len(s.doc) && (s.doc[s.pos] == ' ' || s.doc[s.pos] == '\t') {
		s.pos++
	}
}

func (s *lineScanner) advance(n int) {
	for ; n > 0 && s.pos < len(s.doc); n-- {
		if s.doc[s.pos] == '\n' {
			s.line++
		}
		s.pos++
	}
}

func (s *lineScanner) peek(c byte) bool { return s.pos < len(s.doc) && s.doc[s.pos] == c }

func (s *lineScanner) consume(prefix string) bool {
	if !strings.HasPrefix(s.doc[s.pos:], prefix) {
		return false
	}
	s.pos += len(prefix)
	return true
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
