#!/usr/bin/env bash
# Prints a snapshot of the host state that the real cluster (CLUSTER=real)
# creates, so that a test can prove real-down.sh left the host as it was:
#
#   hack/cluster/real-deps.sh             # packages first: they stay installed
#   hack/cluster/hostcheck.sh >before
#   CLUSTER=real hack/cluster/up.sh; ...; CLUSTER=real hack/cluster/down.sh
#   hack/cluster/hostcheck.sh >after && diff before after
#
# Only what k8sdrv's scripts (real-env.sh's names and paths) make shows up:
#   * processes started from $REAL_BIN, naming the cluster directory or
#     the shim socket directory on their command line (components, shims,
#     runc), or living in a kubepods cgroup (pods);
#   * mounts at or below the cluster directory, the shim socket directory,
#     the image work directory and the host paths kubelet and containerd use
#     (/var/lib/kubelet, /run/containerd, ...; in /run/netns only cni-*);
#   * the CNI bridge, the links enslaved to it, its addresses, routes through
#     it or to the pod subnet;
#   * iptables/ip6tables chains named KUBE-* or CNI-*, their rules, rules that
#     jump to them or name the bridge, the pod subnet or the CNI network, and
#     nft tables whose name says kube, cni or k8sdrv (not the tables filter,
#     nat, ... themselves: iptables-nft creates them for anyone, and they
#     exist or not depending on what else used iptables since boot);
#   * the sysctls in $HOST_SYSCTLS (kubelet's and the bridge plugin's);
#   * cgroups under kubepods;
#   * which host paths exist (but /run/netns), and our entries in the shared ones
#     (/var/log/containers links into the cluster directory, libcni results
#     of our network);
#   * listeners on the cluster's ports.
# Unrelated activity (another process mounting a tmpfs, a package installed
# or removed, a KWOK cluster starting) leaves the output unchanged; pids and
# counters are never printed. Read-only; needs root for iptables.
# hack/hostcheck-test.sh checks both halves of that promise.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

section() { printf '== %s\n' "$1"; }

# Builtins only (no fork per process): this runs a few times per test.
processes() {
  local pid dir args cg argv=()
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
    mapfile -d '' -t argv 2>/dev/null <"$dir/cmdline" || continue
    [ ${#argv[@]} -gt 0 ] || continue # kernel threads
    args=${argv[*]}
    cg=
    read -r -d '' cg 2>/dev/null <"$dir/cgroup" || true
    case "${argv[0]}|$args|$cg" in
      *hostcheck.sh*) continue ;;
      "$REAL_BIN"/* | *"$CLUSTER_DIR/"* | *"$SHIM_SOCKET_ROOT/"* | *:/kubepods*)
        printf '%s\n' "$args" ;;
    esac
  done | sort
}

# The directories under which the cluster mounts (or may leave) something, as
# /proc/self/mountinfo spells them (symlinks such as /var/run resolved).
mount_roots() {
  local p
  for p in "${HOST_PATHS[@]}"; do
    # Other software names its network namespaces there too; ours are cni-*.
    case $p in */netns) ;; *) echo "$p" ;; esac
  done | xargs realpath -m "$CLUSTER_DIR" "$SHIM_SOCKET_ROOT" "$IMAGES_DIR" | sort -u
  echo '/run/netns/cni-*' # a trailing * matches any name that begins so
}

mounts() {
  local roots
  roots=$(mount_roots | tr '\n' ' ')
  awk -v roots="$roots" '
    BEGIN { n = split(roots, r, " ") }
    {
      for (i = 7; $i != "-"; i++);
      for (j = 1; j <= n; j++)
        if ($5 == r[j] || index($5, r[j] "/") == 1 || r[j] ~ /\*$/ && index($5, substr(r[j], 1, length(r[j]) - 1)) == 1) { print $5, $(i + 1); break }
    }' /proc/self/mountinfo | sort
}

network() {
  if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
    echo "bridge $CNI_BRIDGE: present"
    ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print "port", $2 }' | sort
    ip -o addr show dev "$CNI_BRIDGE" 2>/dev/null | awk '{ print "address", $3, $4 }' | sort
  else
    echo "bridge $CNI_BRIDGE: absent"
  fi
  ip route show table all 2>/dev/null |
    awk -v br="$CNI_BRIDGE" -v net="$POD_SUBNET" '
      { for (i = 1; i < NF; i++) if ($i == "dev" && $(i + 1) == br) { print "route", $0; next } }
      $1 == net || $2 == net { print "route", $0 }' | sort
  local d
  for d in /run/netns/cni-*; do [ ! -e "$d" ] || echo "netns ${d##*/}"; done
}

iptables_rules() {
  local save
  for save in iptables-save ip6tables-save; do
    command -v "$save" >/dev/null || continue
    "$save" 2>/dev/null | awk -v fam="${save%-save}" -v br="$CNI_BRIDGE" -v net="${POD_SUBNET%/*}" -v cni="\"$CNI_NETWORK\"" '
      /^\*/ { table = substr($0, 2); next }
      /^:(KUBE|CNI)-/ { print fam, table, "chain", substr($1, 2); next }
      /^-A / && ($2 ~ /^(KUBE|CNI)-/ || / -j (KUBE|CNI)-/ || index($0, br) || index($0, net) || index($0, cni)) { print fam, table, $0 }
    ' || true
  done
  if command -v nft >/dev/null; then
    nft list tables 2>/dev/null | awk '$1 == "table" && tolower($3) ~ /kube|cni|k8sdrv/' | sort || true
  fi
}

sysctls() {
  local s v
  for s in "${HOST_SYSCTLS[@]}"; do
    read -r v 2>/dev/null <"/proc/sys/${s//.//}" || v='(absent)'
    printf '%s = %s\n' "$s" "$v"
  done
}

cgroups() {
  local top
  for top in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ ! -d "$top" ] || find "$top" -type d 2>/dev/null
  done | sort
}

host_paths() {
  local p
  for p in "${HOST_PATHS[@]}" "$SHIM_SOCKET_ROOT" "$CLUSTER_DIR"; do
    case $p in */netns) continue ;; esac # see mount_roots; network shows cni-*
    if [ -e "$p" ]; then echo "$p: present"; else echo "$p: absent"; fi
  done
  # Shared directories that existed before: only our entries count.
  [ ! -d /var/log/containers ] ||
    echo "/var/log/containers links into $CLUSTER_DIR: $(find /var/log/containers -maxdepth 1 -type l -lname "$CLUSTER_DIR/*" 2>/dev/null | wc -l)"
  [ ! -d /var/lib/cni/results ] ||
    echo "/var/lib/cni/results of $CNI_NETWORK: $(find /var/lib/cni/results -maxdepth 1 -name "$CNI_NETWORK-*" 2>/dev/null | wc -l)"
}

ports() {
  local port
  for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT"; do
    ss -Hltn "sport = :$port" 2>/dev/null | awk '{ print "listening on", $4 }'
  done
}

section processes
processes
section mounts
mounts
section "network: bridge, routes, pod network namespaces"
network
section "iptables chains and rules, nft tables"
iptables_rules
section sysctls
sysctls
section "kubepods cgroups"
cgroups
section "host paths"
host_paths
section "listening ports"
ports
