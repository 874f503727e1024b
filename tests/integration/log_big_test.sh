#!/usr/bin/env bash
# log_big_test.sh SLUICE: `sluice log` on a generated 1 GiB log (loggen.py:
# the writer's exact shape, 4 servers, 400 hosts, every event kind): every
# subcommand, filter and format reads it whole, in bounded memory, and the
# counts agree with grep's over the same bytes. The release build runs it;
# the sanitizer build reads the small logs of log_test.sh.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/sluice-logbig.XXXXXX)
trap 'rm -rf "$D"' EXIT
T_PASS=0 T_FAIL=0
check() {
	local name=$1
	shift
	if "$@"; then T_PASS=$((T_PASS + 1)); echo "ok - $name"; else T_FAIL=$((T_FAIL + 1)); echo "not ok - $name"; fi
}
eq() { [ "$1" == "$2" ] && return 0; echo "    expected: $2" >&2; echo "    got:      $1" >&2; return 1; }
L=$D/big.log
python3 "$HERE/loggen.py" 1024 "$L" || { echo "could not generate the log"; exit 1; }
check "the generated log is 1 GiB" test "$(stat -c %s "$L")" -ge $((1 << 30))

# run NAME ARGS...: sluice log ARGS on the big log; stdout in $D/NAME.out,
# stderr in $D/NAME.err, peak RSS (KiB) in $D/NAME.rss
run() {
	local name=$1
	shift
	/usr/bin/time -f %M -o "$D/$name.rss" "$SLUICE" log "$@" "$L" >"$D/$name.out" 2>"$D/$name.err"
}
fine() { # fine NAME: exit 0, nothing on stderr, RSS under 64 MiB
	local rc=$1 name=$2
	[ "$rc" == 0 ] && [ ! -s "$D/$name.err" ] && [ "$(tail -1 "$D/$name.rss")" -lt 65536 ] && return 0
	echo "    rc $rc, stderr: $(head -c 300 "$D/$name.err"), rss $(tail -1 "$D/$name.rss") KiB" >&2
	return 1
}
requests() { grep -cE "\"event\":\"(connect|http|transparent)\",\"phase\":\"decision\",\"server\":\"$1\"" "$L"; }

run summary summary --format json
check "summary --format json: whole log, no invalid line, RSS < 64 MiB" fine $? summary
check "  its request counts equal grep's, server by server" \
	eq "$(jq -r '.servers[] | "\(.server) \(.requests)"' "$D/summary.out" | sort | tr '\n' ' ')" \
	"$(for s in build docs github npm; do printf '%s %s ' "$s" "$(requests "$s")"; done)"
check "  its DNS counts too" \
	eq "$(jq '[.servers[].dns] | add' "$D/summary.out")" "$(grep -c '"event":"dns"' "$L")"
check "  and the kernel rejects" \
	eq "$(jq '[.servers[].kernel_rejects] | add' "$D/summary.out")" "$(grep -c '"event":"packet"' "$L")"
run summary_text summary
check "summary, text" fine $? summary_text
run summary_csv summary --format csv
check "summary, csv: the header and a row per server" fine $? summary_csv
run hosts hosts --format csv
check "hosts --format csv" fine $? hosts
check "  one row per server, host and port seen (4 x 400 hosts x ports)" test "$(($(wc -l <"$D/hosts.out") - 1))" -ge 1600
run server summary --server github --format json
check "--server github: only github" \
	eq "$(jq -r '[.servers[].server] | join(",")' "$D/server.out"):$(jq '.servers[0].requests' "$D/server.out")" "github:$(requests github)"
run host hosts --host '*.d7.example.org' --format json
check "--host '*.d7.example.org': only its names" \
	eq "$(jq -r '[.hosts[].host | select(endswith(".d7.example.org") | not)] | length' "$D/host.out")" "0"
check "  all of them (10 names x 4 servers)" \
	eq "$(jq -r '[.hosts[] | "\(.server) \(.host)"] | unique | length' "$D/host.out")" "40"
run deny summary --decision deny --format json
check "--decision deny: the deny counts, nothing else" \
	eq "$(jq '[.servers[] | .allow + .would_deny] | add' "$D/deny.out"):$(jq '[.servers[].deny] | add' "$D/deny.out")" \
	"0:$(grep -cE '"event":"(connect|http|transparent)","phase":"decision".*"decision":"deny"' "$L")"
run ev summary --event dns --format json
check "--event dns: only DNS" eq "$(jq '[.servers[].requests] | add' "$D/ev.out")" "0"
first=$(head -1 "$L" | jq -r .ts) last=$(tail -1 "$L" | jq -r .ts)
run window summary --since 2025-01-01T00:30:00Z --until 2025-01-01T00:40:00Z --format json
check "--since/--until: a window inside the log" \
	eq "$(jq -r '[.servers[].first >= "2025-01-01T00:30:00"] | all' "$D/window.out") $(jq -r '[.servers[].last < "2025-01-01T00:40:00.001Z"] | all' "$D/window.out")" "true true"
run policy policy --server npm --name npm-proposed
check "policy --server npm: a proposal" fine $? policy
accepts() { "$SLUICE" policy check "$1" >/dev/null; }
check "  that sluice policy check accepts" accepts "$D/policy.out"
printf 'version: 1\nname: npm\nallow: [h1.d1.example.org, never.example.org]\n' >"$D/npm.yaml"
/usr/bin/time -f %M -o "$D/diff.rss" "$SLUICE" log diff "$D/npm.yaml" --server npm "$L" >"$D/diff.out" 2>"$D/diff.err"
check "diff POLICY on the big log" test "$(tail -1 "$D/diff.rss")" -lt 65536
check "  names the entry never used" grep -q never.example.org "$D/diff.out"
run report report --html "$D/report.html"
check "report --html on the big log" fine $? report
check "  one self-contained file with its charts" \
	eq "$(grep -c '<svg' "$D/report.html" | sed 's/^[1-9][0-9]*$/y/'):$(grep -cE '<script[^>]+src=|<link[^>]+href=|<img[^>]+src=' "$D/report.html")" "y:0"
/usr/bin/time -f %M -o "$D/stdin.rss" sh -c "cat '$L' | '$SLUICE' log summary --format json - >'$D/stdin.out' 2>'$D/stdin.err'"
check "stdin: the same summary as the file" eq "$(cmp -s "$D/stdin.out" "$D/summary.out" && echo same)" "same"
echo "# first $first, last $last; peak RSS (KiB): summary $(tail -1 "$D/summary.rss"), hosts $(tail -1 "$D/hosts.rss"), report $(tail -1 "$D/report.rss")"
echo "$T_PASS passed, $T_FAIL failed"
[ "$T_FAIL" -eq 0 ]
