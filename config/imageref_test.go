package config

import (
	"testing"

	"github.com/distribution/reference"
	"gotest.tools/v3/assert"
)

var imageNames = []string{
	"alpine", "alpine:3.20", "ALPINE", "Alpine:3", "alpine 3", "", ":3", "alpine:", "alpine@", "a/b/c/d",
	"registry.example.com:5000/group/app:1.2", "Registry.example.com/app:1", "registry.example.com/App:1",
	"localhost:5000/x", "[::1]:5000/x:y", "127.0.0.1/x", "x__y", "x___y", "x..y", "x--y", "x-", "-x", "x/",
	"docker.io/library/postgres@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"postgres:16@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"postgres@sha256:0123", "postgres:16:1", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"a:" + string(make([]byte, 0)) + "tag-with.dots_and-dashes", "a:-tag", "a:.tag", "ex ample/x",
}

// TestCheckImageNameAgreesWithTheDistributionParser: the grammar above is
// the one containerd and Docker apply; this holds it to their parser.
func TestCheckImageNameAgreesWithTheDistributionParser(t *testing.T) {
	for _, name := range imageNames {
		_, want := reference.ParseNormalizedNamed(name)
		got := CheckImageName(name)
		assert.Equal(t, got == nil, want == nil, "%q: k8sdrv %v, distribution %v", name, got, want)
	}
}

func FuzzCheckImageName(f *testing.F) {
	for _, name := range imageNames {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		_, want := reference.ParseNormalizedNamed(name)
		got := CheckImageName(name)
		if (got == nil) != (want == nil) {
			t.Fatalf("%q: k8sdrv %v, distribution %v", name, got, want)
		}
	})
}
