#!/usr/bin/env bash
# Prints the kwokctl config (-c) for the local test cluster to stdout.
#
# Once the config holds any Stage, kwok stops loading its built-in stages, so
# this file carries them itself: the node and pod "fast" stages and the node
# heartbeat, read from the pinned kwok module so they match the kwok binaries.
# pod-ready gets one extra selector so that it never races our ErrImagePull
# stage for the same pod.
set -euo pipefail
source "$(dirname "$0")/env.sh"

# Pods with any (init) container image containing this marker fail to "pull";
# images containing the second marker fail only with imagePullPolicy Always
# (a registry that is down while the node has the image: the pull_policy
# list ["always", "if-not-present"] then succeeds on its second attempt).
IMAGE_PULL_ERROR_MARKER=doesnotexist
PULL_ALWAYS_ERROR_MARKER=pull-always-fails
# gojq query naming such containers; used by both stages so they stay exact
# inverses. It is put in single-quoted YAML, so it must not contain a quote.
IMAGE_PULL_ERROR_QUERY="(.spec.initContainers // [])[], .spec.containers[] | select((.image | contains(\"$IMAGE_PULL_ERROR_MARKER\")) or ((.image | contains(\"$PULL_ALWAYS_ERROR_MARKER\")) and .imagePullPolicy == \"Always\")) | .name"
# The same test as a kwok status template condition on a container (.).
IMAGE_PULL_ERROR_TEMPLATE="or (contains \"$IMAGE_PULL_ERROR_MARKER\" .image) (and (contains \"$PULL_ALWAYS_ERROR_MARKER\" .image) (eq .imagePullPolicy \"Always\"))"

kwok_module_dir() {
  # Outside any module (cd /), so the query never touches a go.mod; offline once cached.
  local dir
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "$dir" ] || { log "cannot find sigs.k8s.io/kwok@$KWOK_VERSION in the module cache"; return 1; }
  printf '%s\n' "$dir"
}

# Prints one upstream stage file as a YAML document.
stage() { # file
  printf -- '---\n# from sigs.k8s.io/kwok@%s/%s\n' "$KWOK_VERSION" "${1#"$KWOK_MOD"/}"
  cat "$1"
}

# pod-ready with "and no container image is the failing marker" added to its selector.
pod_ready_stage() {
  local src=$KWOK_MOD/kustomize/stage/pod/fast/pod-ready.yaml out
  [ "$(grep -c '^    matchExpressions:$' "$src")" = 1 ] || { log "unexpected layout of $src"; return 1; }
  out=$(awk -v q="$IMAGE_PULL_ERROR_QUERY" '
    { print }
    /^    matchExpressions:$/ {
      print "    - key: \047" q "\047"
      print "      operator: \047DoesNotExist\047"
    }' "$src")
  printf -- '---\n# from sigs.k8s.io/kwok@%s/kustomize/stage/pod/fast/pod-ready.yaml, plus the ErrImagePull inverse selector\n%s\n' "$KWOK_VERSION" "$out"
}

# Simulates a failed image pull the way kubelet reports it: pod stays Pending,
# the failing containers wait with reason ErrImagePull. The last selector stops
# the stage from re-applying itself forever once the status is set.
image_pull_error_stage() {
  cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-image-pull-error
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: '$IMAGE_PULL_ERROR_QUERY'
      operator: 'Exists'
    - key: '(.status.initContainerStatuses // [])[], (.status.containerStatuses // [])[] | select(.state.waiting.reason == "ErrImagePull") | .name'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ \$now := Now }}
      {{ \$initFailed := false }}
      {{ range .spec.initContainers }}{{ if $IMAGE_PULL_ERROR_TEMPLATE }}{{ \$initFailed = true }}{{ end }}{{ end }}
      conditions:
      - lastTransitionTime: {{ \$now | Quote }}
        status: {{ if \$initFailed }}"False"{{ else }}"True"{{ end }}
        type: Initialized
      - lastTransitionTime: {{ \$now | Quote }}
        reason: ContainersNotReady
        status: "False"
        type: Ready
      - lastTransitionTime: {{ \$now | Quote }}
        reason: ContainersNotReady
        status: "False"
        type: ContainersReady
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        imageID: ""
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            {{ if $IMAGE_PULL_ERROR_TEMPLATE }}
            reason: ErrImagePull
            message: {{ printf "Failed to pull image \"%s\": simulated by kwok: image not found" .image | Quote }}
            {{ else }}
            reason: PodInitializing
            {{ end }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        imageID: ""
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            {{ if $IMAGE_PULL_ERROR_TEMPLATE }}
            reason: ErrImagePull
            message: {{ printf "Failed to pull image \"%s\": simulated by kwok: image not found" .image | Quote }}
            {{ else if \$initFailed }}
            reason: PodInitializing
            {{ else }}
            reason: ContainerCreating
            {{ end }}
      {{ end }}
      phase: Pending
EOF
}

# Every exec into any pod runs as a local process on this host, started in
# EXEC_WORKDIR. A ClusterExec without selector matches all pods in all namespaces.
cluster_exec() {
  cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: local-exec
spec:
  execs:
  - local:
      workDir: '$EXEC_WORKDIR'
EOF
}

# LEADER_ELECT=false runs kube-scheduler and kube-controller-manager without
# leader election. There is one of each, so it only adds a way to stop: on a
# machine too busy to renew their lease in time (make bench-scale at load
# 45 on 2 cores) both exit, and kwokctl's binary runtime does not restart
# them.
leader_election() {
  [ "${LEADER_ELECT:-true}" = false ] || return 0
  cat <<EOF
---
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
componentsPatches:
- name: kube-scheduler
  extraArgs:
  - key: leader-elect
    value: 'false'
- name: kube-controller-manager
  extraArgs:
  - key: leader-elect
    value: 'false'
EOF
}

main() {
  KWOK_MOD=$(kwok_module_dir)
  printf '# Generated by hack/cluster/config.sh; do not edit.\n'
  leader_election
  cluster_exec
  stage "$KWOK_MOD/kustomize/stage/node/fast/node-initialize.yaml"
  # kwokctl's own default with node leases on (nodeLeaseDurationSeconds 40 for the
  # binary runtime); without a heartbeat stage the node controller would mark
  # the node NotReady and evict pods after the grace period.
  stage "$KWOK_MOD/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"
  pod_ready_stage
  stage "$KWOK_MOD/kustomize/stage/pod/fast/pod-complete.yaml"
  stage "$KWOK_MOD/kustomize/stage/pod/fast/pod-delete.yaml"
  image_pull_error_stage
}

main "$@"
