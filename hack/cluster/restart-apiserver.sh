#!/usr/bin/env bash
# Restarts a local KWOK cluster's kube-apiserver, as an API server
# rotation, upgrade or crash does: SIGTERM, SIGKILL after GRACE seconds
# (default 3: a graceful shutdown drains open watches and exec streams for
# up to a minute), a pause of DOWN seconds (default 2) while nothing
# listens, then the same binary with the same arguments and environment.
# Every client connection is cut; etcd, the scheduler, the controller
# manager and the kwok controller keep running and reconnect (the first two
# run without leader election, see config.sh: with it they exit when the
# API server is away for more than 10 s). The e2e fault tests run it on a
# cluster of their own all the same, so that no other test sees a restart.
# The new pid goes into kwokctl's pid file, so that `make cluster-down`
# stops it.
set -euo pipefail
source "$(dirname "$0")/env.sh"

dir=$KWOK_WORKDIR/clusters/$CLUSTER_NAME
pidfile=$dir/pids/kube-apiserver.pid
pid=$(cat "$pidfile" 2>/dev/null) || { log "no kube-apiserver pid file at $pidfile"; exit 1; }
[ -r "/proc/$pid/cmdline" ] || { log "kube-apiserver (pid $pid) is not running"; exit 1; }
mapfile -d '' cmd <"/proc/$pid/cmdline"
mapfile -d '' environ <"/proc/$pid/environ"
workdir=$(readlink "/proc/$pid/cwd")

kill -TERM "$pid"
deadline=$((SECONDS + ${GRACE:-3}))
while [ -e "/proc/$pid" ]; do
  if ((SECONDS >= deadline)); then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  sleep 0.1
done
sleep "${DOWN:-2}"
(cd "$workdir" && exec setsid env -i "${environ[@]}" "${cmd[@]}" >>"$dir/logs/kube-apiserver.log" 2>&1 </dev/null) &
printf %s "$!" >"$pidfile" # no newline: kwokctl reads the file with Atoi
wait_for 60 "kube-apiserver /healthz after the restart" apiserver_ok
log "kube-apiserver restarted (pid $pid -> $(cat "$pidfile"))"
