#!/usr/bin/env bash
# Builds the real cluster's images as `docker save` archives, once, into
# $IMAGES_DIR (real-up.sh imports them with `ctr images import`). There is no
# registry: each image is one layer, a deterministic tar of a root filesystem,
# plus its config JSON and manifest.json.
#
#   registry.k8s.io/pause:3.10.2  pause (images/pause, static Go): sandbox image
#   k8sdrv.local/busybox:1        Debian's busybox-static with all applet links
#   k8sdrv.local/debian:1         debootstrap --variant=minbase + bash, git, ca-certificates
#   k8sdrv.local/redis:1          the same + redis-server, serving on 6379
#   k8sdrv.local/httpd:1          images/httpd (static Go), HTTP on 8080
#
# Archives are written under a temporary name and renamed; bump IMAGES_VERSION
# in real-env.sh when a recipe changes.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
ARCH=$(go env GOARCH)
WORK=

cleanup() {
  [ -n "$WORK" ] || return 0
  # debootstrap mounts /proc and /sys in its target; never leave them behind.
  local m
  awk -v w="$WORK/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Deterministic tar of a directory's contents: sorted, fixed mtime, no atime/ctime.
det_tar() { # dir out
  local entries
  mapfile -t entries < <(cd "$1" && LC_ALL=C ls -A)
  LC_ALL=C tar --create --file "$2" --directory "$1" --sort=name --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime=@0 --numeric-owner "${entries[@]}"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Writes $IMAGES_DIR/<file>.tar from a root filesystem.
archive() { # rootfs image file config-json-fields
  local rootfs=$1 image=$2 file=$3 fields=$4 dir layer diff cfg
  dir=$WORK/archive-$file
  mkdir -p "$dir"
  det_tar "$rootfs" "$dir/layer.tar"
  diff=$(sha "$dir/layer.tar")
  mkdir "$dir/$diff"
  mv "$dir/layer.tar" "$dir/$diff/layer.tar"
  printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"k8sdrv hack/cluster/real-images.sh"}]}' \
    "$ARCH" "$fields" "$diff" >"$dir/config.json"
  cfg=$(sha "$dir/config.json")
  mv "$dir/config.json" "$dir/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$image" "$diff" >"$dir/manifest.json"
  det_tar "$dir" "$IMAGES_DIR/.$file.tar.tmp"
  mv "$IMAGES_DIR/.$file.tar.tmp" "$IMAGES_DIR/$file.tar"
  rm -rf "$dir" "$rootfs"
  layer=$(du -sh "$IMAGES_DIR/$file.tar" | cut -f1)
  log "image $image ready ($layer)"
}

need() { # file: true if the archive must be built
  [ ! -s "$IMAGES_DIR/$1.tar" ]
}

gobin() { # package out
  (cd "$HACK_CLUSTER/images" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$2" "$1")
}

# /etc/passwd and /etc/group for the small images.
base_files() { # rootfs
  mkdir -p "$1/etc" "$1/tmp" "$1/root" "$1/proc" "$1/sys" "$1/dev"
  chmod 1777 "$1/tmp"
  chmod 700 "$1/root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$1/etc/group"
}

pause_image() {
  need pause || return 0
  local r=$WORK/pause
  mkdir -p "$r"
  gobin ./pause "$r/pause"
  archive "$r" "$PAUSE_IMAGE" pause \
    '"User":"65535:65535","Env":["'"$PATH_ENV"'"],"Entrypoint":["/pause"]'
}

httpd_image() {
  need httpd || return 0
  local r=$WORK/httpd
  mkdir -p "$r"
  base_files "$r"
  gobin ./httpd "$r/httpd"
  archive "$r" "$HTTPD_IMAGE" httpd \
    '"Env":["'"$PATH_ENV"'","PORT=8080"],"Entrypoint":["/httpd"],"ExposedPorts":{"8080/tcp":{}}'
}

busybox_image() {
  need busybox || return 0
  file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
    ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' ||
    { log "/bin/busybox is not static (install busybox-static)"; return 1; }
  local r=$WORK/busybox app
  mkdir -p "$r/bin"
  base_files "$r"
  cp /bin/busybox "$r/bin/busybox"
  for app in $(/bin/busybox --list-full); do
    [ "$app" = bin/busybox ] && continue
    mkdir -p "$r/$(dirname "$app")"
    ln -sf /bin/busybox "$r/$app"
  done
  mkdir -p "$r/home" "$r/var/tmp"
  chmod 1777 "$r/var/tmp"
  archive "$r" "$BUSYBOX_IMAGE" busybox '"Env":["'"$PATH_ENV"'"],"Cmd":["sh"]'
}

# The Debian mirror and suite this machine installs from (deb822 or one-line
# sources), so images come from the same place as the host's packages.
debian_mirror() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Stanzas are separated by blank lines; take the first deb stanza with the suite.
    awk -v suite="$suite" '
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { if (types ~ /(^| )deb( |$)/ && suites ~ "(^| )" suite "( |$)" && uri != "") { print uri; exit } types = suites = uri = ""; next }
      tolower($1) == "types:" { $1 = ""; types = $0 " " }
      tolower($1) == "suites:" { $1 = ""; suites = $0 " " }
      tolower($1) == "uris:" { uri = $2 }
      END { if (types ~ /(^| )deb( |$)/ && suites ~ "(^| )" suite "( |$)" && uri != "") print uri }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] uri suite components...
    sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]\+\)[[:space:]]\+'"$suite"'[[:space:]].*/\2/p' "$f"
  done
}

debootstrap_rootfs() { # rootfs packages
  local r=$1 pkgs=$2 suite mirror
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$suite" ] || { log "cannot read VERSION_CODENAME from /etc/os-release"; return 1; }
  mirror=$(debian_mirror "$suite" | head -n1)
  [ -n "$mirror" ] || { log "no Debian mirror for $suite in /etc/apt/sources.list*"; return 1; }
  log "debootstrap $suite from $mirror (+ $pkgs)"
  mkdir -p "$IMAGES_DIR/debs"
  local start=$SECONDS
  debootstrap --variant=minbase --include="$pkgs" --cache-dir="$IMAGES_DIR/debs" \
    "$suite" "$r" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 30 "$WORK/debootstrap.log" >&2; log "debootstrap failed"; return 1; }
  log "debootstrap took $((SECONDS - start))s"
  # What the runtime provides or what only bloats the image.
  rm -rf "${r:?}"/dev/* "$r"/proc/* "$r"/sys/* "$r"/run/* "$r"/tmp/* \
    "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* \
    "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/var/cache/debconf/*-old
  : >"$r/etc/resolv.conf"
  : >"$r/etc/hostname"
}

debian_image() {
  need debian || return 0
  local r=$WORK/debian
  debootstrap_rootfs "$r" bash,git,ca-certificates
  archive "$r" "$DEBIAN_IMAGE" debian '"Env":["'"$PATH_ENV"'","LANG=C.UTF-8"],"Cmd":["bash"]'
}

redis_image() {
  need redis || return 0
  local r=$WORK/redis
  debootstrap_rootfs "$r" redis-server
  # Without a config file redis listens on all addresses; protected mode
  # would refuse other pods' connections, as there is no password.
  archive "$r" "$REDIS_IMAGE" redis \
    '"Env":["'"$PATH_ENV"'","LANG=C.UTF-8"],"Cmd":["redis-server","--protected-mode","no"],"WorkingDir":"/var/lib/redis","ExposedPorts":{"6379/tcp":{}}'
}

main() {
  mkdir -p "$IMAGES_DIR"
  WORK=$(mktemp -d "$IMAGES_DIR/.work.XXXXXX")
  pause_image
  httpd_image
  busybox_image
  debian_image
  redis_image
}

main "$@"
