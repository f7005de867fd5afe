// Package value is a stand-in for moa's values.
package value

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Kind is the type of a value.
type Kind int

// The kinds.
const (
	NullKind Kind = iota
	StringKind
	NumberKind
	BoolKind
	ArrayKind
	ObjectKind
)

func (k Kind) String() string {
	return [...]string{"null", "string", "number", "bool", "array", "object"}[k]
}

// Errors of attribute lookups.
var (
	ErrAttributeNotFound = errors.New("attribute not found")
	ErrInvalidKey        = errors.New("invalid key")
)

// Mapper is an object's contents.
type Mapper interface{}

// Value holds a string, null or an opaque object.
type Value struct {
	kind  Kind
	s     string
	marks uint16
}

// Null is the null value.
func Null() Value { return Value{} }

// String makes a string value.
func String(s string) Value { return Value{kind: StringKind, s: s} }

// Object makes an object value.
func Object(Mapper) Value { return Value{kind: ObjectKind} }

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

func (v Value) String() string { return v.s }

// WithMarks returns v with marks added.
func (v Value) WithMarks(m uint16) Value { v.marks |= m; return v }

// HasMarks reports whether v carries all of m.
func (v Value) HasMarks(m uint16) bool { return v.marks&m == m }

// UnmarshalJSON accepts strings and null only.
func (v *Value) UnmarshalJSON(data []byte) error {
	var x any
	if err := json.Unmarshal(data, &x); err != nil {
		return err
	}
	switch x := x.(type) {
	case nil:
		*v = Null()
	case string:
		*v = String(x)
	default:
		return fmt.Errorf("moa value %s: only strings are supported by this gitlab-runner build (moa stand-in)", data)
	}
	return nil
}

// MarshalJSON writes strings and null.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.kind == NullKind {
		return []byte("null"), nil
	}
	return json.Marshal(v.s)
}
