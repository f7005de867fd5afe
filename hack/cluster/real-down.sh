#!/usr/bin/env bash
# Stops the real single-node cluster (CLUSTER=real hack/cluster/down.sh) and
# leaves the host as real-up.sh found it: no processes, no mounts under the
# cluster directory, no pod network namespaces, no CNI bridge, no KUBE-*/CNI-*
# iptables chains (nor nft tables) that were not there before, no kubepods
# cgroups, kubelet's sysctls restored, host paths it created removed, and the
# cluster directory deleted. Safe to run when nothing is running; fails (exit
# 1) if something could not be cleaned up. hostcheck.sh shows the host state.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

FAILED=0
warn() {
  log "$*"
  FAILED=1
}

# Sends TERM, waits up to $2 seconds, then KILL (at once for 0).
stop_pid() { # pid seconds
  local pid=$1 deadline=$((SECONDS + $2))
  if [ "$2" = 0 ]; then
    kill -KILL "$pid" 2>/dev/null || return 0
  else
    kill -TERM "$pid" 2>/dev/null || return 0
  fi
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      return 0
    fi
    sleep 0.2
  done
}

# Stops components together: TERM to all, then waits (KILL after the timeout).
stop_components() { # seconds name...
  local timeout=$1 c pid pids=()
  shift
  for c in "$@"; do
    pid=$(component_pid "$c")
    [ -n "$pid" ] || continue
    log "stopping $c ($pid)"
    pids+=("$pid")
  done
  for pid in "${pids[@]}"; do stop_pid "$pid" "$timeout" & done
  wait
}

# Deletes every pod through the API so that kubelet stops them properly
# (containers killed, sandboxes torn down, CNI DEL run), and waits for
# containerd to have no task left.
drain_pods() {
  [ -n "$(component_pid kubelet)" ] && [ -n "$(component_pid containerd)" ] && [ -s "$KUBECONFIG_FILE" ] || return 0
  [ "$(kc get --raw /readyz 2>/dev/null)" = ok ] || return 0
  log "deleting all pods"
  kc delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 30))
  while [ -n "$(ctr_ tasks ls -q 2>/dev/null)" ] && ((SECONDS < deadline)); do sleep 0.5; done
}

# Whatever kubelet did not stop: kill and delete tasks and containers directly.
remove_containers() {
  [ -n "$(component_pid containerd)" ] || return 0
  local ns id
  for ns in $("$REAL_BIN/ctr" --address "$CONTAINERD_SOCK" namespaces ls -q 2>/dev/null); do
    for id in $("$REAL_BIN/ctr" --address "$CONTAINERD_SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
      "$REAL_BIN/ctr" --address "$CONTAINERD_SOCK" -n "$ns" tasks delete --force "$id" >/dev/null 2>&1 || true
    done
    for id in $("$REAL_BIN/ctr" --address "$CONTAINERD_SOCK" -n "$ns" containers ls -q 2>/dev/null); do
      "$REAL_BIN/ctr" --address "$CONTAINERD_SOCK" -n "$ns" containers delete "$id" >/dev/null 2>&1 || true
    done
  done
}

# Processes of this cluster not (or no longer) tracked by a pid file: shims
# (their command line names our containerd socket), components whose pid file
# is gone, and anything in the kubepods cgroups.
stray_pids() {
  local pid exe c tracked=" "
  for c in "${COMPONENTS[@]}"; do tracked+="$(component_pid "$c") "; done
  for pid in $(pgrep -f -- "$CLUSTER_DIR/" || true); do
    [[ $tracked == *" $pid "* ]] && continue
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    case ${exe% (deleted)} in "$REAL_BIN"/* | "$CLUSTER_BIN"/* | */runc) echo "$pid" ;; esac
  done
  cat /sys/fs/cgroup/*/kubepods/cgroup.procs /sys/fs/cgroup/*/kubepods/*/cgroup.procs \
    /sys/fs/cgroup/*/kubepods/*/*/cgroup.procs /sys/fs/cgroup/*/kubepods/*/*/*/cgroup.procs 2>/dev/null || true
}

kill_strays() {
  local pids pid
  pids=$(stray_pids | sort -un | grep -vx "$$" || true)
  [ -n "$pids" ] || return 0
  log "killing leftover processes: $(echo "$pids" | tr '\n' ' ')"
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  sleep 0.5
}

# Mount points at or below a directory, deepest first.
mounts_under() { # dir
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
    awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-
}

unmount_under() { # dir
  local m
  for _ in 1 2 3; do
    for m in $(mounts_under "$1"); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    [ -z "$(mounts_under "$1")" ] && return 0
    sleep 0.5
  done
  warn "still mounted under $1: $(mounts_under "$1" | tr '\n' ' ')"
}

remove_cgroups() {
  local top
  for top in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$top" ] || continue
    for _ in 1 2 3 4 5; do
      find "$top" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$top" ] || break
      sleep 0.5
    done
    [ ! -d "$top" ] || warn "cannot remove cgroup $top"
  done
}

remove_network() {
  local l
  for l in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
    ip link delete "$l" 2>/dev/null || true
  done
  if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
    log "deleting bridge $CNI_BRIDGE"
    ip link delete "$CNI_BRIDGE" || warn "cannot delete bridge $CNI_BRIDGE"
  fi
}

# Removes the KUBE-* and CNI-* chains that were not there before the start
# (all of them if real-up.sh saved no list), and every rule jumping to them.
clean_iptables_family() { # ip4|ip6 command save-command
  local fam=$1 ipt=$2 save=$3 table chain rule
  command -v "$save" >/dev/null || return 0
  for table in filter nat mangle raw; do
    local ours=()
    for chain in $("$save" -t "$table" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[^ ]*\).*/\1/p'); do
      grep -qx "$fam $chain" "$HOST_DIR/chains" 2>/dev/null || ours+=("$chain")
    done
    [ ${#ours[@]} -gt 0 ] || continue
    log "removing $fam $table chains: ${ours[*]}"
    local re
    re=$(printf '%s|' "${ours[@]}")
    re="-j (${re%|})( |\$)"
    # Rules in other chains that jump to ours, deleted by their exact spec.
    "$save" -t "$table" | { grep -E -- "^-A .*$re" || true; } | while read -r rule; do
      eval "set -- ${rule#-A }" # iptables-save quotes arguments the way a shell does
      "$ipt" -w -t "$table" -D "$@" 2>/dev/null || true
    done
    for chain in "${ours[@]}"; do "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in "${ours[@]}"; do "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || warn "cannot delete $fam $table chain $chain"; done
  done
}

# iptables-nft creates whole nft tables on first use; drop the ones that did
# not exist before and are empty again (base chains only, no rules).
clean_nft_tables() {
  command -v nft >/dev/null && [ -f "$HOST_DIR/nft-tables" ] || return 0
  local line
  nft list tables 2>/dev/null | while read -r line; do
    grep -qxF "$line" "$HOST_DIR/nft-tables" && continue
    # "table ip nat" -> "ip nat"
    if ! nft list "$line" 2>/dev/null | grep -vE '^\s*(table |chain |type |policy |\}|$)' | grep -q .; then
      log "deleting empty nft $line (created by iptables)"
      nft delete "$line" || true
    fi
  done
}

restore_sysctls() {
  [ -s "$HOST_DIR/sysctls" ] || return 0
  local line
  while IFS= read -r line; do
    [ "$(sysctl -n "${line%%=*}" 2>/dev/null)" = "${line#*=}" ] && continue
    log "restoring $line"
    sysctl -q -w "$line" >/dev/null || warn "cannot restore sysctl $line"
  done <"$HOST_DIR/sysctls"
}

# Host paths kubelet/containerd/libcni create regardless of configuration.
remove_host_paths() {
  [ -f "$HOST_DIR/paths" ] || return 0
  local p
  for p in "${HOST_PATHS[@]}"; do
    [ -e "$p" ] || continue
    if grep -qxF "$p" "$HOST_DIR/paths"; then
      # It was there before: only our entries go.
      case $p in
        /var/log/containers) find "$p" -maxdepth 1 -type l -lname "$CLUSTER_DIR/*" -delete 2>/dev/null || true ;;
        /var/lib/cni) rm -f "$p/results/$CNI_NETWORK-"* 2>/dev/null || true ;;
      esac
      continue
    fi
    log "removing $p (created by the cluster)"
    unmount_under "$p"
    rm -rf --one-file-system "$p" || warn "cannot remove $p"
  done
}

leftovers() {
  local pids
  pids=$(stray_pids)
  [ -z "$pids" ] || echo "processes: $(echo "$pids" | tr '\n' ' ')"
  [ -z "$(mounts_under "$CLUSTER_DIR")" ] || echo "mounts under $CLUSTER_DIR"
  if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then echo "bridge $CNI_BRIDGE"; fi
  local d
  for d in /sys/fs/cgroup/*/kubepods; do [ ! -d "$d" ] || echo "cgroup $d"; done
}

main() {
  [ "$(id -u)" = 0 ] || { log "the real cluster needs root"; exit 1; }
  if [ -z "${REAL_LOCK_HELD:-}" ]; then
    mkdir -p "$K8SDRV_CACHE"
    exec 9>"$K8SDRV_CACHE/.$CLUSTER_NAME.lock"
    flock 9
  fi
  if [ ! -d "$CLUSTER_DIR" ] && [ ! -d "$SHIM_SOCKET_ROOT" ] && [ -z "$(stray_pids)" ]; then
    log "real cluster $CLUSTER_NAME is not running"
    return 0
  fi
  local start=$SECONDS
  drain_pods
  stop_components 10 kubelet
  remove_containers
  stop_components 10 containerd
  kill_strays
  # Their state is deleted below, so there is nothing to shut down gracefully.
  stop_components 0 kube-scheduler kube-controller-manager kube-apiserver etcd
  kill_strays
  unmount_under "$CLUSTER_DIR"
  unmount_under "$SHIM_SOCKET_ROOT"
  remove_cgroups
  remove_network
  clean_iptables_family ip4 iptables iptables-save
  clean_iptables_family ip6 ip6tables ip6tables-save
  clean_nft_tables
  restore_sysctls
  remove_host_paths
  rm -rf --one-file-system "$SHIM_SOCKET_ROOT"
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    warn "left behind: $left"
  elif [ "$FAILED" = 0 ]; then
    rm -rf --one-file-system "$CLUSTER_DIR"
  fi
  if [ "$FAILED" != 0 ]; then
    log "real cluster $CLUSTER_NAME not fully cleaned up; $CLUSTER_DIR is kept (host state in $HOST_DIR)"
    return 1
  fi
  log "real cluster $CLUSTER_NAME stopped and removed in $((SECONDS - start))s"
}

main "$@"
