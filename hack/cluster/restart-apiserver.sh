#!/usr/bin/env bash
# Restarts the local KWOK cluster's kube-apiserver, as an API server
# rotation, upgrade or crash does: SIGTERM, SIGKILL after GRACE seconds
# (default 3), a pause of DOWN seconds (default 2) while nothing listens,
# then the same binary with the same arguments and environment. Every
# client connection is cut; etcd keeps running. Used by the e2e fault tests.
#
# The scheduler, controller-manager and kwok controller are restarted too
# (SIGTERM, which hands their leases back): after an API server restart
# this scheduler can take a minute to see new pods again, and the tests
# that follow need pods scheduled at once. The script returns once a probe
# pod runs. New pids go into kwokctl's pid files, so that
# `make cluster-down` stops the new processes.
set -euo pipefail
source "$(dirname "$0")/env.sh"

dir=$KWOK_WORKDIR/clusters/$CLUSTER_NAME

# restart NAME GRACE DOWN: stops component NAME (SIGKILL after GRACE
# seconds), waits DOWN seconds and starts it again as it was.
restart() {
  local name=$1 grace=$2 down=$3 pid workdir
  local pidfile=$dir/pids/$name.pid
  pid=$(cat "$pidfile" 2>/dev/null) || { log "no $name pid file at $pidfile"; return 1; }
  [ -r "/proc/$pid/cmdline" ] || { log "$name (pid $pid) is not running"; return 1; }
  local -a cmd environ
  mapfile -d '' cmd <"/proc/$pid/cmdline"
  mapfile -d '' environ <"/proc/$pid/environ"
  workdir=$(readlink "/proc/$pid/cwd")

  kill -TERM "$pid"
  local deadline=$((SECONDS + grace))
  while [ -e "/proc/$pid" ]; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
  done
  sleep "$down"
  (cd "$workdir" && exec setsid env -i "${environ[@]}" "${cmd[@]}" >>"$dir/logs/$name.log" 2>&1 </dev/null) &
  printf %s "$!" >"$pidfile" # no newline: kwokctl reads the file with Atoi
}

# A graceful shutdown drains open watches and exec streams for up to a
# minute; after GRACE seconds the process is killed, as a crash would end it.
restart kube-apiserver "${GRACE:-3}" "${DOWN:-2}"
wait_for 60 "kube-apiserver /healthz after the restart" apiserver_ok
for name in kube-scheduler kube-controller-manager kwok-controller; do
  restart "$name" 10 0
done
PROBE_POD=k8sdrv-restart-probe
kc delete pod -n default "$PROBE_POD" --ignore-not-found --wait=true >/dev/null
kc run -n default "$PROBE_POD" --image=k8sdrv-probe:1 --restart=Never >/dev/null
probe_running() { [ "$(kc get pod -n default "$PROBE_POD" -o 'jsonpath={.status.phase}' 2>/dev/null)" = Running ]; }
wait_for 60 "probe pod $PROBE_POD to run after the restart" probe_running
kc delete pod -n default "$PROBE_POD" --wait=true >/dev/null
log "kube-apiserver, scheduler, controller-manager and kwok controller restarted"
