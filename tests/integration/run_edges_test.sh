#!/usr/bin/env bash
# run_edges_test.sh SLUICE: what a new user of `sluice run` and `sluice
# proxy` sees on stderr: the one line about removed environment variables
# (names only, never values; the TLS trust variables named), the one line
# per destination the kernel rejected (rate-limited like the DNS stub's
# denials, through the same limiter), and --log into a directory that does
# not exist (made 0700, or one line saying what to do; exit 125 for run, 1
# for proxy). No test world: the sandbox's only interface is its loopback,
# so the rejected connections go nowhere.
set -u
SLUICE=$(realpath "$1")
source "$(dirname "$0")/world.sh" # assertions and a work directory only
trap 'rm -rf "$WORLD_DIR"' EXIT
D=$WORLD_DIR
cd "$D"

echo "# removed variables"
env -i PATH=/usr/bin:/bin HOME=/root SLUICE_T_SECRET=value-never-shown NODE_EXTRA_CA_CERTS=/etc/ca-x.pem \
	SSL_CERT_FILE=/etc/ca-y.pem HTTP_PROXY=http://corp:8080 "$SLUICE" run -- true 2>"$D/env.err"
check "one line: how many were removed and how to keep one" \
	eq "$(grep -c "run: removed 3 variables from the environment (keep one with --env NAME or the policy's env:)" "$D/env.err")" 1
check "  naming the TLS trust variables among them" \
	grep -q "; among them NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, which a TLS-inspecting network needs$" "$D/env.err"
check "  never a value, nor the names of the others" \
	bash -c "! grep -qE 'value-never-shown|ca-x|ca-y|corp|SLUICE_T_SECRET' '$D/env.err'"
check "  (sluice's own HTTP_PROXY is not counted as removed)" bash -c "! grep -q HTTP_PROXY '$D/env.err'"
env -i PATH=/usr/bin:/bin HOME=/root SLUICE_T_SECRET=x "$SLUICE" run --env SLUICE_T_SECRET -- \
	sh -c 'test "$SLUICE_T_SECRET" = x' 2>"$D/keep.err"
check "a variable kept with --env: nothing removed, no line" eq "$?:$(grep -c 'removed' "$D/keep.err")" "0:0"
env -i PATH=/usr/bin:/bin HOME=/root A=1 B=2 "$SLUICE" run --env A -- true 2>"$D/one.err"
check "  and one removed: '1 variable'" grep -q "run: removed 1 variable from" "$D/one.err"

echo "# kernel-rejected connections"
"$SLUICE" run --log "$D/k.log" -- bash -c '
	for i in 1 2 3 4 5; do (exec 3<>/dev/tcp/203.0.113.5/22) 2>/dev/null; done
	(exec 3<>/dev/tcp/203.0.113.6/2222) 2>/dev/null
	getent hosts evil.test; getent hosts evil.test; true' 2>"$D/k.err"
check "each rejected connection is in the log" eq "$(jq -r 'select(.event=="packet") | "\(.host):\(.port)"' "$D/k.log" | sort | uniq -c | awk '{print $1 $2}' | tr '\n' ' ')" \
	"5203.0.113.5:22 1203.0.113.6:2222 "
check "one stderr line per destination, however many retries" \
	eq "$(grep -c '^sluice: tcp 203.0.113.5:22 refused (not_allowed): add "HOST:22" to allow, or use a name the policy allows$' "$D/k.err")" 1
check "  and another destination gets its own" \
	eq "$(grep -c '^sluice: tcp 203.0.113.6:2222 refused (not_allowed): add "HOST:2222" to allow' "$D/k.err")" 1
check "the DNS stub's denials still come once per name" eq "$(grep -c 'dns: denied .* evil.test' "$D/k.err")" 1

echo "# --log into a directory that does not exist"
"$SLUICE" run --log "$D/new/logs/run.jsonl" -- true 2>"$D/log.err"
check "run makes it and runs" eq "$?:$(stat -c %a "$D/new" "$D/new/logs" 2>&1 | sort -u)" "0:700"
check "  said once" eq "$(grep -c "made the log's directory $D/new/logs (mode 0700)" "$D/log.err")" 1
check "  and the log is there" test -f "$D/new/logs/run.jsonl"
touch "$D/file"
"$SLUICE" run --log "$D/file/sub/run.jsonl" -- touch "$D/ran" 2>"$D/bad.err"
check "run with a log path it cannot make: 125, one line saying what to do, the command never ran" \
	eq "$?:$(grep -c "cannot open log '$D/file/sub/run.jsonl': cannot make its directory $D/file/sub: Not a directory (make it, or give --log a path" "$D/bad.err"):$(ls "$D/ran" 2>/dev/null)" "125:1:"
timeout 10 "$SLUICE" proxy --listen 127.0.0.1:0 --policy npm --log "$D/file/sub/p.jsonl" 2>"$D/pbad.err"
check "proxy with an unusable log: exit 1 (not 2), the same line" \
	eq "$?:$(grep -c "cannot make its directory $D/file/sub" "$D/pbad.err")" "1:1"
finish
