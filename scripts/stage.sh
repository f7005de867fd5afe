# stage.sh: runs one CI stage detached inside a job container and streams its log.
#
# k8sdrv passes this file inline: sh -c "<this file>" k8sdrv MODE DIR ARG [BIN SUPERVISE]
#   start  DIR SIZE BIN SUPERVISE
#                      read the stage script (SIZE bytes) from stdin, start it
#                      detached under SUPERVISE (supervise.sh, inline) with BIN
#                      (the container's own commands) first on its PATH, then
#                      follow its log from byte 0
#   follow DIR OFFSET  follow the log of a started stage from byte OFFSET
#   signal DIR SIGNAL  send SIGNAL to the stage's process group
#
# The stage runs in its own session, writes its combined output to DIR/log and
# its exit code to DIR/status, so a dropped API connection never stops it and
# the result never depends on the exec stream. Stdout carries log bytes only;
# protocol lines go to stderr: "k8sdrv-status CODE LOGSIZE" or "k8sdrv-error WHAT".
# scripts/protocol.go names every word of this protocol; its test keeps this file to them.
set -u
mode=$1 dir=$2 arg=$3 bin=${4-} supervise=${5-}

fail() { printf 'k8sdrv-error %s\n' "$1" >&2; exit 1; }

start() {
	mkdir -p "$dir" || fail "cannot create $dir"
	# Read exactly SIZE bytes: some runtimes never close an exec's stdin.
	head -c "$arg" >"$dir/script.part" || fail "cannot write $dir/script.part"
	got=$(wc -c <"$dir/script.part")
	# A short script means the stream broke while sending it: never run half a script.
	[ "$got" -eq "$arg" ] || fail "incomplete-script got $got of $arg bytes"
	: >"$dir/log"
	echo $$ >"$dir/follower"
	# Claim the directory; a follower that claimed it first has declared the
	# stage not started, and k8sdrv has moved on to a fresh directory.
	mkdir "$dir/claim" 2>/dev/null || fail "abandoned"
	mv "$dir/script.part" "$dir/script" || fail "cannot commit $dir/script"

	shell="sh"
	command -v bash >/dev/null 2>&1 && shell=bash
	# The GitLab helper image ships gitlab-runner-helper; stage scripts call
	# gitlab-runner. Looked up once per container ($bin/.checked).
	if [ ! -e "$bin/.checked" ]; then
		mkdir -p "$bin"
		if ! command -v gitlab-runner >/dev/null 2>&1 && helper=$(command -v gitlab-runner-helper); then
			ln -sf "$helper" "$bin/gitlab-runner"
		fi
		: >"$bin/.checked"
	fi
	detach=
	command -v setsid >/dev/null 2>&1 && detach=setsid
	# supervise.sh runs the script and records its exit code. It arrives as
	# an argument: a file in the pod would take an exec of its own to write.
	PATH=$bin:$PATH $detach sh -c "$supervise" k8sdrv-stage "$shell" "$dir" </dev/null >/dev/null 2>&1 &
	echo $! >"$dir/pgid"
	follow 0
}

follow() {
	off=$1
	# Claiming a directory whose script never arrived (creating it if need
	# be) makes a launcher that arrives late give up instead of running it.
	if [ ! -f "$dir/script" ] && mkdir -p "$dir" && mkdir "$dir/claim" 2>/dev/null; then
		fail "not-started"
	fi
	echo $$ >"$dir/follower"
	trap 'wake=1' USR1
	while :; do
		wake=
		finished=
		# Asked before the status, so that a supervisor that wrote it and
		# then ended is never taken for one that died without it.
		lost=
		supervisor_gone && lost=1
		# One write of a few bytes: non-empty means complete.
		[ -s "$dir/status" ] && finished=1
		size=$(wc -c <"$dir/log") || fail "cannot read $dir/log"
		if [ "$size" -gt "$off" ]; then
			tail -c +$((off + 1)) "$dir/log" | head -c $((size - off)) || exit 1
			off=$size
		fi
		if [ -n "$finished" ]; then
			read -r code <"$dir/status"
			# The log size lets k8sdrv check that it holds every byte before
			# it takes the exit code.
			printf 'k8sdrv-status %s %s\n' "$code" "$off" >&2
			exit 0
		fi
		# Killed (by the script itself, or an OOM kill), it never will.
		[ -z "$lost" ] || fail "cannot get the exit code: the stage's supervisor (pid $pgid) ended without writing the exit code"
		# A newer follower (after a reconnect) has taken over: leave quietly.
		read -r current <"$dir/follower" && [ "$current" = $$ ] || exit 0
		sleep 0.2 >/dev/null 2>&1 &
		[ -n "$wake" ] || wait $!
	done
}

# supervisor_gone: supervise.sh (its pid is the stage's process group) has
# ended; a zombie that the container's init never reaps counts as ended.
# Unknown while start has not written the pid yet.
supervisor_gone() {
	[ -s "$dir/pgid" ] && read -r pgid <"$dir/pgid" || return 1
	kill -0 "$pgid" 2>/dev/null || return 0
	[ -r "/proc/$pgid/stat" ] && read -r _pid _comm state _rest <"/proc/$pgid/stat" && [ "$state" = Z ]
}

signal() {
	read -r pgid <"$dir/pgid" || fail "not-started"
	kill "-$arg" "-$pgid" 2>/dev/null || kill "-$arg" "$pgid" 2>/dev/null || true
}

case $mode in
start) start ;;
follow) follow "$arg" ;;
signal) signal ;;
*) fail "unknown mode $mode" ;;
esac
