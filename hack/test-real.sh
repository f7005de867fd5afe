#!/usr/bin/env bash
# make test-real: the e2e suite on the real single-node cluster. When the
# cluster is not already running, this brings it up, runs the suite, takes
# it down again and fails unless the host is exactly as it was before
# (hack/cluster/hostcheck.sh); a cluster that was already up is left up.
# With K8SDRV_REAL_OPTIONAL=1 a cluster that cannot start is a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${K8SDRV_BINARY:-$PWD/bin/k8sdrv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=cluster/real-env.sh
cluster_dir=$(source hack/cluster/real-env.sh && echo "$CLUSTER_DIR")
was_up=false
if pgrep -f -- "$cluster_dir/" >/dev/null; then
  was_up=true
else
  hack/cluster/hostcheck.sh >"$work/before"
fi

if ! line=$(CLUSTER=real hack/cluster/up.sh | tail -n1) || [ -z "$line" ]; then
  # K8SDRV_REAL_OPTIONAL=1 (set by .ci/run): a machine that cannot run a
  # real node skips these tests, loudly, instead of failing them.
  if [ "${K8SDRV_REAL_OPTIONAL:-}" = 1 ]; then
    echo "test-real: SKIPPED: this machine could not start the real single-node cluster (log above)" >&2
    exit 0
  fi
  echo "test-real: the real single-node cluster did not start (log above)" >&2
  exit 1
fi
status=0
K8SDRV_BINARY=$BIN K8SDRV_E2E_KUBECONFIG=${line#KUBECONFIG=} \
  K8SDRV_E2E_IMAGE=k8sdrv.local/debian:1 K8SDRV_E2E_HELPER_IMAGE=k8sdrv.local/debian:1 \
  K8SDRV_E2E_PULL_POLICY=never go test -count=1 -timeout 20m ./e2e/... || status=$?

if ! $was_up; then
  CLUSTER=real hack/cluster/down.sh
  hack/cluster/hostcheck.sh >"$work/after"
  if ! diff -u "$work/before" "$work/after"; then
    echo "test-real: the host differs from before the cluster started (above)" >&2
    status=1
  else
    echo "test-real: the host is as it was before the cluster started" >&2
  fi
fi
exit "$status"
