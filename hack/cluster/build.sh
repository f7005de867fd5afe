#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go module proxy, once.
# `build.sh control-plane` builds only etcd, the control plane and kubectl
# (what the real cluster of real-build.sh needs), not kwok.
# Each binary is built into a temporary name and renamed, so an interrupted
# build never leaves a half-written binary that later runs would trust.
set -euo pipefail
source "$(dirname "$0")/env.sh"

mkdir -p "$CLUSTER_BIN"
stamp="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"

build() { # name package
  local name=$1 pkg=$2
  [ -x "$CLUSTER_BIN/$name" ] && return 0
  log "building $name ($pkg); this happens once per version"
  local start=$SECONDS
  (cd "$HACK_CLUSTER/tools" && CGO_ENABLED=0 go build -trimpath -ldflags "$stamp" -o "$CLUSTER_BIN/.$name.tmp" "$pkg")
  mv "$CLUSTER_BIN/.$name.tmp" "$CLUSTER_BIN/$name"
  log "built $name in $((SECONDS - start))s"
}

install_kwok() { # name
  local name=$1
  [ -x "$CLUSTER_BIN/$name" ] && return 0
  log "building $name $KWOK_VERSION"
  local tmp
  tmp=$(mktemp -d)
  GOBIN=$tmp CGO_ENABLED=0 go install -trimpath "sigs.k8s.io/kwok/cmd/$name@$KWOK_VERSION"
  mv "$tmp/$name" "$CLUSTER_BIN/$name"
  rmdir "$tmp"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
# kwokctl probes the cluster with kubectl, and up.sh creates the node with it;
# a fresh machine may have none, and kwokctl would try to download one.
build kubectl k8s.io/kubernetes/cmd/kubectl
if [ "${1:-}" != control-plane ]; then
  install_kwok kwok
  install_kwok kwokctl
fi
log "binaries ready in $CLUSTER_BIN"
