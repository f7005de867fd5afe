package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version, commit and date are stamped at build time (see the Makefile):
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<sha> -X main.date=<commit time>"
//
// date is the commit's time, not the build's, so that the same commit
// builds the same binary. Unstamped builds (go install, go run) fall back
// to the VCS settings Go records in the binary.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// buildFacts is what `k8sdrv version` reports.
type buildFacts struct {
	Version, Commit, Date, Go, ClientGo, Platform string
}

// readBuildFacts reads the stamped values and, from the binary's own build
// information, the client-go it was built with: never a copy of go.mod
// that could drift from what was linked.
func readBuildFacts() buildFacts {
	f := buildFacts{
		Version:  version,
		Commit:   commit,
		Date:     date,
		Go:       runtime.Version(),
		ClientGo: "unknown",
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return f
	}
	for _, dep := range info.Deps {
		if dep.Path == "k8s.io/client-go" {
			f.ClientGo = dep.Version
			if dep.Replace != nil {
				f.ClientGo = dep.Replace.Version
			}
		}
	}
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && f.Commit == "":
			f.Commit = s.Value
		case s.Key == "vcs.time" && f.Date == "":
			f.Date = s.Value
		}
	}
	return f
}

// printVersion is urfave/cli's VersionPrinter (`--version`) and the
// action of `k8sdrv version`.
func printVersion(c *cli.Context) {
	f := readBuildFacts()
	fmt.Fprintf(c.App.Writer, "k8sdrv %s\n", f.Version)
	for _, line := range [][2]string{
		{"commit", orUnknown(f.Commit)},
		{"date", orUnknown(f.Date)},
		{"go", f.Go},
		{"client-go", f.ClientGo},
		{"platform", f.Platform},
	} {
		fmt.Fprintf(c.App.Writer, "  %-10s %s\n", line[0]+":", line[1])
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func init() {
	cli.VersionPrinter = printVersion
}
