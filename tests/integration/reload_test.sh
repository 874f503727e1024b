#!/usr/bin/env bash
# reload_test.sh SLUICE: SIGHUP and --metrics for `sluice proxy` and
# `sluice dns` in a private namespace world. A changed policy decides new
# requests while an open tunnel keeps passing bytes; a broken one is refused
# (file:line:col on stderr, a reload record) and the old one stays; the log
# is rotated by a move and by logrotate while requests run, and every
# record lands exactly once; /metrics agrees with the audit log exactly.
set -u
SLUICE=$(realpath "$1")
source "$(dirname "$0")/world.sh"
world_up || { echo "could not build the test world"; exit 1; }

D=$WORLD_DIR
LOG=$D/audit.log
ERR=$D/sluice.err
POL=$D/policy.yaml
CURL=(in_host curl -sS --max-time 10 --cacert "$D/ca.pem" -x http://127.0.0.1:3128)

write_v1() {
	cat >"$POL" <<'YAML'
version: 1
name: reloadtest
allow: [allowed.test, "198.51.100.10:7008"]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
}
write_v2() {
	cat >"$POL" <<'YAML'
version: 1
name: reloadtest
allow: [other.test, allowed.test, "*.wild.test"]
deny: [allowed.test]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
}
write_v1

# the proxy's answer to the CONNECT, the origin's, and X-Sluice-Reason
via() {
	"${CURL[@]}" -o /dev/null -D "$D/hdr" -w '%{http_connect} %{http_code}' "$@" 2>/dev/null
	echo " $(tr -d '\r' <"$D/hdr" | awk -F': ' 'tolower($1)=="x-sluice-reason"{print $2}' | head -1)"
}

# wait until file $1 holds $2 lines matching $3 (at most 5 s)
wait_lines() {
	local i
	for i in $(seq 50); do
		[ "$(grep -c -- "$3" "$1" 2>/dev/null)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$POL" --log "$LOG" \
	--resolver 198.51.100.53 --metrics 127.0.0.1:9464 2>>"$ERR"
PX=$!
wait_port "$NS_HOST" 127.0.0.1 3128 && wait_port "$NS_HOST" 127.0.0.1 9464

# ---- reload: new decisions follow the new policy, the open tunnel stays -----
check "before: allowed.test passes" eq "$(via https://allowed.test/)" "200 200 "
check "before: other.test is refused" eq "$(via https://other.test/)" "403 000 not_allowed"

coproc HOLD { in_host python3 "$HERE/hold.py" 127.0.0.1 3128 198.51.100.10:7008; }
read -r -t 10 line <&"${HOLD[0]}"
check "a tunnel is open through the proxy" eq "$line" "open"
echo one >&"${HOLD[1]}"
read -r -t 10 line <&"${HOLD[0]}"
check "  and carries bytes" eq "$line" "echo:one"
scrape() { in_host curl -sS --max-time 5 http://127.0.0.1:9464/metrics; }
check "  /metrics counts it as an active connection" \
	eq "$(scrape | grep '^sluice_connections_active{')" 'sluice_connections_active{server="reloadtest"} 1'

write_v2
kill -HUP "$PX"
wait_lines "$ERR" 1 "reload: policy 'reloadtest'"
check "SIGHUP: the proxy says it reloaded" grep -q "reload: policy 'reloadtest' (enforce) for new connections" "$ERR"
check "  a newly allowed host passes" eq "$(via https://other.test/)" "200 200 "
check "  a newly denied host is refused" eq "$(via https://allowed.test/)" "403 000 denied_by_rule"
check "  a new tunnel to the dropped entry is refused" \
	eq "$(in_host python3 "$HERE/hold.py" 127.0.0.1 3128 198.51.100.10:7008 </dev/null)" "refused HTTP/1.1 403 Forbidden"
echo two >&"${HOLD[1]}"
read -r -t 10 line <&"${HOLD[0]}"
check "  the tunnel opened before still carries bytes" eq "$line" "echo:two"
check "  one reload record: allow, allowed" \
	eq "$(jq -c 'select(.event=="reload") | [.server, .decision, .reason]' "$LOG")" '["reloadtest","allow","allowed"]'
check "  still running" kill -0 "$PX"

# ---- a broken policy is refused; the old one stays --------------------------
printf 'version: 1\nname: reloadtest\nallow: [other.test]\nallow: [allowed.test]\nbogus: 1\n' >"$POL"
kill -HUP "$PX"
wait_lines "$ERR" 1 "refused; the old one stays"
check "broken policy + SIGHUP: errors with file:line:col on stderr" \
	grep -qE "^$POL:4:1: .*allow" "$ERR"
check "  every error is listed" grep -qE "^$POL:5:1: " "$ERR"
check "  said to be refused, the old one kept" grep -q "reload: policy '$POL' refused; the old one stays" "$ERR"
check "  a reload record: deny, bad_request" \
	eq "$(jq -c 'select(.event=="reload") | [.decision, .reason]' "$LOG" | tail -1)" '["deny","bad_request"]'
check "  the process is alive" kill -0 "$PX"
check "  the old policy still decides: other.test passes" eq "$(via https://other.test/)" "200 200 "
check "  and allowed.test is still denied" eq "$(via https://allowed.test/)" "403 000 denied_by_rule"
echo three >&"${HOLD[1]}"
read -r -t 10 line <&"${HOLD[0]}"
check "  the open tunnel still carries bytes" eq "$line" "echo:three"
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null
wait_lines "$LOG" 1 '"phase":"close".*"rule":"198.51.100.10:7008"'
check "  its close record names the rule of the policy it was opened under" \
	eq "$(jq -c 'select(.port==7008 and .phase=="close") | [.decision, .rule, .bytes_up]' "$LOG")" '["allow","198.51.100.10:7008",11]'

# ---- log rotation while requests run ----------------------------------------
write_v2
kill -HUP "$PX"
wait_lines "$ERR" 2 "reload: policy 'reloadtest' (enforce)"
N=300
(
	for i in $(seq $N); do
		in_host curl -s -o /dev/null --max-time 10 -x http://127.0.0.1:3128 "http://r$i.wild.test/"
	done
) &
LOOP=$!
wait_lines "$LOG" 60 'wild\.test'
mv "$LOG" "$LOG.moved"
kill -HUP "$PX"
wait_lines "$LOG" 60 'wild\.test'
# the shipped config, pointed at this log and this process
sed -e "s|^/var/log/sluice/.*{\$|$LOG {|" -e "s|systemctl reload .*|kill -HUP $PX|" \
	"$HERE/../../dist/logrotate/sluice" >"$D/logrotate.conf"
check "the shipped logrotate config, made to name this log and this pid" \
	eq "$(grep -c -e "^$LOG {" -e "kill -HUP $PX$" "$D/logrotate.conf")" "2"
check "logrotate rotates the log (a move, nocreate, postrotate kill -HUP)" \
	logrotate -f -s "$D/logrotate.state" "$D/logrotate.conf"
wait "$LOOP"
all_logs() { cat "$LOG.moved" "$LOG.1" "$LOG"; }
for i in $(seq 50); do
	[ "$(all_logs | jq -r 'select((.host // "") | test("^r[0-9]+\\.wild\\.test$"))' -c | wc -l)" -ge $((2 * N)) ] && break
	sleep 0.1
done
sleep 0.3
rot() { all_logs | jq -r 'select((.host // "") | test("^r[0-9]+\\.wild\\.test$")) | "\(.session) \(.phase) \(.host)"'; }
check "the moved file, the rotated one and the new one all got records" \
	test "$(grep -c wild.test "$LOG.moved")" -gt 0 -a "$(grep -c wild.test "$LOG.1")" -gt 0 -a "$(grep -c wild.test "$LOG")" -gt 0
check "  $N requests left exactly $((2 * N)) records (decision + close)" eq "$(rot | wc -l)" "$((2 * N))"
check "  none duplicated" eq "$(rot | sort -u | wc -l)" "$((2 * N))"
check "  one session per request, each with one decision and one close" \
	eq "$(rot | awk '{print $1, $2}' | sort | uniq -c | awk '$1==1' | wc -l) $(rot | awk '{print $1}' | sort -u | wc -l)" "$((2 * N)) $N"
check "  every host asked once" eq "$(rot | awk '$2=="decision"{print $3}' | sort -u | wc -l)" "$N"
check "  each reload record went to the file opened for it" \
	test "$(jq -c 'select(.event=="reload")' "$LOG.1" | wc -l)" -eq 1 -a "$(jq -c 'select(.event=="reload")' "$LOG" | wc -l)" -eq 1
check "  the new log's mode is 0600" eq "$(stat -c %a "$LOG")" "600"
check "  the proxy is alive" kill -0 "$PX"

# ---- /metrics agrees with the audit log -------------------------------------
scrape >"$D/metrics.txt"
check "/metrics answers in text format with HELP and TYPE" \
	grep -q '^# TYPE sluice_requests_total counter$' "$D/metrics.txt"
check "  content type 0.0.4" \
	eq "$(in_host curl -sS -o /dev/null -w '%{content_type}' http://127.0.0.1:9464/metrics)" "text/plain; version=0.0.4; charset=utf-8"
from_log=$(all_logs | jq -r 'select((.event=="connect" or .event=="http" or .event=="transparent") and .phase=="decision") | "\(.event) \(.decision) \(.reason)"' | sort | uniq -c | awk '{print $2, $3, $4, $1}' | sort)
from_metrics=$(sed -n 's/^sluice_requests_total{server="reloadtest",event="\([^"]*\)",decision="\([^"]*\)",reason="\([^"]*\)"} \([0-9]*\)$/\1 \2 \3 \4/p' "$D/metrics.txt" | sort)
check "  sluice_requests_total matches the log, by event, decision and reason" eq "$from_metrics" "$from_log"
check "  (and the log has several kinds)" test "$(printf '%s\n' "$from_log" | wc -l)" -ge 3
up=$(all_logs | jq -s '[.[] | .bytes_up // 0] | add')
down=$(all_logs | jq -s '[.[] | .bytes_down // 0] | add')
check "  sluice_bytes_total up and down are the log's sums ($up, $down)" \
	eq "$(grep '^sluice_bytes_total{server="reloadtest"' "$D/metrics.txt" | sort)" \
	"$(printf 'sluice_bytes_total{server="reloadtest",direction="down"} %s\nsluice_bytes_total{server="reloadtest",direction="up"} %s' "$down" "$up")"
ok=$(all_logs | jq -r 'select(.event=="reload" and .decision=="allow")' -c | wc -l)
failed=$(all_logs | jq -r 'select(.event=="reload" and .decision=="deny")' -c | wc -l)
check "  sluice_reloads_total: $ok ok, $failed failed, as logged" \
	eq "$(grep '^sluice_reloads_total' "$D/metrics.txt" | sort)" \
	"$(printf 'sluice_reloads_total{result="failed"} %s\nsluice_reloads_total{result="ok"} %s' "$failed" "$ok")"
check "  no connection active at rest" \
	grep -qx 'sluice_connections_active{server="reloadtest"} 0' "$D/metrics.txt"

# a bad scrape gets an error, never a crash
code() { in_host curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "GET /other: 404" eq "$(code http://127.0.0.1:9464/other)" "404"
check "POST /metrics: 405" eq "$(code -X POST -d x http://127.0.0.1:9464/metrics)" "405"
check "an oversize head: 431" eq "$(code -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" http://127.0.0.1:9464/metrics)" "431"
raw() { # send bytes, print the status line (or "closed")
	in_host python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", 9464), timeout=8)
s.sendall(sys.argv[1].encode().decode("unicode_escape").encode("latin-1"))
t = time.time()
d = s.recv(4096)
print(d.split(b"\r\n")[0].decode() if d else "closed %d" % round(time.time() - t))' "$1"
}
check "a malformed head (bare LF): 400" eq "$(raw 'GET /metrics HTTP/1.1\nHost: x\n\n')" "HTTP/1.1 400 Bad Request"
check "NUL in the head: 400" eq "$(raw 'GET /met\x00rics HTTP/1.1\r\nHost: x\r\n\r\n')" "HTTP/1.1 400 Bad Request"
check "a slow client is cut after 5 s" eq "$(raw 'GET /metrics HTTP/1.1\r\n')" "closed 5"
check "  and the endpoint still serves" grep -q '^sluice_requests_total' <(scrape)
check "past 8 scrapes at once, the next is closed at accept" eq "$(in_host python3 -c '
import socket, time
held = [socket.create_connection(("127.0.0.1", 9464)) for _ in range(8)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", 9464), timeout=3)
t = time.time()
try:
    d = s.recv(100)
except OSError:
    d = b""
print("closed" if not d and time.time() - t < 2 else "answered")')" "closed"
check "  and once they are gone it serves again" grep -q '^sluice_requests_total' <(scrape)
check "  the proxy is alive" kill -0 "$PX"

# ---- the command line -------------------------------------------------------
in_host "$SLUICE" proxy --listen 127.0.0.1:3999 --policy "$POL" --workers 2 --metrics 9999 2>"$D/w.err"
check "--metrics with --workers 2 is refused (exit 2)" eq "$?" "2"
check "  with a reason" grep -q -- "--metrics takes one process" "$D/w.err"
in_host "$SLUICE" proxy --listen 127.0.0.1:3999 --policy "$POL" --metrics localhost:9999 2>"$D/w.err"
check "--metrics with a name is refused (exit 2)" eq "$?" "2"

# ---- workers: the parent passes SIGHUP on ------------------------------------
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3131 --policy "$POL" --log "$D/w.log" --workers 2 \
	--resolver 198.51.100.53 2>>"$D/w.err"
WP=$!
wait_port "$NS_HOST" 127.0.0.1 3131
kill -HUP "$WP"
wait_lines "$D/w.log" 2 '"event":"reload"'
check "--workers 2 + SIGHUP: each worker reloads (two records)" \
	eq "$(jq -c 'select(.event=="reload") | .decision' "$D/w.log" | sort | uniq -c | awk '{print $1, $2}')" '2 "allow"'
check "  and the proxy still serves" \
	eq "$(in_host curl -s -o /dev/null -w '%{http_code}' --max-time 10 -x http://127.0.0.1:3131 http://other.test/)" "200"
check "  every process alive" eq "$(kill -0 "$WP" && pgrep -P "$WP" | wc -l)" "2"

# ---- a preset by name reloads too ---------------------------------------------
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3132 --policy npm --log "$D/npm.log" 2>>"$D/npm.err"
NP=$!
wait_port "$NS_HOST" 127.0.0.1 3132
kill -HUP "$NP"
wait_lines "$D/npm.log" 1 '"event":"reload"'
check "--policy npm + SIGHUP: reloaded" eq "$(jq -c 'select(.event=="reload") | [.server, .decision]' "$D/npm.log")" '["npm","allow"]'

# ---- a reload that adds a cache rule the CA cannot vouch for says so --------------
CPOL=$D/cache.yaml
printf 'version: 1\nname: cachereload\nallow: [registry.npmjs.org]\ncache: ["revalidate registry.npmjs.org/*"]\n' >"$CPOL"
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3133 --policy "$CPOL" --log "$D/cache.log" \
	--cache "$D/cstore" --ca "$D/cca" 2>>"$D/cache.err"
CP=$!
wait_port "$NS_HOST" 127.0.0.1 3133
check "--cache: a policy whose cache hosts the CA permits starts without a warning" \
	eq "$(grep -c 'outside the CA' "$D/cache.err")" "0"
printf 'version: 1\nname: cachereload\nallow: [registry.npmjs.org, npm.corp.test]\ncache: ["revalidate registry.npmjs.org/*", "revalidate npm.corp.test/*"]\n' >"$CPOL"
kill -HUP "$CP"
wait_lines "$D/cache.log" 1 '"event":"reload"'
check "  SIGHUP adding npm.corp.test's cache rule: one stderr line says its TLS stays a tunnel" \
	eq "$(grep 'outside the CA' "$D/cache.err" | grep -c "npm.corp.test .*stays a tunnel")" "1"

# ---- sluice dns ------------------------------------------------------------------
DPOL=$D/dns.yaml
printf 'version: 1\nname: dnsreload\nallow: [allowed.test]\nallow_private: ["198.51.100.0/24"]\n' >"$DPOL"
world_bg "$NS_HOST" "$SLUICE" dns --listen 127.0.0.1:5300 --policy "$DPOL" --upstream 198.51.100.53 \
	--log "$D/dns.log" --metrics 9465 2>>"$D/dns.err"
DP=$!
wait_port "$NS_HOST" 127.0.0.1 5300 && wait_port "$NS_HOST" 127.0.0.1 9465
dg() { in_host dig +time=3 +tries=1 -p 5300 @127.0.0.1 "$1" A | awk '/status:/{gsub(",","",$6); s=$6} /^[^;].*\tA\t/{a=$NF} END{print s, a}'; }
check "dns before: allowed.test answered" eq "$(dg allowed.test)" "NOERROR 198.51.100.10"
check "dns before: other.test NXDOMAIN" eq "$(dg other.test)" "NXDOMAIN "
printf 'version: 1\nname: dnsreload\nallow: [other.test]\nallow_private: ["198.51.100.0/24"]\n' >"$DPOL"
kill -HUP "$DP"
wait_lines "$D/dns.log" 1 '"event":"reload"'
check "dns SIGHUP: a name allowed now gets an answer" eq "$(dg other.test)" "NOERROR 198.51.100.10"
check "  a name no longer allowed gets NXDOMAIN" eq "$(dg allowed.test)" "NXDOMAIN "
printf 'version: 1\nallow: [\n' >"$DPOL"
kill -HUP "$DP"
wait_lines "$D/dns.log" 2 '"event":"reload"'
check "dns broken policy: refused with file:line:col" grep -qE "^$DPOL:[0-9]+:[0-9]+: " "$D/dns.err"
check "  the old one stays" eq "$(dg other.test)" "NOERROR 198.51.100.10"
check "  the stub is alive" kill -0 "$DP"
dm=$(in_host curl -sS --max-time 5 http://127.0.0.1:9465/metrics)
check "dns /metrics on a bare port (127.0.0.1) counts queries as the log does" \
	eq "$(printf '%s\n' "$dm" | sed -n 's/^sluice_dns_queries_total{server="dnsreload",decision="\([a-z_]*\)"} \([0-9]*\)$/\1 \2/p' | sort)" \
	"$(jq -r 'select(.event=="dns") | .decision' "$D/dns.log" | sort | uniq -c | awk '{print $2, $1}')"
check "  and its reloads" eq "$(printf '%s\n' "$dm" | grep '^sluice_reloads_total' | sort | tr '\n' ' ')" \
	'sluice_reloads_total{result="failed"} 1 sluice_reloads_total{result="ok"} 1 '

# ---- SIGTERM still stops them, cleanly -------------------------------------------
for p in "$PX" "$DP" "$NP" "$WP" "$CP"; do
	kill -TERM "$p"
	wait "$p"
	check "SIGTERM: pid $p exits 0" eq "$?" "0"
done
check "no sanitizer report on any stderr" eval '! cat "$ERR" "$D/dns.err" "$D/npm.err" "$D/w.err" "$D/cache.err" | grep -q Sanitizer'

finish
