#!/usr/bin/env bash
# make demo: brings a local cluster up if needed and runs one sample job
# (an image, a service, five stages) through k8sdrv's four subcommands
# exactly as gitlab-runner's Custom executor calls them, printing the job log.
# It uses the real single-node cluster (real containers; the job talks to its
# redis service) and falls back to the KWOK cluster, saying so, where this
# machine cannot run a real node. DEMO_CLUSTER=kwok skips the attempt.
# shellcheck disable=SC2016 # stage commands expand inside the job's pod
set -euo pipefail
# shellcheck source=cluster/env.sh
source "$(dirname "$0")/cluster/env.sh"
cd "$HACK_CLUSTER/../.."
BIN=${K8SDRV_BINARY:-$PWD/bin/k8sdrv}

work=$(mktemp -d "${TMPDIR:-/tmp}/k8sdrv-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tmp"

cluster=${DEMO_CLUSTER:-real}
if [ "$cluster" = real ]; then
  if line=$(CLUSTER=real hack/cluster/up.sh 2>"$work/real-up.log" | tail -n1) && [ -n "$line" ]; then
    eval "export $line"
  else
    printf '\033[33;1mThis machine cannot run a real Kubernetes node (see %s);\nfalling back to the KWOK cluster, whose containers are simulated.\033[0m\n' "$work/real-up.log"
    tail -n 3 "$work/real-up.log" >&2 || true
    cluster=kwok
  fi
fi
if [ "$cluster" = kwok ]; then
  eval "export $(hack/cluster/up.sh | tail -n1)"
fi

# The operator's configuration: [runners.kubernetes] keys. On the KWOK
# cluster every container is the host, so the job's directories live in $work.
if [ "$cluster" = real ]; then
  image=k8sdrv.local/debian:1 redis=k8sdrv.local/redis:1
  cat >"$work/k8sdrv.toml" <<TOML
namespace = "default"
helper_image = "$image"
pull_policy = "never"
cpu_request = "100m"
memory_limit = "512Mi"
TOML
  builds=/builds
else
  image=debian:bookworm redis=redis:7
  cat >"$work/k8sdrv.toml" <<TOML
builds_dir = "$work/builds"
cache_dir = "$work/cache"
driver_dir = "$work/k8sdrv"
namespace = "default"
helper_image = "gitlab-runner-helper:local"
cpu_request = "100m"
memory_limit = "512Mi"
TOML
  builds=$work/builds
fi

# What gitlab-runner passes: the job response and the CUSTOM_ENV_ variables.
cat >"$work/tmp/response.json" <<JSON
{"id": 1001, "image": {"name": "$image"},
 "services": [{"name": "$redis", "alias": "cache"}]}
JSON
chmod 600 "$work/tmp/response.json"
export TMPDIR=$work/tmp K8SDRV_CONFIG=$work/k8sdrv.toml \
  JOB_RESPONSE_FILE=$work/tmp/response.json \
  BUILD_FAILURE_EXIT_CODE=1 SYSTEM_FAILURE_EXIT_CODE=2 \
  BUILD_EXIT_CODE_FILE=$work/tmp/exit-code \
  CUSTOM_ENV_CI_JOB_ID=1001 CUSTOM_ENV_CI_JOB_NAME=demo CUSTOM_ENV_CI_PROJECT_ID=1 \
  CUSTOM_ENV_CI_CONCURRENT_ID=0 CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN=demo1234 \
  CUSTOM_ENV_CI_JOB_IMAGE=$image

# stage NAME COMMANDS: writes a script shaped like gitlab-runner's and runs it.
stage() {
  local name=$1 script=$work/tmp/script-$1
  {
    printf '#!/usr/bin/env bash\n\ntrap exit 1 TERM\n\n'
    printf 'if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n'
    printf ': | eval %q\nexit 0\n' "export CI_PROJECT_DIR=$builds/demo CI_JOB_STATUS=${JOB_STATUS:-running}
$2"
  } >"$script"
  printf '\033[32;1m$ k8sdrv run <script> %s\033[0m\n' "$name"
  "$BIN" run "$script" "$name"
}

section() { printf '\033[36;1m%s\033[0m\n' "$*"; }

section "Running with k8sdrv $("$BIN" --version | awk '{print $3}')"
section '$ k8sdrv config'
"$BIN" config
section '$ k8sdrv prepare'
"$BIN" prepare
pod=$(sed 's/.*"pod":"\([^"]*\)".*/\1/' "$TMPDIR/k8sdrv-state.json")
section "The job's pod and its containers:"
"$CLUSTER_BIN/kubectl" get pod "$pod" -o 'jsonpath={range .spec.containers[*]}  {.name}: {.image}{"\n"}{end}  service aliases: {.spec.hostAliases[0].hostnames}{"\n"}'
trap '"$BIN" cleanup; rm -rf "$work"' EXIT
stage prepare_script 'echo "Running on $(uname -sm)"'
stage get_sources 'mkdir -p "$CI_PROJECT_DIR" && printf "print(\"hello\")\n" >"$CI_PROJECT_DIR/main.py"; echo "Fetched sources into $CI_PROJECT_DIR"'
stage build_script 'cd "$CI_PROJECT_DIR"; echo "Building..."; for i in 1 2 3; do echo "step $i/3"; sleep 0.2; done; ls'
if [ "$cluster" = real ]; then
  stage step_service 'exec 3<>/dev/tcp/cache/6379; printf "PING\r\n" >&3; printf "redis service \"cache\" answered: "; head -c 5 <&3; echo'
fi
JOB_STATUS=success stage after_script 'echo "after_script: job status $CI_JOB_STATUS"'
stage cleanup_file_variables 'true'
section '$ k8sdrv cleanup'
"$BIN" cleanup
trap 'rm -rf "$work"' EXIT
section "Job succeeded"
