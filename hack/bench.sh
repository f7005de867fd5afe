#!/usr/bin/env bash
# make bench: runs the e2e benchmarks against the local cluster and writes
# docs/BENCHMARKS.md (the machine, the date, each phase beside its floor).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${BENCH_COUNT:-5}
# Read before anything is written: the tree is clean only until then.
version=$(git describe --tags --always --dirty)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
BENCHTIME=${BENCH_TIME:-20x}

hack/gnu-time.sh
# make bench-scale's section (e2e/scale_test.go writes it) is kept as it is,
# with what follows it (notes on reading it, written by hand).
scale_section=$(sed -n '/^<!-- make bench-scale: begin/,$p' docs/BENCHMARKS.md 2>/dev/null || true)

kwok_raw=$(mktemp)
real_raw=$(mktemp)
raw=$kwok_raw # the results file median reads; table callers set it
trap 'rm -f "$kwok_raw" "$real_raw"' EXIT
go test -count=1 -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" ./e2e | tee "$kwok_raw" >&2

# The same benchmarks on the real single-node cluster, where this machine
# can run one (BENCH_REAL=0 skips it).
if [ "${BENCH_REAL:-1}" != 0 ] && line=$(CLUSTER=real hack/cluster/up.sh | tail -n1) && [ -n "$line" ]; then
  K8SDRV_E2E_KUBECONFIG=${line#KUBECONFIG=} K8SDRV_E2E_IMAGE=k8sdrv.local/debian:1 \
    K8SDRV_E2E_HELPER_IMAGE=k8sdrv.local/debian:1 K8SDRV_E2E_PULL_POLICY=never \
    K8SDRV_E2E_SERVICE_IMAGES=k8sdrv.local/redis:1,k8sdrv.local/httpd:1 \
    go test -count=1 -run '^$' -bench . -benchtime "$BENCHTIME" -count "$COUNT" ./e2e | tee "$real_raw" >&2
fi

# median NAME UNIT: the median over the runs of the value before UNIT, in
# the results file $raw.
median() {
  awk -v name="Benchmark$1-" -v unit="$2" '
    index($1, name) == 1 { for (i = 3; i < NF; i++) if ($(i + 1) == unit) print $i }' "$raw" |
    sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "n/a"; exit }
      print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ms() { awk -v ns="$(median "$1" ns/op)" 'BEGIN { printf "%.1f ms", ns / 1e6 }'; }
ratio() { awk -v a="$(median "$1" ns/op)" -v b="$(median "$2" ns/op)" 'BEGIN { printf "%.2f×", a / b }'; }

# table prints the results table of the results file $raw.
table() {
  cat <<MD
| phase | k8sdrv | floor | k8sdrv / floor | target |
| --- | --- | --- | --- | --- |
| prepare (create pod, watch until running) | $(ms Prepare) | $(ms PrepareFloor) warm connection; $(ms PrepareFloorNewConnection) new connection | $(ratio Prepare PrepareFloor); $(ratio Prepare PrepareFloorNewConnection) | ≤ 1.3× |
| run, empty stage | $(ms RunEmpty) | $(ms RunEmptyFloor) (one exec of \`true\`) | $(ratio RunEmpty RunEmptyFloor) | ≤ 50 ms |
| run, 10 MiB of output | $(ms Run10MiB), $(median Run10MiB MB/s) MB/s | $(ms Run10MiBFloor), $(median Run10MiBFloor MB/s) MB/s | $(ratio Run10MiB Run10MiBFloor) | ≥ 50 MB/s |
| cleanup | $(ms Cleanup) | $(ms CleanupFloor) (one delete) | $(ratio Cleanup CleanupFloor) | |
| \`k8sdrv run\` start-up (config loaded, no API call) | $(ms Startup) | | | |
| peak RSS of \`k8sdrv run\` (10 MiB stage) | $(median Run10MiB peak-RSS-MiB) MiB | | | ≤ 40 MB |
| whole job: config, prepare, 5 stages, cleanup; image + 2 services | $(ms Job) | | | ≪ 0.5 s |
MD
}

# The launcher inside the container, on this host: the processes a short
# stage starts (counted with strace where it is installed) and its time.
starts=$(go test -count=1 -run TestShortStageProcessStarts -v ./attach 2>&1 | sed -n 's/^ *cost_test.go:[0-9]*: //p')
launcher=$(go test -count=1 -run '^$' -bench ShortStageOnHost -benchtime "$BENCHTIME" -count "$COUNT" ./attach | grep '^Benchmark')
launcher_ms() {
  awk -v name="BenchmarkShortStageOnHost/$1-" 'index($1, name) == 1 { print $3 }' <<<"$launcher" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
      printf "%.1f ms", ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1e6 }'
}

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
{
  cat <<MD
# Benchmarks

Measured by \`make bench\` (\`hack/bench.sh\`: \`go test -bench . ./e2e\`,
$BENCHTIME per run, median of $COUNT runs) on the local KWOK cluster
(kube-apiserver v1.37.2, etcd, one simulated node; exec runs as host
processes) and, where the machine can run one, on the real single-node
cluster of \`make cluster-up CLUSTER=real\`. Each k8sdrv row runs the built binary as gitlab-runner does, from
process start to exit; each floor does the same API operations directly with
client-go inside the benchmark process, on the same cluster in the same run.

* Date: $(date -u +%Y-%m-%d)
* Machine: $(nproc) cores ($cpu), $mem, $(uname -sr)
* k8sdrv: $version
* Load average (1, 5, 15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)

### Local KWOK cluster

$(raw=$kwok_raw table)

### Real single-node cluster (kubelet, containerd, runc)

$(if [ -s "$real_raw" ]; then raw=$real_raw table; else echo "Not measured: the real cluster did not start on this machine."; fi)

### The launcher in the container

Process starts of a short stage (\`echo hi\`), the launcher's shell
included, counted by \`go test -run TestShortStageProcessStarts -v ./attach\`:
it runs the launcher on this host through attach's local executor under
\`strace -f -ff -e trace=execve\` (one output file per process), with
\`sh\` resolved to dash, busybox and bash in turn. The container's first
stage also creates the container's directory; a later one does not.
Busybox runs its applets as itself (\`exe\`).

\`\`\`
${starts:-not counted: strace is not installed}
\`\`\`

Before 2026-12-03 (\`scripts/stage.sh\` of 936f111) a later stage started
13 processes with dash and busybox and 16 with bash as \`sh\` (15 and 18 for
a container's first stage): \`mkdir\` twice, \`head\` twice, \`wc\` three times,
\`tail\`, \`mv\`, \`setsid\`, \`sleep\`, two shells and the stage's shell, and
\`wc\`, \`tail\`, \`head\` and \`sleep\` again on every further poll. Now the
bytes received and sent are the offsets of the launcher's own file
descriptors (\`/proc/\$\$/fdinfo\`), the claim is a noclobber redirection and
an attempt's files sit in the container's directory.

Time of the same stage through the launcher on this host, from its exec to
the exit code (\`BenchmarkShortStageOnHost\`, median): dash $(launcher_ms dash),
busybox $(launcher_ms busybox), bash $(launcher_ms bash).

Reading the numbers:

* Every k8sdrv call is a new process (the Custom executor protocol), so it
  pays process start-up (the start-up row) and a new TCP+TLS connection to
  the API server; the warm floor reuses one connection across iterations,
  the new-connection floor does not.
* An empty stage costs one exec round trip plus the in-container launcher
  (\`scripts/stage.sh\`: store the script, start it detached, follow its log,
  read its exit code): six process starts inside the container (below).
* The 10 MiB stage is written to a log file in the pod and streamed from it,
  so its output survives dropped connections; the floor streams straight
  from the process.
* On the real node, starting containers (the prepare floor) and runc's
  exec (the empty-stage floor) dominate; the launcher's process starts
  cost more inside a real container than on KWOK's host.
* Results move with the machine's load (the real cluster running beside
  KWOK slows both); compare rows within one run, not across runs.

Raw output (KWOK first, then the real cluster):

\`\`\`
$(grep -E '^(Benchmark|goos|goarch|cpu|pkg)' "$kwok_raw" "$real_raw" | sed 's|^/tmp/[^:]*:||')
\`\`\`
MD
} >docs/BENCHMARKS.md
if [ -n "$scale_section" ]; then
  printf '\n%s\n' "$scale_section" >>docs/BENCHMARKS.md
fi
echo "bench: wrote docs/BENCHMARKS.md" >&2
