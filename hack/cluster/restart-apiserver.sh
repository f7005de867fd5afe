#!/usr/bin/env bash
# Restarts the local KWOK cluster's kube-apiserver, as an API server
# rotation or upgrade does: SIGTERM, a pause of DOWN seconds (default 2)
# while nothing listens, then the same binary with the same arguments and
# environment. Every client connection is cut; etcd, the scheduler and the
# kwok controller keep running. The new pid goes into kwokctl's pid file so
# that `make cluster-down` stops it. Used by the e2e fault tests.
set -euo pipefail
source "$(dirname "$0")/env.sh"

DOWN=${DOWN:-2}
dir=$KWOK_WORKDIR/clusters/$CLUSTER_NAME
pidfile=$dir/pids/kube-apiserver.pid
logfile=$dir/logs/kube-apiserver.log

pid=$(cat "$pidfile" 2>/dev/null) || { log "no kube-apiserver pid file at $pidfile"; exit 1; }
[ -r "/proc/$pid/cmdline" ] || { log "kube-apiserver (pid $pid) is not running"; exit 1; }
mapfile -d '' cmd <"/proc/$pid/cmdline"
mapfile -d '' environ <"/proc/$pid/environ"
workdir=$(readlink "/proc/$pid/cwd")

kill -TERM "$pid"
deadline=$((SECONDS + 30))
while [ -e "/proc/$pid" ]; do
  if ((SECONDS >= deadline)); then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  sleep 0.1
done
sleep "$DOWN"

cd "$workdir"
setsid env -i "${environ[@]}" "${cmd[@]}" >>"$logfile" 2>&1 </dev/null &
echo $! >"$pidfile"
wait_for 60 "kube-apiserver /healthz after the restart" apiserver_ok
log "kube-apiserver restarted (pid $pid -> $(cat "$pidfile"))"
