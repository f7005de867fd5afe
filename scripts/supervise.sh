# supervise.sh: runs one stage script in the stage's own session and records
# its exit code. stage.sh starts it detached, passing this file inline:
#   sh -c "<this file>" k8sdrv-stage SHELL DIR
# SHELL runs DIR.script with its combined output in DIR.log; the exit code
# goes to DIR.status in one write, then the follower named in DIR.follower
# (the stage.sh process currently streaming the log) is woken with USR1.
# Only the stage's shell is a process of its own; the rest are builtins.
#
# TERM and HUP are trapped, not ignored: the stage script and its children
# must still see them, only this shell stays to record the exit code.
trap : TERM HUP
shell=$1 dir=$2
# A script killed (137) while the container's out-of-memory kill count rose
# gets a line saying so: kubelet only reports OOMKilled when the whole
# container dies. The count is read with builtins (no process).
oom_kills() {
	n=0
	for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
		[ -r "$f" ] || continue
		while read -r k v; do [ "$k" = oom_kill ] && n=$v; done <"$f"
	done
}
oom_kills
before=$n
"$shell" "$dir.script" <"/dev/null" >"$dir.log" 2>&1
code=$?
if [ "$code" = 137 ]; then
	oom_kills
	[ "$n" -gt "$before" ] && echo "k8sdrv: the script was killed by the out-of-memory killer: its container reached its memory limit" >>"$dir.log"
fi
echo "$code" >"$dir.status"
read -r f <"$dir.follower" && kill -USR1 "$f"
exit 0
