#!/usr/bin/env bash
# Puts an image into the running real cluster's containerd, or takes it out
# again, without a registry (for tests that build their own images):
#
#   hack/cluster/real-image.sh import <docker-save or OCI archive>
#   hack/cluster/real-image.sh remove <image name>
#
# Pods then use it with imagePullPolicy Never or IfNotPresent. Needs root,
# like the cluster.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

usage() {
  log "usage: $0 import <archive> | remove <image>"
  exit 2
}
[ $# -eq 2 ] || usage
case $1 in
import) args=(images import "$2") ;;
remove) args=(images rm "$2") ;;
*) usage ;;
esac
# ctr warns on every call that cgroup v1 is deprecated: its output is shown
# only when it fails.
if ! out=$(ctr_ "${args[@]}" 2>&1); then
  printf '%s\n' "$out" >&2
  log "ctr ${args[*]} (containerd at $CONTAINERD_SOCK) failed"
  exit 1
fi
