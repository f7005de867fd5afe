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
# DIR names one attempt of a stage in the container's directory; the
# attempt's files are DIR.script, DIR.log, DIR.status and so on (a
# directory of their own would cost a mkdir per stage).
# The stage runs in its own session, writes its combined output to DIR.log and
# its exit code to DIR.status, so a dropped API connection never stops it and
# the result never depends on the exec stream. Stdout carries log bytes only;
# protocol lines go to stderr: "k8sdrv-status CODE LOGSIZE" or "k8sdrv-error WHAT".
# scripts/protocol.go names every word of this protocol; its test keeps this file to them.
#
# Every stage pays for what runs here, so it uses shell builtins wherever one
# will do. A stage that ends before the first poll starts, besides this
# shell: head (the script), the supervisor (setsid, then sh), the stage's
# shell, one sleep (the poll timer, which the supervisor cuts short) and
# one cat (the whole log). A longer stage adds a sleep per poll, and a cat
# per poll once it has printed something. Polls come every 0.2 s while the
# stage prints and twice as far apart after each poll that found nothing
# new, up to 1.6 s: a quiet stage costs a sleep and a cat every 1.6 s.
# The end of a stage is never late: its supervisor wakes the poll.
set -u
mode=$1 dir=$2 arg=$3 bin=${4-} supervise=${5-}
# supervise.sh sends USR1 when it has written the exit code. Trapped before
# the supervisor starts: untrapped, USR1 would end this shell.
wake=
trap 'wake=1' USR1

fail() { printf 'k8sdrv-error %s\n' "$1" >&2; exit 1; }

# offset FD sets pos to the offset of this shell's file descriptor FD: the
# bytes that the commands given it have read or written, without a process
# to count them. Empty where /proc does not say (no fdinfo, or no pos line in it).
offset() {
	pos=
	[ -r "/proc/$$/fdinfo/$1" ] && read -r key pos 2>/dev/null <"/proc/$$/fdinfo/$1" && [ "$key" = pos: ] || pos=
}

# claim creates DIR.claim if nobody has: noclobber makes the shell create it
# exclusively (O_EXCL), so of a start and a follower exactly one succeeds.
# echo, not ':': a failed redirection ends the shell at a special builtin.
claim() {
	set -C
	if echo $$ 2>/dev/null >"$dir.claim"; then
		set +C
		return 0
	fi
	set +C
	return 1
}

start() {
	# The container's first stage creates the container's directory and bin.
	[ -d "${dir%/*}" ] || mkdir -p "${dir%/*}" "$bin" || fail "cannot create ${dir%/*}"
	# Read exactly SIZE bytes: some runtimes never close an exec's stdin.
	# What arrived is the offset of the file's descriptor, or its size.
	pos=
	{ head -c "$arg" && offset 1; } >"$dir.script" || fail "cannot write $dir.script"
	got=${pos:-$(wc -c <"$dir.script")}
	# A short script means the stream broke while sending it: never run half a script.
	[ "$got" -eq "$arg" ] || fail "incomplete-script got $got of $arg bytes"
	true >"$dir.log" || fail "cannot write $dir.log"
	echo $$ >"$dir.follower"
	# A follower that claimed the attempt first has declared the stage not
	# started, and k8sdrv has moved on to a fresh attempt.
	claim || fail "abandoned"

	shell="sh"
	command -v bash >/dev/null 2>&1 && shell=bash
	# The GitLab helper image ships gitlab-runner-helper; stage scripts call
	# gitlab-runner. Looked up once per container ($bin/.checked).
	if [ ! -e "$bin/.checked" ]; then
		[ -d "$bin" ] || mkdir -p "$bin"
		if ! command -v gitlab-runner >/dev/null 2>&1 && helper=$(command -v gitlab-runner-helper); then
			ln -sf "$helper" "$bin/gitlab-runner"
		fi
		true >"$bin/.checked"
	fi
	detach=
	command -v setsid >/dev/null 2>&1 && detach=setsid
	# supervise.sh runs the script and records its exit code. It arrives as
	# an argument: a file in the pod would take an exec of its own to write.
	PATH=$bin:$PATH $detach sh -c "$supervise" k8sdrv-stage "$shell" "$dir" </dev/null >/dev/null 2>&1 &
	echo $! >"$dir.pgid"
	stream 0 3<"$dir.log" || fail "cannot read $dir.log"
}

follow() {
	# Claiming an attempt that no start has claimed (creating the
	# container's directory if need be) makes a start that arrives late
	# give up instead of running the script.
	[ -d "${dir%/*}" ] || mkdir -p "${dir%/*}" 2>/dev/null
	claim && fail "not-started"
	stream "$arg" 3<"$dir.log" || fail "cannot read $dir.log"
}

# stream OFFSET sends the log (fd 3) from byte OFFSET until the stage's exit
# code is there, then reports it. Every command that reads the log reads it
# through fd 3 and so moves fd 3 on: no process counts what was sent.
stream() {
	echo $$ >"$dir.follower"
	# After a reconnect: what the log holds past OFFSET (fd 3 ends at its end).
	if [ "$1" -gt 0 ]; then
		tail -c "+$(($1 + 1))" <&3 || exit 1
	fi
	# The poll interval in tenths of a second: 2 after a poll that found
	# output, doubled (up to 16) after one that found none; the first poll
	# is at once. Where /proc does not tell what cat read, it stays 2.
	interval=1 timer=
	while :; do
		wake=
		finished=
		# Asked before the status, so that a supervisor that wrote it and
		# then ended is never taken for one that died without it.
		lost=
		supervisor_gone && lost=1
		# One write of a few bytes: non-empty means complete.
		[ -s "$dir.status" ] && finished=1
		# What the log gained since the last cat; nothing while it is empty.
		offset 3
		before=$pos
		if [ -s "$dir.log" ]; then
			cat <&3 || exit 1
			offset 3
		fi
		if [ -n "$pos" ] && [ "$pos" = "$before" ]; then
			[ "$interval" -ge 16 ] || interval=$((interval * 2))
		else
			interval=2
		fi
		if [ -n "$finished" ]; then
			read -r code <"$dir.status"
			# The log size lets k8sdrv check that it holds every byte before
			# it takes the exit code: what was sent, fd 3's offset (pos,
			# read after the cat above). Where /proc does not tell, the
			# log's size, which is the same unless output came after the
			# status (k8sdrv then follows again).
			size=${pos:-$(wc -c <"$dir.log")}
			printf 'k8sdrv-status %s %s\n' "$code" "$size" >&2
			# The timer the supervisor cut short need not run out.
			[ -z "$timer" ] || kill "$timer" 2>/dev/null
			exit 0
		fi
		# Killed (by the script itself, or an OOM kill), it never will.
		[ -z "$lost" ] || fail "cannot get the exit code: the stage's supervisor (pid $pgid) ended without writing the exit code"
		# A newer follower (after a reconnect) has taken over: leave quietly.
		read -r current <"$dir.follower" && [ "$current" = $$ ] || exit 0
		if [ -z "$wake" ]; then
			sleep "$((interval / 10)).$((interval % 10))" >/dev/null 2>&1 &
			timer=$!
			[ -n "$wake" ] || wait "$timer"
		fi
	done
}

# supervisor_gone: supervise.sh (its pid is the stage's process group) has
# ended; a zombie that the container's init never reaps counts as ended.
# Unknown while start has not written the pid yet.
supervisor_gone() {
	[ -s "$dir.pgid" ] && read -r pgid <"$dir.pgid" || return 1
	kill -0 "$pgid" 2>/dev/null || return 0
	# It may end between the two questions: then /proc has no stat.
	read -r _pid _comm state _rest 2>/dev/null <"/proc/$pgid/stat" && [ "$state" = Z ]
}

signal() {
	read -r pgid 2>/dev/null <"$dir.pgid" || fail "not-started"
	kill "-$arg" "-$pgid" 2>/dev/null || kill "-$arg" "$pgid" 2>/dev/null || true
}

case $mode in
start) start ;;
follow) follow ;;
signal) signal ;;
*) fail "unknown mode $mode" ;;
esac
