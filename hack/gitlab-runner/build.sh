#!/usr/bin/env bash
# Builds gitlab-runner (run and run-single with the custom executor) from the Go module
# proxy for k8sdrv's e2e suite, once per version: into
# $K8SDRV_CACHE/gitlab-runner-<version>-<sources>/gitlab-runner, built again only
# when the version or this directory's sources change. Progress goes to stderr; the last
# stdout line is the binary's absolute path. The binary is built into a
# temporary name and renamed, so an interrupted build never leaves a
# half-written binary that later runs would trust.
#
# The version is the one go.mod requires (bump it there, then `go mod tidy -e`).
# See NOTES.md for what this build leaves out and why.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf 'gitlab-runner: %s\n' "$*" >&2; }

module=gitlab.com/gitlab-org/gitlab-runner
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
cache=${K8SDRV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8sdrv}
case $cache in /*) ;; *) cache=$PWD/$cache ;; esac
# main.go and the stand-in modules are ours: a change to them rebuilds too.
# They are part of the directory's name, so that worktrees on branches with
# different sources each keep their own build instead of rebuilding over
# each other.
sources=$(cd "$here" && find main.go go.mod go.sum stubs -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
dir=$cache/gitlab-runner-$version-$sources
bin=$dir/gitlab-runner

if [ ! -x "$bin" ] || [ "$(cat "$dir/sources" 2>/dev/null)" != "$sources" ]; then
  mkdir -p "$dir"
  log "downloading modules"
  (cd "$here" && go mod download "$module")
  # The release number of that commit, as gitlab-runner's own build stamps it.
  release=$(cat "$(cd "$here" && go list -m -f '{{.Dir}}' "$module")/VERSION")
  revision=${version##*-}
  stamp="-s -w -X $module/common.VERSION=$release -X $module/common.REVISION=${revision:0:8} -X $module/common.BRANCH=main"
  log "building $module@$version ($release); this happens once per version"
  start=$SECONDS
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "$stamp" -o "$dir/.gitlab-runner.tmp" .)
  mv "$dir/.gitlab-runner.tmp" "$bin"
  echo "$sources" >"$dir/.sources.tmp"
  mv "$dir/.sources.tmp" "$dir/sources"
  log "built $bin in $((SECONDS - start))s"
fi
echo "$bin"
