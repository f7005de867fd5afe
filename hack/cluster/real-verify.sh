#!/usr/bin/env bash
# Checks what the real cluster (CLUSTER=real) must do for k8sdrv, against the
# running cluster (CLUSTER=real hack/cluster/up.sh first):
#   * busybox and debian pods run; `kubectl exec` returns the real exit code (3);
#     stdout/stderr are separate; stdin reaches EOF; the debian image has bash + git;
#   * a pod with redis, httpd and a busybox "build" container: the build container
#     reaches both services at 127.0.0.1 and shares an emptyDir;
#   * a container over its memory limit ends OOMKilled with exit code 137;
#   * a missing image with imagePullPolicy Never fails with ErrImageNeverPull.
# Uses its own namespace, deleted at the end. Exit 0 if every check passed.
set -euo pipefail
source "$(dirname "$0")/real-env.sh"

NS=k8sdrv-real-verify
FAILED=0
pass() { log "ok: $*"; }
fail() {
  log "FAIL: $*"
  FAILED=1
}
kubectl() { "$CLUSTER_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
k() { kubectl -n "$NS" "$@"; }

check() { # description expected actual
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi
}

main() {
  [ -s "$KUBECONFIG_FILE" ] || { log "no real cluster (run CLUSTER=real hack/cluster/up.sh)"; exit 1; }
  kubectl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
  kubectl create namespace "$NS" >/dev/null
  local i
  for i in $(seq 60); do
    k get serviceaccount default >/dev/null 2>&1 && break
    [ "$i" != 60 ] || { log "no default ServiceAccount in $NS"; exit 1; }
    sleep 0.5
  done
  local start=$SECONDS
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: busybox}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, imagePullPolicy: Never, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: debian}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: $DEBIAN_IMAGE, imagePullPolicy: Never, command: [sleep, infinity]}
---
apiVersion: v1
kind: Pod
metadata: {name: services}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{name: shared, emptyDir: {}}]
  containers:
  - {name: redis, image: $REDIS_IMAGE, imagePullPolicy: Never}
  - {name: httpd, image: $HTTPD_IMAGE, imagePullPolicy: Never}
  - name: build
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: [sleep, "3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: helper
    image: $DEBIAN_IMAGE
    imagePullPolicy: Never
    command: [bash, -c, 'echo from-helper > /shared/helper; exec sleep infinity']
    volumeMounts: [{name: shared, mountPath: /shared}]
---
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $DEBIAN_IMAGE
    imagePullPolicy: Never
    command: [bash, -c, 'x=\$(head -c 300000000 /dev/zero | tr "\\\\0" a); echo survived']
    resources: {limits: {memory: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: k8sdrv.local/doesnotexist:1, imagePullPolicy: Never}
EOF
  if k wait --for=condition=Ready pod/busybox pod/debian pod/services --timeout=60s >/dev/null; then
    pass "busybox, debian and services pods Ready in $((SECONDS - start))s"
  else
    fail "pods not Ready"
    k get pods -o wide >&2
  fi

  local out rc
  out=$(k exec busybox -- sh -c 'echo out; echo err >&2; exit 3' 2>/dev/null) && rc=0 || rc=$?
  check "busybox exec exit code" 3 "$rc"
  check "busybox exec stdout only" out "$out"
  # shellcheck disable=SC2016 # expanded by the pod's bash
  out=$(k exec debian -- bash -c 'git --version >/dev/null && echo "$BASH_VERSION" | cut -c1; exit 3' 2>/dev/null) && rc=0 || rc=$?
  check "debian exec exit code (bash + git)" "3 5" "$rc $out"
  out=$(printf 'hello world\n' | k exec -i busybox -- sh -c 'cat >/tmp/in; wc -c </tmp/in') || true
  check "exec stdin reaches EOF" 12 "$(echo "$out" | tr -d ' ')"

  out=$(k exec services -c build -- sh -c 'printf "PING\r\n" | nc -w 2 127.0.0.1 6379' | tr -d '\r') || true
  check "redis service at 127.0.0.1:6379 from the build container" +PONG "$out"
  out=$(k exec services -c build -- wget -qO- http://127.0.0.1:8080/ping) || true
  check "httpd service at 127.0.0.1:8080 from the build container" "k8sdrv-httpd services GET /ping" "$out"
  out=$(k exec services -c build -- cat /shared/helper) || true
  check "emptyDir shared between containers" from-helper "$out"

  local deadline=$((SECONDS + 60)) state=
  while ((SECONDS < deadline)); do
    state=$(k get pod oom -o 'jsonpath={.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}')
    [ "$state" = " " ] || break
    sleep 0.5
  done
  check "memory limit: OOMKilled" "OOMKilled 137" "$state"
  deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    state=$(k get pod missing -o 'jsonpath={.status.containerStatuses[0].state.waiting.reason}')
    [ -z "$state" ] || [ "$state" = ContainerCreating ] || break
    sleep 0.5
  done
  check "missing image with pull policy Never" ErrImageNeverPull "$state"

  kubectl delete namespace "$NS" --wait=false >/dev/null
  if [ "$FAILED" != 0 ]; then
    log "some checks failed"
    return 1
  fi
  log "all checks passed in $((SECONDS - start))s"
}

main "$@"
