#!/usr/bin/env bash
# Prepares everything the real cluster (CLUSTER=real) runs, once:
#   * Debian packages: runc, CNI plugins, iptables + nftables, openssl,
#     debootstrap, busybox-static (real-deps.sh: apt-get, as root);
#   * etcd, the control plane and kubectl in $CLUSTER_BIN (build.sh control-plane,
#     version-stamped so they report v1.37.2);
#   * kubelet and containerd v2 (+ shim, ctr) in $REAL_BIN.
# Every binary is built into a temporary name and renamed, so an interrupted
# build never leaves a half-written binary behind. Images: real-images.sh.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

gobuild() { # dir name module-dir package [go build flags...]
  local dir=$1 name=$2 mod=$3 pkg=$4
  shift 4
  [ -x "$dir/$name" ] && return 0
  log "building $name ($pkg); this happens once per version"
  local start=$SECONDS
  mkdir -p "$dir"
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath "$@" -o "$dir/.$name.tmp" "$pkg")
  mv "$dir/.$name.tmp" "$dir/$name"
  log "built $name in $((SECONDS - start))s"
}

check_version() { # binary expected-substring
  local out
  out=$("$1" --version 2>&1 | head -n1)
  case $out in *"$2"*) ;; *)
    log "$1 --version prints '$out', want $2 (built without the version stamp? delete it to rebuild)"
    return 1
    ;;
  esac
}

main() {
  "$HACK_CLUSTER/real-deps.sh"
  "$HACK_CLUSTER/build.sh" control-plane >&2
  local k8s_stamp="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  gobuild "$REAL_BIN" kubelet "$HACK_CLUSTER/tools" k8s.io/kubernetes/cmd/kubelet -ldflags "$k8s_stamp"
  local ctd=github.com/containerd/containerd/v2
  local ctd_flags=(-tags "no_btrfs no_devmapper no_zfs" -ldflags "-s -w -X $ctd/version.Version=${CONTAINERD_VERSION#v} -X $ctd/version.Package=$ctd")
  gobuild "$REAL_BIN" containerd "$HACK_CLUSTER/containerd" $ctd/cmd/containerd "${ctd_flags[@]}"
  gobuild "$REAL_BIN" containerd-shim-runc-v2 "$HACK_CLUSTER/containerd" $ctd/cmd/containerd-shim-runc-v2 "${ctd_flags[@]}"
  gobuild "$REAL_BIN" ctr "$HACK_CLUSTER/containerd" $ctd/cmd/ctr "${ctd_flags[@]}"
  # Clients may fail to parse the unstamped v0.0.0-master+$Format:%H$.
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler; do check_version "$CLUSTER_BIN/$b" "$K8S_VERSION"; done
  check_version "$REAL_BIN/kubelet" "$K8S_VERSION"
  check_version "$REAL_BIN/containerd" "${CONTAINERD_VERSION#v}"
  log "real-cluster binaries ready in $REAL_BIN and $CLUSTER_BIN"
}

main "$@"
