# keepalive.sh: the main process of k8sdrv's build and helper containers.
# Stages arrive through exec; this only keeps the container running and exits
# at once on TERM so that deleting the pod does not wait for its grace period.
trap 'exit 0' TERM INT
while :; do
	sleep 3600 &
	wait $!
done
