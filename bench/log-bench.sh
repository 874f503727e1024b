#!/usr/bin/env bash
# log-bench.sh [--sizes "10 100 1024"] [--runs N]: `sluice log summary` and `hosts`
# beside the same grouping done with jq (`jq -r` + `sort | uniq -c`) and with
# a short Python script, on generated logs of 10 MiB, 100 MiB and 1 GiB (the
# writer's shape, tests/integration/loggen.py), in one run: throughput (MB/s
# of input, per wall second and per CPU second) and peak RSS for each, as
# ratios to sluice. Each figure is the run of median CPU time out of --runs
# (3); a peer's run over more than 100 MiB takes a minute or more, which
# evens out the machine's noise by itself, so those run once.
# Needs: jq, python3, GNU time (/usr/bin/time). Files go to a temp directory.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE=${SLUICE:-$HERE/../build/sluice}
SIZES="10 100 1024"
RUNS=3
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) SIZES=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	*) echo "usage: $0 [--sizes \"MIB...\"] [--runs N]" >&2; exit 2 ;;
	esac
done
for t in jq python3 /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "missing $t: apt-get install jq python3 time" >&2; exit 2; }
done
[ -x "$SLUICE" ] || { echo "build sluice first: $SLUICE is missing" >&2; exit 2; }
RUN=$(mktemp -d /var/tmp/sluice-log-bench.XXXXXX)
trap 'rm -rf "$RUN"' EXIT

cat >"$RUN/hosts.py" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1], "rb"):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("phase") == "decision":
        c[(r.get("server"), r.get("host"), r.get("port"))] += 1
for k, n in c.most_common():
    print(n, *k)
PY
cat >"$RUN/summary.py" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1], "rb"):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("phase") == "decision":
        c[(r.get("server"), r.get("event"), r.get("decision"), r.get("reason"))] += 1
for k, n in c.most_common():
    print(n, *k)
PY
JQ_HOSTS='select(.phase=="decision") | [.server, .host, (.port // "-")] | @tsv'
JQ_SUMMARY='select(.phase=="decision") | [.server, .event, .decision, (.reason // "-")] | @tsv'

# "<wall seconds> <CPU seconds> <peak RSS KiB>" of a command (RSS: its largest
# process; CPU: user+system of all its processes, the figure a loaded machine
# disturbs least)
measure() {
	/usr/bin/time -f '%e %U %S %M' -o "$RUN/t" "$@" >/dev/null 2>"$RUN/err" || { cat "$RUN/err" >&2; return 1; }
	tail -1 "$RUN/t" | awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }'
}
# median N CMD...: measure's line of the run with the median CPU time
median() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do measure "$@" || return 1; done | sort -k2,2n | sed -n "$(((n + 1) / 2))p"
}
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? b / 1e6 / s : 0) }'; }

echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sluice: $SLUICE"
printf '%-6s %-8s %-10s %8s %8s %9s %9s %10s %9s\n' size job tool wall_s cpu_s MB/s_wall MB/s_cpu RSS_KiB x_sluice
for mib in $SIZES; do
	log=$RUN/log-$mib.json
	python3 "$HERE/../tests/integration/loggen.py" "$mib" "$log"
	bytes=$(stat -c %s "$log")
	cat "$log" >/dev/null # the same warm page cache for every tool
	for job in summary hosts; do
		jqf=$JQ_SUMMARY
		[ "$job" = hosts ] && jqf=$JQ_HOSTS
		peer_runs=$RUNS
		[ "$mib" -gt 100 ] && peer_runs=1
		read -r s_s s_c s_rss < <(median "$RUNS" "$SLUICE" log "$job" "$log")
		read -r j_s j_c j_rss < <(median "$peer_runs" bash -c 'jq -r "$1" "$2" | sort | uniq -c' _ "$jqf" "$log")
		read -r p_s p_c p_rss < <(median "$peer_runs" python3 "$RUN/$job.py" "$log")
		s_mb=$(mbps "$bytes" "$s_c")
		for row in "sluice $s_s $s_c $s_rss" "jq+sort $j_s $j_c $j_rss" "python3 $p_s $p_c $p_rss"; do
			set -- $row
			mb=$(mbps "$bytes" "$3")
			ratio=$(awk -v a="$s_mb" -v b="$mb" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
			printf '%-6s %-8s %-10s %8s %8s %9s %9s %10s %9s\n' "${mib}M" "$job" "$1" "$2" "$3" \
				"$(mbps "$bytes" "$2")" "$mb" "$4" "$ratio"
		done
	done
	rm -f "$log"
done
echo "x_sluice: sluice's CPU throughput divided by the tool's (sluice's row is 1.0); load now $(cut -d' ' -f1-3 /proc/loadavg)"
