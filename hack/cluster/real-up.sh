#!/usr/bin/env bash
# Starts the real single-node cluster (CLUSTER=real hack/cluster/up.sh), or
# reuses it if it is already healthy: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd (+ runc, CNI bridge) and
# kubelet as background processes of this host, with images imported from
# real-images.sh's archives. See NOTES.md, "Real cluster".
#
# Progress goes to stderr; the last stdout line is KUBECONFIG=<absolute path>.
# Needs root. real-down.sh stops it and restores the host.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

apiserver_ready() { [ "$(kc get --raw /readyz 2>/dev/null)" = ok ]; }
all_running() {
  local c
  for c in "${COMPONENTS[@]}"; do [ -n "$(component_pid "$c")" ] || return 1; done
}
anything_left() {
  local c
  for c in "${COMPONENTS[@]}"; do [ -z "$(component_pid "$c")" ] || return 0; done
  [ -d "$CLUSTER_DIR" ] || [ -d "$SHIM_SOCKET_ROOT" ]
}

healthy() {
  [ -s "$KUBECONFIG_FILE" ] && all_running && apiserver_ready && node_ready && default_sa >/dev/null 2>&1
}

# ---- host facts -----------------------------------------------------------

node_ip() {
  local ip
  ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1)
  [ -n "$ip" ] || ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 '^[0-9.]*$' || true)
  echo "${ip:-127.0.0.1}"
}

# The host's resolver for clusterDNS: there is no DNS add-on, and without
# clusterDNS kubelet warns (MissingClusterDNS) on every pod sync.
host_resolver() {
  awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ { print $2; exit }' /etc/resolv.conf 2>/dev/null || true
}

# Everything real-down.sh restores, saved once per start (a previous start's
# file is kept, as its values are the ones from before kubelet changed them).
save_host_state() {
  mkdir -p "$HOST_DIR"
  if [ ! -s "$HOST_DIR/sysctls" ]; then
    local s p
    for s in "${HOST_SYSCTLS[@]}"; do
      printf '%s=%s\n' "$s" "$(sysctl -n "$s")"
    done >"$HOST_DIR/sysctls.tmp"
    for p in "${HOST_PATHS[@]}"; do [ ! -e "$p" ] || echo "$p"; done >"$HOST_DIR/paths"
    nft list tables >"$HOST_DIR/nft-tables" 2>/dev/null || : >"$HOST_DIR/nft-tables"
    { iptables-save 2>/dev/null | sed -n 's/^:\([^ ]*\).*/ip4 \1/p'
      ip6tables-save 2>/dev/null | sed -n 's/^:\([^ ]*\).*/ip6 \1/p'; } >"$HOST_DIR/chains"
    mv "$HOST_DIR/sysctls.tmp" "$HOST_DIR/sysctls"
  fi
}

check_host() {
  [ "$(id -u)" = 0 ] || { log "the real cluster needs root (kubelet, containerd, mounts, iptables)"; return 1; }
  local port
  for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT"; do
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
      log "port $port is in use; set REAL_*_PORT (see real-env.sh)"
      return 1
    fi
  done
  if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
    log "bridge $CNI_BRIDGE already exists; run CLUSTER=real hack/cluster/down.sh"
    return 1
  fi
  if [ -d /sys/fs/cgroup/memory/kubepods ] || [ -d /sys/fs/cgroup/kubepods ]; then
    log "kubepods cgroups exist already: is another kubelet running on this host?"
    return 1
  fi
}

# ---- certificates (openssl, ECDSA P-256) ----------------------------------

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$1.key" 2>/dev/null; }

# Signs a certificate for $PKI/<name>.key with the cluster CA.
sign() { # name subject extensions
  local name=$1 subj=$2 ext=$3
  newkey "$name"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -sha256 -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" "$ext") -out "$PKI/$name.crt" 2>/dev/null
  rm "$PKI/$name.csr"
}

client_cert() { # name CN [O]
  sign "$1" "/CN=$2${3:+/O=$3}" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
}

gen_pki() {
  [ -s "$PKI/done" ] && return 0
  rm -rf "$PKI"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  newkey ca
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=k8sdrv-real-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
  local svc_ip host
  svc_ip=$(first_service_ip)
  host=$(hostname)
  sign apiserver "/CN=kube-apiserver" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$host,IP:127.0.0.1,IP:$NODE_IP,IP:$svc_ip"
  sign kubelet-serving "/CN=system:node:$NODE_NAME/O=system:nodes" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$NODE_NAME,DNS:localhost,DNS:$host,IP:127.0.0.1,IP:$NODE_IP"
  client_cert admin kubernetes-admin system:masters
  client_cert kubelet "system:node:$NODE_NAME" system:nodes
  client_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  client_cert controller-manager system:kube-controller-manager
  client_cert scheduler system:kube-scheduler
  newkey sa
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  echo ok >"$PKI/done"
}

# 10.96.0.0/16 -> 10.96.0.1 (the "kubernetes" Service).
first_service_ip() {
  local net=${SERVICE_SUBNET%/*}
  echo "${net%.*}.$((${net##*.} + 1))"
}

kubeconfig() { # file user
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_NAME
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: $CLUSTER_NAME
  context:
    cluster: $CLUSTER_NAME
    user: $2
current-context: $CLUSTER_NAME
EOF
}

# ---- components -----------------------------------------------------------

# Starts a component detached from this shell (own session, stdin closed, a
# fixed environment, without the lock on fd 9), logging to $LOG_DIR/<name>.log.
start_component() { # name binary args...
  local name=$1 bin=$2
  shift 2
  [ -z "$(component_pid "$name")" ] || return 0
  log "starting $name"
  env -i HOME="$HOME" PATH="$REAL_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    setsid "$bin" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN_DIR/$name.pid"
  disown # not this shell's job: no "Killed" report if real-down.sh stops it
  sleep 0.2
  [ -n "$(component_pid "$name")" ] || { log "$name exited at once; see $LOG_DIR/$name.log:"; tail -n 20 "$LOG_DIR/$name.log" >&2; return 1; }
}

start_etcd() {
  start_component etcd "$CLUSTER_BIN/etcd" --name=default --data-dir="$CLUSTER_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync=true --quota-backend-bytes=2147483648 --log-level=warn
}

start_apiserver() {
  start_component kube-apiserver "$CLUSTER_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=0.0.0.0 --secure-port="$APISERVER_PORT" --advertise-address="$NODE_IP" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range="$SERVICE_SUBNET" --allow-privileged=true --profiling=false
}

start_controller_manager() {
  kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" controller-manager
  start_component kube-controller-manager "$CLUSTER_BIN/kube-controller-manager" \
    --kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
    --use-service-account-credentials --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/sa.key" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_SUBNET" \
    --flex-volume-plugin-dir="$CLUSTER_DIR/flexvolume" --profiling=false
}

start_scheduler() {
  kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" scheduler
  start_component kube-scheduler "$CLUSTER_BIN/kube-scheduler" \
    --kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --profiling=false
}

write_cni_config() {
  mkdir -p "$CNI_CONF_DIR" "$CNI_DATA_DIR"
  # The loopback plugin is not listed: containerd's CRI runs it for every pod.
  cat >"$CNI_CONF_DIR/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_DATA_DIR",
        "ranges": [[{"subnet": "$POD_SUBNET"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
}

write_containerd_config() {
  mkdir -p "$CONTAINERD_ROOT" "$CONTAINERD_STATE" "$CLUSTER_DIR/cdi"
  # restrict_oom_score_adj: this VM lacks CAP_SYS_RESOURCE, so runc cannot set a
  # negative oom_score_adj ("can't get final child's PID from pipe: EOF").
  # Every path is ours: no /etc/containerd imports, no /opt/containerd, no NRI
  # socket in /var/run/nri, netns mounts under the state dir, shim sockets in
  # $SHIM_SOCKET_ROOT (socket paths must stay short).
  cat >"$CLUSTER_DIR/containerd/config.toml" <<EOF
version = 4
root = '$CONTAINERD_ROOT'
state = '$CONTAINERD_STATE'
imports = []
disabled_plugins = ['io.containerd.internal.v1.opt', 'io.containerd.nri.v1.nri']

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = '$CONTAINERD_SOCK'

  [plugins.'io.containerd.server.v1.ttrpc']
    address = '$CONTAINERD_SOCK.ttrpc'

  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$PAUSE_IMAGE'

  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    cdi_spec_dirs = ['$CLUSTER_DIR/cdi']
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '/usr/sbin/runc'
          Root = '$CLUSTER_DIR/containerd/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['$CNI_BIN_DIR']
      conf_dir = '$CNI_CONF_DIR'

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'

  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '$SHIM_SOCKET_ROOT/s'
EOF
}

start_containerd() {
  write_cni_config
  write_containerd_config
  mkdir -p "$SHIM_SOCKET_ROOT"
  start_component containerd "$REAL_BIN/containerd" --config "$CLUSTER_DIR/containerd/config.toml"
  wait_for 30 "containerd" ctr_ version
}

# Imports every archive, all at once (it is mostly disk-bound unpacking).
import_images() {
  local f name start=$SECONDS pids=() failed=0
  for f in "$IMAGES_DIR"/*.tar; do
    name=$(basename "$f" .tar)
    # ctr warns on every call that cgroup v1 is deprecated; its output is shown only on failure.
    ctr_ images import "$f" >"$LOG_DIR/import-$name.log" 2>&1 &
    pids+=($!)
  done
  for f in "${pids[@]}"; do wait "$f" || failed=1; done
  if [ "$failed" != 0 ]; then
    cat "$LOG_DIR"/import-*.log >&2
    log "importing the images from $IMAGES_DIR failed"
    return 1
  fi
  log "images imported in $((SECONDS - start))s: $(ctr_ images ls -q 2>/dev/null | grep -v '^sha256:' | tr '\n' ' ')"
}

write_kubelet_config() {
  local dns
  dns=$(host_resolver)
  mkdir -p "$KUBELET_ROOT" "$CLUSTER_DIR/pod-logs" "$CLUSTER_DIR/kubelet-plugins" "$PKI/kubelet-dir"
  kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" kubelet
  cat >"$CLUSTER_DIR/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The host is cgroup v1 (hybrid) without systemd; kubelet >= 1.35 refuses v1 otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
failSwapOn: false
address: 0.0.0.0
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
# No registry to pull images back from: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# A test machine's disk may be fuller than the defaults allow (10 %/15 %).
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  nodefs.inodesFree: 2%
  imagefs.available: 2%
  imagefs.inodesFree: 2%
${dns:+clusterDNS: [$dns]}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: $CLUSTER_DIR/pod-logs
volumePluginDir: $CLUSTER_DIR/kubelet-plugins
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
EOF
}

start_kubelet() {
  write_kubelet_config
  start_component kubelet "$REAL_BIN/kubelet" --config="$CLUSTER_DIR/kubelet-config.yaml" \
    --kubeconfig="$CLUSTER_DIR/kubelet.kubeconfig" --root-dir="$KUBELET_ROOT" --cert-dir="$PKI/kubelet-dir" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
}

# A pod that really runs: sandbox, CNI, image, container, logs through kubelet.
smoke_test() {
  local pod=k8sdrv-real-smoke phase
  kc delete pod "$pod" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $pod
  namespace: default
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: smoke
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sh, -c, 'echo smoke-ok; ip -4 addr show eth0 | grep -q inet']
EOF
  local deadline=$((SECONDS + 60))
  while phase=$(kc get pod "$pod" -n default -o 'jsonpath={.status.phase}' 2>/dev/null) && [ "$phase" != Succeeded ]; do
    if [ "$phase" = Failed ] || ((SECONDS >= deadline)); then
      log "smoke-test pod ended as '$phase':"
      kc describe pod "$pod" -n default >&2 || true
      return 1
    fi
    sleep 0.5
  done
  [ "$(kc logs "$pod" -n default 2>/dev/null)" = smoke-ok ] || { log "smoke-test pod logs are wrong"; return 1; }
  kc delete pod "$pod" -n default --wait=true >/dev/null
}

start() {
  local start=$SECONDS
  NODE_IP=$(node_ip)
  log "starting real cluster $CLUSTER_NAME (node $NODE_NAME, $NODE_IP) in $CLUSTER_DIR"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  save_host_state
  gen_pki
  kubeconfig "$KUBECONFIG_FILE.tmp" admin
  mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
  start_etcd
  start_apiserver
  start_containerd
  # The image import (5-15 s, mostly the Debian images) runs while the control
  # plane and kubelet start; pods need the images only from the smoke test on.
  import_images &
  local import=$!
  wait_for 120 "kube-apiserver /readyz" apiserver_ready
  start_controller_manager
  start_scheduler
  start_kubelet
  wait_for 120 "node $NODE_NAME to be Ready" node_ready
  wait_for 60 "ServiceAccount default/default" default_sa
  wait "$import" || { log "image import failed"; return 1; }
  smoke_test
  log "real cluster $CLUSTER_NAME ready in $((SECONDS - start))s"
}

main() {
  check_root_early
  mkdir -p "$K8SDRV_CACHE"
  exec 9>"$K8SDRV_CACHE/.$CLUSTER_NAME.lock"
  flock 9
  "$HACK_CLUSTER/real-build.sh" >&2
  "$HACK_CLUSTER/real-images.sh" >&2
  if healthy; then
    log "real cluster $CLUSTER_NAME is already up"
  else
    if anything_left; then
      log "real cluster $CLUSTER_NAME is not healthy; stopping what is left first"
      REAL_LOCK_HELD=1 "$HACK_CLUSTER/real-down.sh" >&2
    fi
    check_host
    # Not `if ! start`: errexit is off inside a function called as a condition.
    trap start_failed EXIT
    start
    trap - EXIT
  fi
  echo "KUBECONFIG=$KUBECONFIG_FILE"
}

# A failed start leaves nothing running (unless REAL_KEEP_ON_FAILURE=1): the
# logs are copied next to the cluster directory, then real-down.sh cleans up.
start_failed() {
  local failed_logs=$CLUSTER_DIR.failed-logs
  rm -rf "$failed_logs"
  cp -r "$LOG_DIR" "$failed_logs" 2>/dev/null || true
  if [ -n "${REAL_KEEP_ON_FAILURE:-}" ]; then
    log "start failed; logs in $LOG_DIR; left running (REAL_KEEP_ON_FAILURE), CLUSTER=real hack/cluster/down.sh cleans up"
    return
  fi
  log "start failed; stopping what was started; logs copied to $failed_logs"
  REAL_LOCK_HELD=1 "$HACK_CLUSTER/real-down.sh" >&2 || true
}

check_root_early() {
  [ "$(id -u)" = 0 ] || { log "the real cluster needs root (kubelet, containerd, mounts, iptables)"; exit 1; }
}

main "$@"
