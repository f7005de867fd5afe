#!/usr/bin/env bash
# Installs GNU time (/usr/bin/time) where it is missing: make bench and
# make bench-scale read k8sdrv's peak RSS and CPU time from it.
set -euo pipefail
if [ ! -x /usr/bin/time ]; then
  echo "bench: installing GNU time (peak RSS, CPU time)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
