// Command release writes make release's artifacts that Go's toolchain does
// not: a container image archive that holds only the k8sdrv binary, and an
// SBOM of the Go modules linked into a binary. Both are byte-for-byte the
// same for the same inputs, so that a release can be rebuilt and compared.
//
//	go run ./hack/release image -binary FILE -arch amd64 -version V -commit SHA -created TIME -o FILE.oci.tar
//	go run ./hack/release sbom -binary FILE -version V -created TIME -o FILE.cdx.json
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("want a command: image or sbom")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	binary := fs.String("binary", "", "the k8sdrv binary")
	out := fs.String("o", "", "the file to write")
	created := fs.String("created", "", "the commit's time (RFC 3339): the image's and the SBOM's timestamp")
	arch := fs.String("arch", "", "image: the binary's GOARCH")
	version := fs.String("version", "", "k8sdrv's version")
	commit := fs.String("commit", "", "image: the commit built")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *binary == "" || *out == "" || *created == "" {
		return fmt.Errorf("%s: -binary, -o and -created are required", args[0])
	}
	when, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	switch args[0] {
	case "image":
		return writeFile(*out, func(f *os.File) error {
			return writeImage(f, Image{Binary: *binary, Arch: *arch, Version: *version, Commit: *commit, Created: when.UTC()})
		})
	case "sbom":
		return writeFile(*out, func(f *os.File) error { return writeSBOM(f, *binary, *version, when.UTC()) })
	}
	return fmt.Errorf("unknown command %q: want image or sbom", args[0])
}

// writeFile writes path through write, leaving no partial file behind.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
