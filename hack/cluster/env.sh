# Shared settings for the local test cluster scripts; sourced, not run.
# shellcheck shell=bash disable=SC2034 # variables are used by the scripts that source this
# Versions are part of the cache path, so a bump rebuilds into a new directory.
K8S_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
CLUSTER_NAME=${CLUSTER_NAME:-k8sdrv}
K8SDRV_CACHE=${K8SDRV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8sdrv}
case $K8SDRV_CACHE in /*) ;; *) K8SDRV_CACHE=$PWD/$K8SDRV_CACHE ;; esac # paths end up in kubeconfigs and kwok configs
CLUSTER_BIN=$K8SDRV_CACHE/cluster-$K8S_VERSION-kwok-$KWOK_VERSION/bin
CLUSTER_DIR=${CLUSTER_DIR:-$K8SDRV_CACHE/clusters/$CLUSTER_NAME}
case $CLUSTER_DIR in /*) ;; *) CLUSTER_DIR=$PWD/$CLUSTER_DIR ;; esac
HACK_CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KWOK_WORKDIR=$CLUSTER_DIR/kwok
log() { printf 'cluster: %s\n' "$*" >&2; }

KUBECONFIG_FILE=$CLUSTER_DIR/kubeconfig
# The config the running cluster was created from; a different config forces a re-create.
APPLIED_CONFIG=$CLUSTER_DIR/kwok-config.yaml
# Working directory of every `kubectl exec` process (kwok runs them on this host).
EXEC_WORKDIR=$CLUSTER_DIR/exec
NODE_NAME=${NODE_NAME:-kwok-node-0}
# How many simulated nodes the KWOK cluster has (make bench-scale uses 100).
NODES=${NODES:-1}
case $NODES in '' | *[!0-9]* | 0*)
  echo "cluster: NODES=$NODES is not a positive whole number" >&2
  exit 2
  ;;
esac

# kwokctl probes the cluster with `kubectl` from PATH and otherwise downloads one,
# so our own kubectl goes first. The environment is reset because kwokctl's
# children (kwok itself) inherit it, and kwok hands it on to every exec'd
# command: tests should not see the caller's variables there.
run_kwokctl() {
  env -i HOME="$HOME" PATH="$CLUSTER_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    KWOK_WORKDIR="$KWOK_WORKDIR" KWOK_KUBECTL_BINARY="$CLUSTER_BIN/kubectl" KWOK_KUBE_VERSION="$K8S_VERSION" \
    "$CLUSTER_BIN/kwokctl" "$@"
}

# kubectl against the local cluster, with a timeout so a dead apiserver fails fast.
kc() { "$CLUSTER_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" --request-timeout=10s "$@"; }

# True if kwokctl knows a cluster of this name (running or not).
cluster_exists() { run_kwokctl get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; }

# Retries a command every half second until it succeeds or the timeout
# (seconds) passes.
wait_for() { # seconds what command...
  local timeout=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

node_ready() {
  [ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

apiserver_ok() { [ "$(kc get --raw /healthz 2>/dev/null)" = ok ]; }

default_sa() { kc get serviceaccount default -n default; }

# select_cluster ACTION ARGS...: CLUSTER=real hands ACTION (up or down) to
# the real single-node cluster's real-ACTION.sh; the default is KWOK, which
# the calling script goes on with.
select_cluster() {
  local action=$1
  shift
  case ${CLUSTER:-kwok} in
    kwok) ;;
    real) exec "$HACK_CLUSTER/real-$action.sh" "$@" ;;
    *)
      echo "cluster: unknown CLUSTER=$CLUSTER (kwok or real)" >&2
      exit 2
      ;;
  esac
}
