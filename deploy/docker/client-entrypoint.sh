#!/bin/sh
# The deployment's one-shot client: waits until $WORKERS workers (default 2) answer a ping on
# $MAESTRO_BROKER (at most $WORKER_WAIT seconds, default 60), then runs
# `allegro test ${TEST_TYPE:-fixed-rate}` with Maestro's environment variables and any
# further arguments, its files going to /results/test. Exits with the test's status.
set -eu
want=${WORKERS:-2}
began=$(date +%s)
while :; do
	n=$(allegro ping --wait 1s 2>/dev/null | sed -n 's/^\([0-9][0-9]*\) peer(s) answered$/\1/p')
	[ "${n:-0}" -ge "$want" ] && break
	waited=$(($(date +%s) - began))
	if [ "$waited" -ge "${WORKER_WAIT:-60}" ]; then
		echo "allegro-client: ${n:-0} of $want workers answered on $MAESTRO_BROKER after ${waited}s" >&2
		exit 1
	fi
	# A broker that refuses at once would otherwise make this a busy loop.
	sleep 1
done
echo "allegro-client: $n workers answered on $MAESTRO_BROKER; running ${TEST_TYPE:-fixed-rate}" >&2
exec allegro test "${TEST_TYPE:-fixed-rate}" --results /results/test "$@"
