package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// imageReference is the grammar of a container image reference, as the
// distribution project specifies it (and containerd and Docker apply at
// pull time):
//
//	reference := name [ ":" tag ] [ "@" digest ]
//	name      := [ domain "/" ] path-component [ "/" path-component ]*
//	domain    := host [ ":" port ], host a DNS name, IPv4 or [IPv6]
//	path-component := [a-z0-9]+ ( ( [_.] | __ | -+ ) [a-z0-9]+ )*
//	tag       := [\w][\w.-]{0,127}
//	digest    := algorithm ":" hex{32,}
//
// It is compiled on first use, not at process start: every stage is a new
// k8sdrv process, and the library that holds these expressions compiles
// them in its init, about 3 ms per process. config_test.go checks this
// copy against that library.
var imageReference = sync.OnceValue(func() *regexp.Regexp {
	const (
		alnum      = `[a-z0-9]+`
		separator  = `(?:[._]|__|-+)`
		component  = alnum + `(?:` + separator + alnum + `)*`
		domainPart = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		host       = `(?:` + domainPart + `(?:\.` + domainPart + `)*|\[(?:[a-fA-F0-9:]+)\])`
		domain     = host + `(?::[0-9]+)?`
		tag        = `[\w][\w.-]{0,127}`
		digest     = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^((?:` + domain + `/)?` + component + `(?:/` + component + `)*)(?::(` + tag + `))?(?:@(` + digest + `))?$`)
})

// CheckImageName reports whether name is a container image reference the
// runtime can pull: lower-case repository, no spaces, a valid tag or
// digest ("registry.example.com:5000/group/app:1.2", "alpine"). It reads
// the name as containerd and Docker do: a first component without "." or
// ":" (and not "localhost", and lower-case) is part of the repository on
// the default registry, not a registry host.
func CheckImageName(name string) error {
	if len(name) == 64 && strings.Trim(name, "0123456789abcdef") == "" {
		return errors.New("not a valid image reference: 64 hexadecimal digits name an image ID, not a repository")
	}
	domain, remainder := splitRegistry(name)
	remote, _, _ := strings.Cut(remainder, ":")
	if strings.ToLower(remote) != remote {
		return errors.New("not a valid image reference: the repository name must be lower-case")
	}
	m := imageReference().FindStringSubmatch(domain + "/" + remainder)
	if m == nil {
		return errors.New("not a valid image reference")
	}
	if path := len(m[1]) - len(domain) - 1; path > 255 {
		return fmt.Errorf("not a valid image reference: the repository name has %d characters, more than 255", path)
	}
	if m[3] != "" {
		algorithm, hex, _ := strings.Cut(m[3], ":")
		if n, ok := digestLengths[algorithm]; !ok || len(hex) != n || strings.Trim(hex, "0123456789abcdef") != "" {
			return fmt.Errorf("not a valid image reference: %q is not a sha256, sha384 or sha512 digest", m[3])
		}
	}
	return nil
}

// digestLengths are the digest algorithms registries use, with the length
// of their lower-case hex encoding.
var digestLengths = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

// splitRegistry splits name into its registry host and the rest, with the
// default registry's "library/" for a one-component name on it.
func splitRegistry(name string) (domain, rest string) {
	first, after, found := strings.Cut(name, "/")
	switch {
	case !found:
		return "docker.io", "library/" + name
	case first == "localhost", strings.ContainsAny(first, ".:"), strings.ToLower(first) != first:
		domain, rest = first, after
	default:
		domain, rest = "docker.io", name
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return domain, rest
}
