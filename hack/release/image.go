package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// The image is written with the standard library alone: an OCI image
// layout is four small JSON documents and a tar, and go-containerregistry
// (crane, mutate) would add its dependency tree to go.mod for that. The
// archive is an OCI image layout in a tar (skopeo's and podman's
// oci-archive:), with Docker's manifest.json beside it so that
// `docker load` takes it too.

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	// BinaryPath is where the binary is in the image, the layer's one entry.
	BinaryPath = "k8sdrv"
)

// Image is what the archive is made from.
type Image struct {
	Binary, Arch, Version, Commit string
	Created                       time.Time
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is a descriptor's and a config's OS and architecture.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Index is an OCI image layout's index.json.
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// Config is the part of an OCI image config that k8sdrv's image sets.
type Config struct {
	Created time.Time `json:"created"`
	Platform
	Config struct {
		Entrypoint []string          `json:"Entrypoint"`
		User       string            `json:"User"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []History `json:"history"`
}

// History is one step of a config's history.
type History struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// blob is content and its descriptor.
type blob struct {
	desc Descriptor
	data []byte
}

func newBlob(mediaType string, data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{Descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}, data}
}

func jsonBlob(mediaType string, v any) (blob, error) {
	data, err := json.Marshal(v)
	return newBlob(mediaType, data), err
}

// writeImage writes the archive of img to w.
func writeImage(w io.Writer, img Image) error {
	bin, err := os.ReadFile(img.Binary)
	if err != nil {
		return err
	}
	layerTar, err := tarOf(img.Created, tarFile{BinaryPath, 0o755, bin})
	if err != nil {
		return err
	}
	layer := newBlob(mediaLayer, gzipOf(layerTar))
	platform := Platform{Architecture: img.Arch, OS: "linux"}
	if img.Arch == "arm64" {
		platform.Variant = "v8"
	}
	labels := img.labels()
	config, err := jsonBlob(mediaConfig, img.config(platform, labels, newBlob("", layerTar).desc.Digest))
	if err != nil {
		return err
	}
	manifest, err := jsonBlob(mediaManifest, Manifest{
		SchemaVersion: 2, MediaType: mediaManifest,
		Config: config.desc, Layers: []Descriptor{layer.desc}, Annotations: labels,
	})
	if err != nil {
		return err
	}
	top := manifest.desc
	top.Platform = &platform
	top.Annotations = map[string]string{"org.opencontainers.image.ref.name": img.Version}
	index, err := json.Marshal(Index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []Descriptor{top}})
	if err != nil {
		return err
	}
	docker, err := json.Marshal([]map[string]any{{
		"Config":   blobPath(config),
		"RepoTags": []string{"k8sdrv:" + img.Version},
		"Layers":   []string{blobPath(layer)},
	}})
	if err != nil {
		return err
	}
	files := []tarFile{
		{"oci-layout", 0o644, []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", 0o644, index},
		{"manifest.json", 0o644, docker},
	}
	for _, b := range []blob{layer, config, manifest} {
		files = append(files, tarFile{blobPath(b), 0o644, b.data})
	}
	archive, err := tarOf(img.Created, files...)
	if err != nil {
		return err
	}
	_, err = w.Write(archive)
	return err
}

// labels are the image's OCI annotations, on its config and manifest.
func (img Image) labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "k8sdrv",
		"org.opencontainers.image.version":  img.Version,
		"org.opencontainers.image.revision": img.Commit,
		"org.opencontainers.image.created":  img.Created.Format(time.RFC3339),
	}
}

// config is the image's configuration: the binary as entrypoint, run as
// an unprivileged user, over one layer (diffID: its uncompressed digest).
func (img Image) config(platform Platform, labels map[string]string, diffID string) Config {
	cfg := Config{Created: img.Created, Platform: platform}
	cfg.Config.Entrypoint = []string{"/" + BinaryPath}
	cfg.Config.User = "65532:65532"
	cfg.Config.Labels = labels
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{diffID}
	cfg.History = []History{{img.Created, "make release: hack/release image"}}
	return cfg
}

func blobPath(b blob) string {
	return "blobs/sha256/" + b.desc.Digest[len("sha256:"):]
}

type tarFile struct {
	name string
	mode int64
	data []byte
}

// tarOf is a tar of files in their order, owned by root, all at mtime.
func tarOf(mtime time.Time, files ...tarFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
	}
	err := tw.Close()
	return buf.Bytes(), err
}

// gzipOf compresses without a name or time in the header, so the same tar
// always gives the same bytes.
func gzipOf(data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(data) // a bytes.Buffer takes every write
	zw.Close()
	return buf.Bytes()
}
