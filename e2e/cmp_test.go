package e2e

import (
	"github.com/google/go-cmp/cmp"
)

// cmpOptionIgnoreVersion compares driver info without its version, which
// depends on how the binary was built.
func cmpOptionIgnoreVersion() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		if len(p) == 0 {
			return false
		}
		mi, ok := p.Last().(cmp.MapIndex)
		return ok && mi.Key().String() == "version"
	}, cmp.Ignore())
}
