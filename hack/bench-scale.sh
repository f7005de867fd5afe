#!/usr/bin/env bash
# make bench-scale: many jobs at once on a KWOK cluster of its own with
# SCALE_NODES simulated nodes (e2e/scale_test.go TestIntegrationScale):
# SCALE_JOBS jobs at each concurrency of SCALE_LEVELS. Rewrites its section
# of docs/BENCHMARKS.md and docs/bench-scale.svg; the full log goes to
# bin/bench-scale.log.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/gnu-time.sh
mkdir -p bin
echo "bench-scale: ${SCALE_JOBS:-500} jobs at concurrency ${SCALE_LEVELS:-50,100,200} on ${SCALE_NODES:-100} nodes; full log in bin/bench-scale.log" >&2
K8SDRV_E2E_SCALE=1 K8SDRV_SCALE_JOBS=${SCALE_JOBS:-500} K8SDRV_SCALE_LEVELS=${SCALE_LEVELS:-50,100,200} \
  K8SDRV_SCALE_NODES=${SCALE_NODES:-100} \
  K8SDRV_SCALE_DOC=$PWD/docs/BENCHMARKS.md K8SDRV_SCALE_PLOT=$PWD/docs/bench-scale.svg \
  go test -count=1 -timeout 3h -v -run '^TestIntegrationScale$' ./e2e 2>&1 |
  tee bin/bench-scale.log | grep -E '^(--- FAIL|FAIL|ok)|concurrency [0-9]+:|^ +failed:|^ +\|'
echo "bench-scale: wrote docs/BENCHMARKS.md (its bench-scale section) and docs/bench-scale.svg" >&2
