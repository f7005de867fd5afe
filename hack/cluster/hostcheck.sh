#!/usr/bin/env bash
# Prints a snapshot of the host state that the real cluster (CLUSTER=real)
# changes, so that a test can prove real-down.sh left the host as it was:
#
#   hack/cluster/hostcheck.sh >before
#   CLUSTER=real hack/cluster/up.sh; ...; CLUSTER=real hack/cluster/down.sh
#   hack/cluster/hostcheck.sh >after && diff before after
#
# Sections: processes of the real cluster (its binaries, runc, shims, anything
# in kubepods cgroups, anything naming its directory), mounts, network
# namespaces, links, addresses and routes, iptables/ip6tables rules and nft
# tables, the sysctls kubelet and CNI change, cgroup directories, host paths
# and listening ports. Pids, counters and the test harness's own
# /sys/fs/cgroup/*/process_api cgroups are left out so that unrelated activity
# (e.g. a KWOK cluster) does not show up. Read-only; needs root for iptables.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

section() { printf '== %s\n' "$1"; }

processes() {
  local pid exe args cg
  local dir
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
    args=$(tr '\0' ' ' 2>/dev/null <"$dir/cmdline") || continue
    [ -n "$args" ] || continue # kernel threads
    exe=$(readlink "$dir/exe" 2>/dev/null || true)
    exe=${exe% (deleted)}
    cg=$(cat "$dir/cgroup" 2>/dev/null || true)
    case "$exe|$args|$cg" in
      *hostcheck.sh*) continue ;;
      "$REAL_BIN"/* | *"$CLUSTER_DIR/"* | */runc\|* | */kubelet\|* | */containerd\|* | */containerd-shim*\|* | *kubepods*)
        printf '%s\n' "${args% }" ;;
    esac
  done | sort
}

mounts() {
  awk '{ for (i = 7; $i != "-"; i++); print $5, $(i + 1) }' /proc/self/mountinfo | sort
}

netns() {
  echo "ip netns: $(ip netns list 2>/dev/null | awk '{ print $1 }' | sort | tr '\n' ' ')"
  local d
  for d in /var/run/netns /run/netns; do [ ! -d "$d" ] || echo "$d: $(find "$d" -mindepth 1 -maxdepth 1 -printf '%f ' | sort)"; done
  echo "distinct network namespaces of processes: $(stat -L -c %i /proc/[0-9]*/ns/net 2>/dev/null | sort -u | wc -l)"
}

links() {
  ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort
  ip -o addr show | awk '{ print $2, $3, $4 }' | sort
  ip route show table all 2>/dev/null | grep -v '^local\|^broadcast\|^multicast' | sort
}

iptables_rules() {
  local save
  for save in iptables-save ip6tables-save; do
    command -v "$save" >/dev/null || { echo "$save: not installed"; continue; }
    echo "-- $save"
    "$save" 2>/dev/null | sed '/^#/d; s/ \[[0-9]*:[0-9]*\]$//; s/^\(:[^ ]* [^ ]*\) \[[0-9]*:[0-9]*\]/\1/' || true
  done
  if command -v nft >/dev/null; then
    echo "-- nft list tables"
    nft list tables 2>/dev/null | sort
  fi
}

sysctls() {
  local s
  for s in "${HOST_SYSCTLS[@]}" net.ipv6.conf.all.forwarding net.bridge.bridge-nf-call-iptables \
    net.bridge.bridge-nf-call-ip6tables; do
    printf '%s = %s\n' "$s" "$(sysctl -n "$s" 2>/dev/null || echo '(absent)')"
  done
}

cgroups() {
  find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -not -path '*/process_api*' 2>/dev/null | sort
}

host_paths() {
  local p
  for p in "${HOST_PATHS[@]}" "$SHIM_SOCKET_ROOT" "$CLUSTER_DIR"; do
    if [ -e "$p" ]; then
      echo "$p: present, $(find "$p" 2>/dev/null | wc -l) entries"
    else
      echo "$p: absent"
    fi
  done
}

ports() {
  local port
  for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT"; do
    ss -Hltn "sport = :$port" 2>/dev/null | awk -v p="$port" '{ print "listening on", $4 }'
  done
}

section processes
processes
section mounts
mounts
section "network namespaces"
netns
section "links, addresses, routes"
links
section iptables
iptables_rules
section sysctls
sysctls
section cgroups
cgroups
section "host paths"
host_paths
section "listening ports"
ports
