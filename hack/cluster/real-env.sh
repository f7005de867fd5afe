# Settings of the real single-node cluster (CLUSTER=real); sourced, not run.
# shellcheck shell=bash disable=SC2034 # variables are used by the scripts that source this
#
# One real node per host: kubelet owns host-wide state (the kubepods cgroups,
# /var/lib/kubelet/device-plugins, sysctls), so the name is fixed. It runs side
# by side with the KWOK clusters: other directory, other ports.
CLUSTER_NAME=k8sdrv-real
CLUSTER_DIR=${REAL_CLUSTER_DIR:-}
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" # CLUSTER_DIR defaults to clusters/$CLUSTER_NAME
unset KWOK_WORKDIR
case $CLUSTER_DIR in /?*/?*) ;; *) # real-down.sh deletes it
  log "refusing CLUSTER_DIR=$CLUSTER_DIR for the real cluster"
  exit 2
  ;;
esac

# Must match hack/cluster/containerd/go.mod; part of the cache path.
CONTAINERD_VERSION=v2.4.2
# The sandbox image kubelet and containerd v2.4 default to (kubeadm's PauseVersion).
PAUSE_IMAGE=registry.k8s.io/pause:3.10.2
# Bump when the image recipe in real-images.sh changes: archives are cached by it.
IMAGES_VERSION=1
BUSYBOX_IMAGE=k8sdrv.local/busybox:1
DEBIAN_IMAGE=k8sdrv.local/debian:1
REDIS_IMAGE=k8sdrv.local/redis:1
HTTPD_IMAGE=k8sdrv.local/httpd:1

# kubelet and the runtime; the control plane comes from $CLUSTER_BIN (build.sh).
REAL_BIN=$K8SDRV_CACHE/real-$K8S_VERSION-containerd-$CONTAINERD_VERSION/bin
IMAGES_DIR=$K8SDRV_CACHE/images-v$IMAGES_VERSION

NODE_NAME=k8sdrv-node
KUBECONFIG_FILE=$CLUSTER_DIR/kubeconfig
PKI=$CLUSTER_DIR/pki
RUN_DIR=$CLUSTER_DIR/run    # pid files
LOG_DIR=$CLUSTER_DIR/logs
HOST_DIR=$CLUSTER_DIR/host  # host state saved at start, restored by real-down.sh
KUBELET_ROOT=$CLUSTER_DIR/kubelet
CONTAINERD_ROOT=$CLUSTER_DIR/containerd/root
CONTAINERD_STATE=$CLUSTER_DIR/containerd/state
CONTAINERD_SOCK=$CLUSTER_DIR/containerd/containerd.sock
CNI_CONF_DIR=$CLUSTER_DIR/cni/net.d
CNI_DATA_DIR=$CLUSTER_DIR/cni/ipam
CNI_BIN_DIR=/usr/lib/cni # Debian's containernetworking-plugins
# Shim sockets: containerd allows at most 42 characters for their directory.
SHIM_SOCKET_ROOT=/run/$CLUSTER_NAME

ETCD_PORT=${REAL_ETCD_PORT:-12379}
ETCD_PEER_PORT=${REAL_ETCD_PEER_PORT:-12380}
APISERVER_PORT=${REAL_APISERVER_PORT:-16443}
KCM_PORT=${REAL_KCM_PORT:-10257}
SCHEDULER_PORT=${REAL_SCHEDULER_PORT:-10259}
KUBELET_PORT=${REAL_KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=${REAL_KUBELET_HEALTHZ_PORT:-10248}

# Pod network: one bridge, host-local addresses, masquerade to the outside.
CNI_NETWORK=k8sdrv-real
CNI_BRIDGE=${REAL_CNI_BRIDGE:-k8sdrv-br0}
POD_SUBNET=${REAL_POD_SUBNET:-10.88.0.0/16}
SERVICE_SUBNET=${REAL_SERVICE_SUBNET:-10.96.0.0/16}

# Components, in start order; real-down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet)

# Sysctls kubelet (setupKernelTunables) and the bridge plugin change.
HOST_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward)
# Host paths kubelet, containerd or libcni create whatever their configuration
# says; real-down.sh removes the ones that did not exist before the start.
HOST_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni /run/containerd
  /var/run/netns /opt/containerd /usr/libexec/kubernetes /etc/cni /opt/cni)

ctr_() { "$REAL_BIN/ctr" --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# Pid of a running component, or nothing. The pid file is only trusted while
# the process still runs our binary, so a recycled pid is never signalled.
component_pid() { # name
  local pid exe
  pid=$(cat "$RUN_DIR/$1.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
  exe=${exe% (deleted)} # the binary was rebuilt while it ran
  case $exe in "$CLUSTER_BIN/$1" | "$REAL_BIN/$1") echo "$pid" ;; esac
}
