// Package fields is a stand-in for labkit's standard log field names.
package fields

// Log field names gitlab-runner uses.
const (
	HTTPStatusCode = "status_code"
	DurationS      = "duration_s"
)

// DeprecatedField names the standard field that replaces a legacy one.
type DeprecatedField struct {
	Standard string
}

// Deprecated maps legacy field names to their replacements: none here, so
// gitlab-runner keeps its legacy names.
var Deprecated = map[string]DeprecatedField{}

// VariantVersion is the schema version that introduced each standard field.
var VariantVersion = map[string]int{}

// ServiceMapping is empty: no field is renamed.
var ServiceMapping = map[string]string{}
