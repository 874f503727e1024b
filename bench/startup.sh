#!/usr/bin/env bash
# startup.sh [N]: start-up cost of `sluice run -- /bin/true` (median and p90
# of N runs, default 200), beside /bin/true alone and `unshare -Urnm
# /bin/true` (the namespaces without sluice's set-up), from one run.
# Needs root or unprivileged user namespaces; touches no network.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE=${SLUICE:-$HERE/../build/sluice}
N=${1:-200}
[ -x "$SLUICE" ] || { echo "build sluice first: $SLUICE is missing" >&2; exit 2; }
LOG=$(mktemp /tmp/sluice-startup.XXXXXX)
trap 'rm -f "$LOG"' EXIT

# milliseconds per run of "$@", one per line
times() {
	for _ in $(seq "$N"); do
		local t0 t1
		t0=${EPOCHREALTIME/./} # microseconds, without forking a clock
		"$@" >/dev/null 2>&1
		t1=${EPOCHREALTIME/./}
		echo $((t1 - t0))
	done | sort -n | awk '{a[NR] = $1} END {printf "median %.2f ms, p90 %.2f ms\n", a[int((NR + 1) / 2)] / 1000, a[int(NR * 0.9)] / 1000}'
}
echo "# start-up, $N runs each, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "/bin/true:                         $(times /bin/true)"
echo "unshare -Urnm /bin/true:           $(times unshare -Urnm /bin/true)"
echo "sluice run -- /bin/true:           $(times "$SLUICE" run --log "$LOG" -- /bin/true)"
