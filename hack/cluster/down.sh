#!/usr/bin/env bash
# Stops and deletes the local KWOK test cluster. Safe to run when it is absent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
select_cluster down "$@"

# Lists processes still running from this cluster's kwokctl work directory,
# which every component has on its command line.
leftovers() {
  pgrep -af -- "$KWOK_WORKDIR/clusters/$CLUSTER_NAME/" || true
}

main() {
  if [ -x "$CLUSTER_BIN/kwokctl" ] && cluster_exists; then
    log "deleting cluster $CLUSTER_NAME"
    run_kwokctl delete cluster --name "$CLUSTER_NAME" >&2
  else
    log "cluster $CLUSTER_NAME does not exist"
  fi
  rm -f "$KUBECONFIG_FILE" "$APPLIED_CONFIG"
  # Only empty directories go; anything a test left in the exec directory stays.
  rmdir "$EXEC_WORKDIR" "$KWOK_WORKDIR/clusters" "$KWOK_WORKDIR" "$CLUSTER_DIR" 2>/dev/null || true
  # Components may take a moment to exit after kwokctl has signalled them.
  local left deadline=$((SECONDS + 10))
  while left=$(leftovers) && [ -n "$left" ] && ((SECONDS < deadline)); do sleep 0.5; done
  if [ -n "$left" ]; then
    log "processes of cluster $CLUSTER_NAME are still running:"
    printf '%s\n' "$left" >&2
    return 1
  fi
}

main "$@"
