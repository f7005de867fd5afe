#!/usr/bin/env bash
# make release: static linux/amd64 and linux/arm64 binaries of k8sdrv, for
# each an image archive that holds only the binary and an SBOM of its Go
# modules, and SHA256SUMS over them all, into $DIST. The same commit gives
# the same bytes: -trimpath, no cgo, and the commit's time instead of the
# clock's (the Makefile passes VERSION, COMMIT, DATE, LDFLAGS and TAGS).
set -euo pipefail
: "${DIST:?}" "${VERSION:?}" "${COMMIT:?}" "${DATE:?}" "${LDFLAGS:?}" "${TAGS?}"
ARCHES=${ARCHES:-amd64 arm64}

rm -rf "$DIST"
mkdir -p "$DIST"
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
go build -o "$tool/release" ./hack/release

for arch in $ARCHES; do
	bin=$DIST/k8sdrv-$VERSION-linux-$arch
	echo "release: $bin"
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -tags "$TAGS" -ldflags "$LDFLAGS" -o "$bin" ./cmd/k8sdrv
	"$tool/release" image -binary "$bin" -arch "$arch" -version "$VERSION" -commit "$COMMIT" -created "$DATE" -o "$bin.oci.tar"
	"$tool/release" sbom -binary "$bin" -version "$VERSION" -created "$DATE" -o "$bin.cdx.json"
done
(cd "$DIST" && sha256sum -- k8sdrv-* >SHA256SUMS)
ls -l "$DIST"
