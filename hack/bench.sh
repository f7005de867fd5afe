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

# Whole jobs through gitlab-runner (BenchmarkRunnerJob) run apart: each of
# its iterations is a round of three jobs of seconds each.
RUNNER_ROUNDS=${BENCH_RUNNER_ROUNDS:-15}

kwok_raw=$(mktemp)
real_raw=$(mktemp)
kwok_runner_raw=$(mktemp)
real_runner_raw=$(mktemp)
raw=$kwok_raw # the results file median reads; table callers set it
trap 'rm -f "$kwok_raw" "$real_raw" "$kwok_runner_raw" "$real_runner_raw"' EXIT
# bench RAW RUNNER_RAW: the e2e benchmarks into RAW, BenchmarkRunnerJob
# into RUNNER_RAW.
bench() {
  go test -count=1 -run '^$' -bench . -skip RunnerJob -benchtime "$BENCHTIME" -count "$COUNT" ./e2e | tee "$1" >&2
  local load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  go test -count=1 -run '^$' -bench RunnerJob -benchtime 1x -count "$RUNNER_ROUNDS" ./e2e | tee "$2" >&2
  echo "load average (1, 5, 15 min) at the start: $load; at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$2"
}
bench "$kwok_raw" "$kwok_runner_raw"

# The same benchmarks on the real single-node cluster, where this machine
# can run one (BENCH_REAL=0 skips it). A cluster this script starts, it
# takes down again; one that was already up stays up.
# shellcheck source=cluster/real-env.sh
real_dir=$(source hack/cluster/real-env.sh && echo "$CLUSTER_DIR")
real_was_up=false
pgrep -f -- "$real_dir/" >/dev/null && real_was_up=true
if [ "${BENCH_REAL:-1}" != 0 ] && line=$(CLUSTER=real hack/cluster/up.sh | tail -n1) && [ -n "$line" ]; then
  K8SDRV_E2E_KUBECONFIG=${line#KUBECONFIG=} K8SDRV_E2E_IMAGE=k8sdrv.local/debian:1 \
    K8SDRV_E2E_HELPER_IMAGE=k8sdrv.local/debian:1 K8SDRV_E2E_PULL_POLICY=never \
    K8SDRV_E2E_SERVICE_IMAGES=k8sdrv.local/redis:1,k8sdrv.local/httpd:1 \
    bench "$real_raw" "$real_runner_raw"
  $real_was_up || CLUSTER=real hack/cluster/down.sh
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
| prepare (create pod, watch until running) | $(ms Prepare) | $(ms PrepareFloor) warm connection; $(ms PrepareFloorNewConnection) new connection; $(ms PrepareFloorProcess) from a new process | $(ratio Prepare PrepareFloor); $(ratio Prepare PrepareFloorNewConnection); $(ratio Prepare PrepareFloorProcess) | ≤ 1.3× |
| run, empty stage | $(ms RunEmpty) | $(ms RunEmptyFloor) one exec of \`true\`; $(ms RunEmptyFloorProcess) the same from a new process | $(ratio RunEmpty RunEmptyFloor); $(ratio RunEmpty RunEmptyFloorProcess) | ≤ 1.3×; ≤ 50 ms |
| run, 10 MiB of output | $(ms Run10MiB), $(median Run10MiB MB/s) MB/s | $(ms Run10MiBFloor), $(median Run10MiBFloor MB/s) MB/s | $(ratio Run10MiB Run10MiBFloor) | ≥ 50 MB/s |
| cleanup | $(ms Cleanup) | $(ms CleanupFloor) (one delete) | $(ratio Cleanup CleanupFloor) | |
| \`k8sdrv run\` start-up (config loaded, no API call) | $(ms Startup) | | | |
| peak RSS of \`k8sdrv run\` (10 MiB stage) | $(median Run10MiB peak-RSS-MiB) MiB | | | ≤ 40 MB |
| whole job: config, prepare, 5 stages, cleanup; image + 2 services | $(ms Job) | | | ≪ 0.5 s |
MD
}

# runner_row CLUSTER: BenchmarkRunnerJob's row of the results file $raw:
# the median job of each way, each one's time above the floor's, and
# k8sdrv's share of the built-in executor's.
runner_row() {
  local floor k8sdrv builtin
  floor=$(median RunnerJob floor-ms/job)
  k8sdrv=$(median RunnerJob k8sdrv-ms/job)
  builtin=$(median RunnerJob builtin-ms/job)
  awk -v c="$1" -v f="$floor" -v k="$k8sdrv" -v b="$builtin" 'BEGIN {
    if (f == "n/a") { printf "| %s | not measured | | | | | | |\n", c; exit }
    printf "| %s | %.2f s | %.2f s | ", c, f / 1e3, k / 1e3
    if (b == "n/a") printf "not run (below) | %.2f s | | | ≤ 0.15× |\n", (k - f) / 1e3
    else printf "%.2f s | %.2f s | %.2f s | %.2f× | ≤ 0.15× |\n", b / 1e3, (k - f) / 1e3, (b - f) / 1e3, (k - f) / (b - f) }'
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

### Whole job through gitlab-runner

\`BenchmarkRunnerJob\` (\`e2e/runnerjob_test.go\`; \`go test -bench RunnerJob
-benchtime 1x -count $RUNNER_ROUNDS\`): one job with an image, two services (on
the real node redis and a small HTTP server, \`k8sdrv.local/redis:1\` and
\`k8sdrv.local/httpd:1\`; on KWOK simulated), a script of two lines and an
after_script, through \`gitlab-runner run-single\`
(\`hack/gitlab-runner\`) against the e2e suite's fake GitLab, timed from the
runner's start to its exit, three ways on the same cluster in
$RUNNER_ROUNDS interleaved rounds of one job each way (each round starts
with the next way):

* floor: the Custom executor with a driver that runs each stage script
  with bash on this host (\`e2e/testdata/localshell-driver.sh\`): no pod,
  no service, the runner's own cost;
* k8sdrv: the Custom executor with k8sdrv;
* built-in: the runner's Kubernetes executor with its defaults (attach
  strategy, \`poll_interval\` 3 s), with the namespace, images and pull
  policy k8sdrv gets; the real node has no GitLab helper image, so
  \`gitlab-runner-helper\` (the same runner binary, which has the helper's
  \`read-logs\` and \`health-check\`) and \`gitlab-runner-build\` are mounted
  into its containers at \`/usr/local/bin\` (a \`host_path\` volume).

Every job must pass, with its script's and after_script's output in the
log; the pods of each job are gone before the next starts (untimed). The
columns are each way's median job; "above the floor" is a way's median
less the floor's, and the ratio is k8sdrv's time above the floor over the
built-in executor's.

| cluster | floor (local shell) | k8sdrv | built-in Kubernetes executor | k8sdrv above the floor | built-in above the floor | k8sdrv / built-in, above the floor | target |
| --- | --- | --- | --- | --- | --- | --- | --- |
$(raw=$kwok_runner_raw runner_row "local KWOK")
$(raw=$real_runner_raw runner_row "real node")

The built-in executor cannot run on KWOK: it runs each stage by attaching
to the build container's stdin, which KWOK never reads (KWOK's attach at
most follows a log file: the stage never runs and the runner waits for
it), and it keeps its stage scripts on an emptyDir volume that KWOK's
exec, which runs on this host, does not see.

Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($cpu), k8sdrv $version:

* KWOK: $(grep '^load average' "$kwok_runner_raw" || echo "load average not recorded")
* Real node: $(grep '^load average' "$real_runner_raw" || echo "not measured")

Reading the numbers:

* The built-in executor looks at its pod every \`poll_interval\` (3 s by
  default) until it runs, so its pod start takes whole steps of 3 s; and
  its helper's \`read-logs\` looks at a stage's log file again 0.5 s after
  reaching its end, so it sees a stage end up to 0.5 s late (in one job's
  trace on the real node: the pod running after 3.5 s, then about 0.5 s
  for each of four short stages). k8sdrv watches its pod, and a stage
  ends when its script does.
* On the real node, most of k8sdrv's time above the floor is the pod's
  start (four containers: build, helper, two services), which the floor
  does not pay: see the prepare floor above.
* The floor runs no pod, so on KWOK, where a pod is only simulated,
  k8sdrv's time above the floor is its own cost and the cluster's API
  calls.

\`\`\`
$(grep -h '^Benchmark' "$kwok_runner_raw" "$real_runner_raw")
\`\`\`

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
