#!/usr/bin/env bash
# Starts the local KWOK test cluster, or reuses it if it is already healthy.
# Progress goes to stderr; the last stdout line is KUBECONFIG=<absolute path>,
# so callers can do: eval "export $(hack/cluster/up.sh | tail -n1)".
set -euo pipefail
source "$(dirname "$0")/env.sh"
select_cluster up "$@"

NEW_CONFIG=$CLUSTER_DIR/kwok-config.new.yaml

# Healthy means: created from the same config, apiserver answers, exactly
# NODES simulated nodes are Ready, pods can be created (the default
# ServiceAccount exists) and a pod gets scheduled and runs.
healthy() {
  [ -s "$KUBECONFIG_FILE" ] && [ -s "$APPLIED_CONFIG" ] || return 1
  cmp -s "$NEW_CONFIG" "$APPLIED_CONFIG" || { log "cluster config changed"; return 1; }
  [ "$(kc get --raw /healthz 2>/dev/null)" = ok ] || return 1
  nodes_ready || { log "want $NODES Ready simulated node(s)"; return 1; }
  kc get serviceaccount default -n default >/dev/null 2>&1 || return 1
  probe_pod 20
}

# nodes_ready: the cluster has exactly NODES simulated nodes, all Ready.
nodes_ready() {
  local ready
  ready=$(kc get nodes -l type=kwok -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null) || return 1
  [ "$(grep -c . <<<"$ready")" = "$NODES" ] && ! grep -qvx True <<<"$ready"
}

PROBE_POD=k8sdrv-cluster-probe

# probe_pod SECONDS: a pod in namespace default must be scheduled onto the node and
# reported Running (by kwok) within SECONDS, then it is deleted again. Proves
# the scheduler and kwok's controller work before any test relies on them.
probe_pod() {
  local timeout=$1
  kc delete pod -n default "$PROBE_POD" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  kc apply -f - >/dev/null <<EOF || return 1
apiVersion: v1
kind: Pod
metadata:
  name: $PROBE_POD
  namespace: default
spec:
  containers:
  - name: probe
    image: k8sdrv-probe:1
  terminationGracePeriodSeconds: 0
EOF
  if ! wait_for "$timeout" "probe pod $PROBE_POD to run" probe_running; then
    log "probe pod: $(kc get pod -n default "$PROBE_POD" -o 'jsonpath={.status.phase} {.status.conditions}' 2>&1)"
    kc delete pod -n default "$PROBE_POD" --ignore-not-found --wait=false >/dev/null 2>&1 || true
    return 1
  fi
  kc delete pod -n default "$PROBE_POD" --wait=true >/dev/null
}

probe_running() {
  [ "$(kc get pod -n default "$PROBE_POD" -o 'jsonpath={.status.phase}' 2>/dev/null)" = Running ]
}


create_cluster() {
  # An existing cluster that is not healthy starts over from an empty etcd:
  # kwokctl would otherwise keep its old config and "continue" it with the
  # previous run's pods, node status and leader leases, where a scheduler
  # can sit for minutes without taking new pods.
  if cluster_exists; then
    log "deleting the stopped or unhealthy cluster $CLUSTER_NAME to start it fresh"
    run_kwokctl delete cluster --name "$CLUSTER_NAME" >&2
  fi
  rm -f "$APPLIED_CONFIG"
  log "starting cluster $CLUSTER_NAME (kwokctl, binary runtime)"
  # --kubeconfig '' keeps kwokctl away from ~/.kube/config; we write our own file.
  run_kwokctl create cluster --name "$CLUSTER_NAME" --runtime binary -c "$NEW_CONFIG" \
    --kubeconfig '' \
    --etcd-binary "$CLUSTER_BIN/etcd" \
    --kube-apiserver-binary "$CLUSTER_BIN/kube-apiserver" \
    --kube-controller-manager-binary "$CLUSTER_BIN/kube-controller-manager" \
    --kube-scheduler-binary "$CLUSTER_BIN/kube-scheduler" \
    --kwok-controller-binary "$CLUSTER_BIN/kwok" \
    --timeout 3m --wait 2m >&2
}

write_kubeconfig() {
  run_kwokctl get kubeconfig --name "$CLUSTER_NAME" >"$KUBECONFIG_FILE.tmp"
  mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
}

# NODES fake nodes that kwok manages (selected by the annotation kwokctl
# gives kwok), one List in one apply: NODE_NAME, then kwok-node-1,
# kwok-node-2, ... No taint, so ordinary pods schedule onto them.
apply_nodes() {
  local arch i name
  arch=$(go env GOARCH) # exec'd commands run on this host, so advertise its arch
  {
    printf 'apiVersion: v1\nkind: List\nitems:\n'
    for ((i = 0; i < NODES; i++)); do
      name=kwok-node-$i
      ((i > 0)) || name=$NODE_NAME
      node_yaml "$name" "$arch"
    done
  } | kc apply -f - >/dev/null
}

# node_yaml NAME ARCH: one Node as an item of apply_nodes' List.
node_yaml() {
  cat <<EOF
- apiVersion: v1
  kind: Node
  metadata:
    name: $1
    annotations:
      kwok.x-k8s.io/node: fake
      node.alpha.kubernetes.io/ttl: "0"
    labels:
      kubernetes.io/os: linux
      kubernetes.io/arch: $2
      kubernetes.io/hostname: $1
      type: kwok
  status:
    allocatable:
      cpu: "32"
      memory: 256Gi
      pods: "110"
    capacity:
      cpu: "32"
      memory: 256Gi
      pods: "110"
EOF
}

# start_once creates the cluster and waits until it takes pods.
start_once() {
  create_cluster || return 1
  write_kubeconfig || return 1
  # kwokctl only warns when --wait runs out, so check the apiserver ourselves.
  wait_for 60 "kube-apiserver /healthz" apiserver_ok || return 1
  # The first apply fetches the OpenAPI schema, which a new API server on a
  # busy machine may not serve within kubectl's 10 s.
  wait_for 60 "$NODES simulated node(s) to be applied" apply_nodes || return 1
  log "$NODES simulated node(s) applied"
  wait_for 120 "$NODES simulated node(s) to be Ready" nodes_ready || return 1
  wait_for 60 "ServiceAccount default/default" default_sa || return 1
  probe_pod 60
}

# start tries three times: besides a half-created or damaged cluster
# directory, a component may exit for good while a busy machine's new API
# server is still starting (kube-controller-manager gives it 20 s).
start() {
  local start=$SECONDS attempt
  for attempt in 1 2 3; do
    if start_once; then
      cp "$NEW_CONFIG" "$APPLIED_CONFIG"
      log "cluster $CLUSTER_NAME ready in $((SECONDS - start))s"
      return 0
    fi
    log "starting cluster $CLUSTER_NAME failed (attempt $attempt of 3)"
  done
  return 1
}

main() {
  "$HACK_CLUSTER/build.sh" >&2
  mkdir -p "$CLUSTER_DIR" "$EXEC_WORKDIR"
  "$HACK_CLUSTER/config.sh" >"$NEW_CONFIG"
  if healthy; then
    log "cluster $CLUSTER_NAME is already up"
  else
    start
  fi
  rm -f "$NEW_CONFIG"
  echo "KUBECONFIG=$KUBECONFIG_FILE"
}

main "$@"
