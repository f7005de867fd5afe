#!/usr/bin/env bash
# make test-real: the e2e suite on the real single-node cluster. The Debian
# packages the cluster runs with are installed first (real-deps.sh; they stay
# installed). When the cluster is not already running, this then takes a
# snapshot of what the cluster creates on the host (hack/cluster/hostcheck.sh),
# brings it up, runs the suite, takes it down again and fails unless the
# snapshot is the same as before; a cluster that was already up is left up.
# With K8SDRV_REAL_OPTIONAL=1 a machine that cannot install the packages or
# start the cluster is a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${K8SDRV_BINARY:-$PWD/bin/k8sdrv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# K8SDRV_REAL_OPTIONAL=1 (set by .ci/run): a machine that cannot run a real
# node skips these tests, loudly, instead of failing them.
cannot() { # what
  if [ "${K8SDRV_REAL_OPTIONAL:-}" = 1 ]; then
    echo "test-real: SKIPPED: this machine could not $1 (log above)" >&2
    exit 0
  fi
  echo "test-real: could not $1 (log above)" >&2
  exit 1
}

# Before the first snapshot, so that the packages (iptables, nft, runc, ...)
# are on both sides of the comparison.
hack/cluster/real-deps.sh || cannot "install the real cluster's Debian packages"

# shellcheck source=cluster/real-env.sh
cluster_dir=$(source hack/cluster/real-env.sh && echo "$CLUSTER_DIR")
was_up=false
if pgrep -f -- "$cluster_dir/" >/dev/null; then
  was_up=true
else
  hack/cluster/hostcheck.sh >"$work/before"
fi

if ! line=$(CLUSTER=real hack/cluster/up.sh | tail -n1) || [ -z "$line" ]; then
  cannot "start the real single-node cluster"
fi
status=0
K8SDRV_BINARY=$BIN K8SDRV_E2E_KUBECONFIG=${line#KUBECONFIG=} \
  K8SDRV_E2E_IMAGE=k8sdrv.local/debian:1 K8SDRV_E2E_HELPER_IMAGE=k8sdrv.local/debian:1 \
  K8SDRV_E2E_PULL_POLICY=never go test -count=1 -timeout 20m ./e2e/... || status=$?

if ! $was_up; then
  CLUSTER=real hack/cluster/down.sh
  hack/cluster/hostcheck.sh >"$work/after"
  if ! diff -u "$work/before" "$work/after"; then
    echo "test-real: the host differs from before the cluster started (above; hack/cluster/hostcheck.sh says what it compares)" >&2
    status=1
  else
    echo "test-real: the host is as it was before the cluster started" >&2
  fi
fi
exit "$status"
