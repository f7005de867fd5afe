package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// TestImageIsConsistentAndReproducible: the archive's index, manifest,
// config and layer agree on every digest and size, the layer holds the
// binary alone, and the same input gives the same bytes.
func TestImageIsConsistentAndReproducible(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "k8sdrv")
	assert.NilError(t, os.WriteFile(bin, []byte("#!/bin/false\nnot really k8sdrv\n"), 0o755))
	img := Image{Binary: bin, Arch: "arm64", Version: "v1.2.3", Commit: "abc", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var first, second bytes.Buffer
	assert.NilError(t, writeImage(&first, img))
	assert.NilError(t, writeImage(&second, img))

	assert.Assert(t, bytes.Equal(first.Bytes(), second.Bytes()), "two archives of one input differ")
	cfg := checkImage(t, first.Bytes(), []byte("#!/bin/false\nnot really k8sdrv\n"))
	assert.Equal(t, cfg.Architecture, "arm64")
	assert.Equal(t, cfg.Variant, "v8")
	assert.Equal(t, cfg.Config.Labels["org.opencontainers.image.version"], "v1.2.3")
	assert.Equal(t, cfg.Config.Labels["org.opencontainers.image.revision"], "abc")
	assert.DeepEqual(t, cfg.Config.Entrypoint, []string{"/k8sdrv"})
}

// checkImage checks an image archive the way a registry or runtime would
// (every digest and size against its content, the config's diff_id against
// the uncompressed layer) and that the one layer holds exactly binary, at
// /k8sdrv, executable. It returns the image's config.
func checkImage(t *testing.T, archive, binary []byte) Config {
	t.Helper()
	files := untar(t, archive)
	assert.Equal(t, string(files["oci-layout"]), `{"imageLayoutVersion":"1.0.0"}`)
	var index Index
	assert.NilError(t, json.Unmarshal(files["index.json"], &index))
	assert.Equal(t, len(index.Manifests), 1)
	var manifest Manifest
	assert.NilError(t, json.Unmarshal(blobFor(t, files, index.Manifests[0]), &manifest))
	assert.Equal(t, manifest.MediaType, mediaManifest)
	var cfg Config
	assert.NilError(t, json.Unmarshal(blobFor(t, files, manifest.Config), &cfg))
	assert.Equal(t, len(manifest.Layers), 1)
	layer := blobFor(t, files, manifest.Layers[0])

	zr, err := gzip.NewReader(bytes.NewReader(layer))
	assert.NilError(t, err)
	layerTar, err := io.ReadAll(zr)
	assert.NilError(t, err)
	assert.DeepEqual(t, cfg.RootFS.DiffIDs, []string{digest(layerTar)})
	tr := tar.NewReader(bytes.NewReader(layerTar))
	hdr, err := tr.Next()
	assert.NilError(t, err)
	assert.Equal(t, hdr.Name, BinaryPath)
	assert.Equal(t, hdr.Mode, int64(0o755))
	assert.Equal(t, hdr.Uid, 0)
	content, err := io.ReadAll(tr)
	assert.NilError(t, err)
	assert.Assert(t, bytes.Equal(content, binary), "the layer's k8sdrv is not the binary")
	_, err = tr.Next()
	assert.Equal(t, err, io.EOF, "the layer holds more than the binary")

	var docker []struct{ Config, RepoTags, Layers any }
	assert.NilError(t, json.Unmarshal(files["manifest.json"], &docker))
	assert.Equal(t, len(docker), 1)
	assert.Equal(t, docker[0].Config, "blobs/sha256/"+manifest.Config.Digest[7:])
	assert.DeepEqual(t, docker[0].Layers, []any{"blobs/sha256/" + manifest.Layers[0].Digest[7:]})
	return cfg
}

// blobFor is the blob a descriptor names, checked against its digest and size.
func blobFor(t *testing.T, files map[string][]byte, d Descriptor) []byte {
	t.Helper()
	data, ok := files["blobs/sha256/"+d.Digest[len("sha256:"):]]
	assert.Assert(t, ok, "no blob %s", d.Digest)
	assert.Equal(t, digest(data), d.Digest)
	assert.Equal(t, int64(len(data)), d.Size, d.Digest)
	return data
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func untar(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		assert.NilError(t, err)
		data, err := io.ReadAll(tr)
		assert.NilError(t, err)
		files[hdr.Name] = data
	}
}
