#!/usr/bin/env bash
# Installs the Debian packages the real cluster (CLUSTER=real) runs with, if
# any is missing: runc, CNI plugins, iptables + nftables, openssl,
# debootstrap, debian-archive-keyring, busybox-static (apt-get, as root).
# real-build.sh runs it; make test-real runs it before its first host
# snapshot (hostcheck.sh), so that what the packages bring along (iptables-save
# and nft printing their tables) is on both sides of the comparison. These
# packages stay installed. Prints nothing and needs no root when all are there.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

# command-or-file:package: what must exist, and the Debian package providing it.
PACKAGES=(
  /usr/sbin/runc:runc
  /usr/lib/cni/bridge:containernetworking-plugins
  /usr/sbin/iptables:iptables
  /usr/sbin/nft:nftables
  /usr/bin/openssl:openssl
  /usr/sbin/debootstrap:debootstrap
  /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring
  /bin/busybox:busybox-static
)

main() {
  local want=() entry
  for entry in "${PACKAGES[@]}"; do
    [ -e "${entry%%:*}" ] || want+=("${entry#*:}")
  done
  # A dynamically linked busybox (package busybox) cannot run inside an image.
  if [ -e /bin/busybox ] && ! dpkg -s busybox-static >/dev/null 2>&1; then want+=(busybox-static); fi
  [ ${#want[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || { log "need root to install: ${want[*]}"; return 1; }
  command -v apt-get >/dev/null || { log "no apt-get to install: ${want[*]}"; return 1; }
  log "installing Debian packages: ${want[*]}"
  local start=$SECONDS out
  out=$(mktemp)
  # dpkg's progress is long and says nothing useful; it is shown on failure.
  if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$out" 2>&1 ||
    ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >>"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    log "installing ${want[*]} failed"
    return 1
  fi
  rm -f "$out"
  log "installed in $((SECONDS - start))s"
}

main "$@"
