# waitports.sh: waits, for k8sdrv's prepare, until the job's services listen
# on their TCP ports.
#
# k8sdrv passes this file inline: sh -c "<this file>" k8sdrv-wait SECONDS PORT...
#
# The containers of a pod share one network namespace, so the socket tables
# of the container this runs in (/proc/net/tcp, /proc/net/tcp6) list the
# services' sockets too. A port is ready when a socket in state LISTEN (0A)
# is bound to it on 0.0.0.0, 127.0.0.1, :: or ::ffff:127.0.0.1: the kernel
# then accepts connections to 127.0.0.1, where the services' aliases point.
# Reading the tables instead of connecting needs nothing but sh, and
# services that log every connection (postgres: "incomplete startup
# packet") see none.
#
# For each port, once, as it starts to listen: "k8sdrv-ready PORT" on stderr.
# Exits 0 when every port listens, 1 after SECONDS (k8sdrv's own deadline
# comes first: this only ends a probe nobody reads any more), and 1 with
# "k8sdrv-error WHAT" when the socket tables cannot be read.
# scripts/protocol.go names the words; its test keeps this file to them.
set -u
limit=$1
shift

# The tables show ports as four upper-case hex digits.
want=
for port in "$@"; do
	want="$want $(printf '%04X' "$port")=$port"
done

if [ ! -r /proc/net/tcp ] && [ ! -r /proc/net/tcp6 ]; then
	printf 'k8sdrv-error %s\n' "cannot read /proc/net/tcp or /proc/net/tcp6 in the helper container" >&2
	exit 1
fi

# Tenths of a second per round: sleep takes fractions in busybox, GNU and
# most others; where it does not, a round is a second.
step=1
sleep 0.1 2>/dev/null || step=10

# listens tells whether table text $1 holds a LISTEN socket on hex port $2
# reachable at 127.0.0.1. A listening socket's line reads
# "N: LOCAL:PORT REMOTE:0000 0A ..." with a remote address of zeros. Matching
# the text whole is fast; a read loop over /proc takes a system call a byte.
listens() {
	v4=00000000 v6=00000000000000000000000000000000
	for local in $v4 0100007F $v6 0000000000000000FFFF00000100007F; do
		remote=$v4
		[ ${#local} = 32 ] && remote=$v6
		case $1 in
		*": $local:$2 $remote:0000 0A "*) return 0 ;;
		esac
	done
	return 1
}

elapsed=0
while :; do
	tables=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	left=
	for entry in $want; do
		if listens "$tables" "${entry%=*}"; then
			printf 'k8sdrv-ready %s\n' "${entry#*=}" >&2
		else
			left="$left $entry"
		fi
	done
	want=$left
	[ -z "$want" ] && exit 0
	[ "$elapsed" -ge $((limit * 10)) ] && exit 1
	if [ "$step" = 1 ]; then sleep 0.1; else sleep 1; fi
	elapsed=$((elapsed + step))
done
