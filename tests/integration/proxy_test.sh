#!/usr/bin/env bash
# proxy_test.sh SLUICE: `sluice proxy` against real nginx, dnsmasq and curl in
# a private namespace world. Each case checks the answer and the exact audit
# records it leaves.
set -u
SLUICE=$(realpath "$1")
source "$(dirname "$0")/world.sh"
world_up || { echo "could not build the test world"; exit 1; }

D=$WORLD_DIR
LOG=$D/audit.log
cat >"$D/policy.yaml" <<'YAML'
version: 1
name: itest
allow:
  - allowed.test
  - "*.wild.test"
  - rebind.test
  - private.test
  - v6only.test
  - metadata.google.internal.evil.test
  - 198.51.100.10:8081
  - 198.51.100.10:7007
  - 198.51.100.10:7008
  - 198.51.100.10:7009
  - allowed.test:7098
  - allowed.test:7099
deny: [bad.wild.test]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML

start_proxy() { # extra args...
	world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --listen '[::1]:3128' \
		--policy "$D/policy.yaml" --log "$LOG" --resolver 198.51.100.53 "$@" 2>>"$D/sluice.err"
	SLUICE_PID=$!
	wait_port "$NS_HOST" 127.0.0.1 3128
}
start_proxy

CURL=(in_host curl -sS --max-time 10 --cacert "$D/ca.pem" -x http://127.0.0.1:3128)

# Records for one host as "event phase decision reason" lines, waiting up to
# 3 s for the expected count (close records follow the client's exit).
records() {
	local host=$1 want=$2 i out
	for i in $(seq 30); do
		out=$(jq -r --arg h "$host" 'select(.host==$h) | "\(.event) \(.phase) \(.decision // "-") \(.reason // "-")"' "$LOG")
		[ "$(printf '%s' "$out" | grep -c .)" -ge "$want" ] && break
		sleep 0.1
	done
	sleep 0.2
	jq -r --arg h "$host" 'select(.host==$h) | "\(.event) \(.phase) \(.decision // "-") \(.reason // "-")"' "$LOG"
}

# curl through the proxy: prints "<code> <reason header>"
via() {
	"${CURL[@]}" -o "$D/body" -D "$D/hdr" -w '%{http_code} %{http_connect}' "$@" >"$D/codes" 2>"$D/curl.err"
	local reason
	reason=$(tr -d '\r' <"$D/hdr" | awk -F': ' 'tolower($1)=="x-sluice-reason"{print $2}' | head -1)
	echo "$(cat "$D/codes") ${reason:--}"
}

# ---- allowed traffic -------------------------------------------------------
check "HTTPS through CONNECT reaches an allowed origin" \
	eq "$(via https://allowed.test/)" "200 200 -"
check "  and the origin answered" eq "$(cat "$D/body")" "hello from allowed.test"
check "  leaving a decision and a close record" \
	eq "$(records allowed.test 2 | grep -c '^connect ')" "2"
check "  close record carries bytes and durations" \
	eq "$(jq -r 'select(.host=="allowed.test" and .phase=="close") | (.bytes_up>0 and .bytes_down>0 and .duration_ms>=0 and (.remote|length>0))' "$LOG" | head -1)" "true"
check "  decision record lists the vetted addresses" \
	eq "$(jq -c 'select(.host=="allowed.test" and .phase=="decision") | .addrs | sort' "$LOG" | head -1)" '["198.51.100.10","2001:db8::10"]'

check "plain HTTP (absolute-form) reaches an allowed origin" \
	eq "$(via http://x.wild.test/path?q=1)" "200 000 -"
check "  wildcard subdomain answered" eq "$(cat "$D/body")" "hello from x.wild.test"
check "  records: http decision allow + close" \
	eq "$(records x.wild.test 2)" "$(printf 'http decision allow allowed\nhttp close allow -')"

check "EXAMPLE.COM. spelling is normalised (ALLOWED.TEST.)" \
	eq "$(via http://ALLOWED.TEST./)" "200 000 -"
check "  logged under the canonical name" \
	eq "$(jq -r 'select(.event=="http" and .phase=="decision") | .host' "$LOG" | sort -u | tr '\n' ' ')" "allowed.test x.wild.test "

check "IPv6-only origin over CONNECT" eq "$(via https://v6only.test/)" "200 200 -"
check "proxy listens on [::1] too" \
	eq "$(in_host curl -sS --max-time 10 -x 'http://[::1]:3128' -o /dev/null -w '%{http_code}' http://allowed.test/)" "200"

# ---- denials ---------------------------------------------------------------
check "host not on the list: 403 not_allowed" eq "$(via https://other.test/)" "000 403 not_allowed"
check "  exactly one deny record" eq "$(records other.test 1)" "connect decision deny not_allowed"
check "  body names the entry that would allow it" \
	eq "$(in_host curl -s -x http://127.0.0.1:3128 http://other.test/)" \
	'sluice: GET other.test:80 denied (not_allowed): add "other.test" (or "other.test:80") to allow'

check "denied entry wins over the wildcard: 403 denied_by_rule" \
	eq "$(via https://bad.wild.test/)" "000 403 denied_by_rule"
check "  one record naming the rule" \
	eq "$(jq -r 'select(.host=="bad.wild.test") | "\(.reason) \(.rule)"' "$LOG")" "denied_by_rule bad.wild.test"

check "disallowed port: 403 port_not_allowed" \
	eq "$(via http://allowed.test:8080/)" "403 000 port_not_allowed"
check "  one record" eq "$(jq -c 'select(.host=="allowed.test" and .port==8080) | .reason' "$LOG")" '"port_not_allowed"'

check "allowed name with a private answer (rebinding): 403 blocked_address" \
	eq "$(via https://rebind.test/)" "000 403 blocked_address"
check "  one record listing the refused address" \
	eq "$(jq -c 'select(.host=="rebind.test") | [.reason, .addrs]' "$LOG")" '["blocked_address",["127.0.0.1"]]'
check "10/8 answer is blocked too" eq "$(via http://private.test/)" "403 000 blocked_address"

check "metadata name: 403 metadata_host" \
	eq "$(via http://metadata.google.internal/)" "403 000 metadata_host"
check "  one record" eq "$(records metadata.google.internal 1)" "http decision deny metadata_host"
check "  and no DNS query for it ever left sluice" \
	eq "$(grep -c 'query.*metadata.google.internal$' "$D/dnsmasq.log")" "0"

check "IP literal without an IP entry: 403 ip_literal" \
	eq "$(via https://198.51.100.99/)" "000 403 ip_literal"
check "  one record" eq "$(records 198.51.100.99 1)" "connect decision deny ip_literal"
check "IP literal entry for another port: 403 port_not_allowed" \
	eq "$(via https://198.51.100.10/)" "000 403 port_not_allowed"
check "IP literal with an IP entry is allowed" \
	eq "$(via http://198.51.100.10:8081/hi)" "200 000 -"

raw() { printf "$1" | in_host python3 "$HERE/rawreq.py" 127.0.0.1 3128; }
check "[example.com]: 403 bad_request" \
	eq "$(raw 'CONNECT [example.com]:443 HTTP/1.1\r\nHost: x\r\n\r\n')" "403 bad_request"
for odd in 127.1 0x7f.0.0.1 2130706433 0177.0.0.1 127.000.000.001 198.51.100.010; do
	check "odd IPv4 spelling $odd: 403 bad_request" \
		eq "$(raw "CONNECT $odd:443 HTTP/1.1\r\nHost: x\r\n\r\n")" "403 bad_request"
	check "  one record for $odd" eq "$(records "$odd" 1)" "connect decision deny bad_request"
done

# ---- upstream connects ---------------------------------------------------------
# allowed.test's first address is 198.51.100.10, its second 2001:db8::10: an
# echo on the IPv6 address alone (7098) is reached after the IPv4 one refuses;
# nothing listens on 7099, so there every address refuses and the client gets 502.
world_bg "$NS_NET" python3 -c 'import socket
s = socket.create_server(("2001:db8::10", 7098), family=socket.AF_INET6)
while True:
    c, _ = s.accept()
    c.sendall(c.recv(100))
    c.close()'
wait_port "$NS_NET" 2001:db8::10 7098
tunnel_echo() { # host:port -> "<status line> <echo>"
	in_host python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[1].encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(4096)
    if not chunk:
        break
    head += chunk
status = head.split(b"\r\n")[0].decode()
echo = "-"
if status.split(" ")[1:2] == ["200"]:
    s.sendall(b"ping")
    echo = s.recv(100).decode()
print(status, echo)
PY
}
# the records since line $1, once the close record for port $2 is there (3 s at most)
tail_records() {
	local i
	for i in $(seq 30); do
		jq -e --argjson p "$2" 'select(.port==$p and .phase=="close")' "$LOG" >/dev/null && break
		sleep 0.1
	done
	tail -n +$(($1 + 1)) "$LOG" | jq -r '"\(.event) \(.phase) \(.decision // "-") \(.reason // "-")"'
}
mark=$(wc -l <"$LOG")
check "CONNECT to an address that refuses goes on to the next one" \
	eq "$(tunnel_echo allowed.test:7098)" "HTTP/1.1 200 Connection established ping"
check "  the IPv4 address was the first to try (this case's premise)" \
	eq "$(jq -r 'select(.port==7098 and .phase=="decision") | .addrs[0]' "$LOG")" "198.51.100.10"
check "  records: decision allow, close from the IPv6 address" \
	eq "$(tail_records "$mark" 7098) $(jq -r 'select(.port==7098 and .phase=="close") | .remote' "$LOG")" \
	"$(printf 'connect decision allow allowed\nconnect close allow -') 2001:db8::10"
mark=$(wc -l <"$LOG")
check "CONNECT where every address refuses: 502" \
	eq "$(tunnel_echo allowed.test:7099)" "HTTP/1.1 502 Bad Gateway -"
check "  records: decision allow, close connect_failed" \
	eq "$(tail_records "$mark" 7099)" \
	"$(printf 'connect decision allow allowed\nconnect close allow connect_failed')"
check "  one line on stderr names the upstream and the error" \
	eq "$(grep -c 'cannot reach allowed.test:7099: Connection refused' "$D/sluice.err")" "1"

# ---- strict parsing ----------------------------------------------------------
check "Content-Length with Transfer-Encoding: 400" \
	eq "$(raw 'POST http://allowed.test/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" "400 bad_request"
check "bare LF: 400" eq "$(raw 'GET http://allowed.test/ HTTP/1.1\nHost: a\r\n\r\n')" "400 bad_request"
check "obs-fold: 400" eq "$(raw 'GET http://allowed.test/ HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n')" "400 bad_request"
check "duplicate Content-Length: 400" \
	eq "$(raw 'POST http://allowed.test/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx')" "400 bad_request"
check "over-long head: 400" \
	eq "$(python3 -c 'import sys; sys.stdout.write("GET http://allowed.test/ HTTP/1.1\\r\\nX: " + "a"*20000 + "\\r\\n\\r\\n")' | in_host python3 "$HERE/rawreq.py" 127.0.0.1 3128)" "400 bad_request"
check "origin-form target (not a proxy request): 400" \
	eq "$(raw 'GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n')" "400 bad_request"
check "userinfo in target: 400" eq "$(raw 'GET http://allowed.test@other.test/ HTTP/1.1\r\nHost: a\r\n\r\n')" "400 bad_request"

# Records written since line $1 of the log, as "event phase decision reason".
since() { tail -n +$(($1 + 1)) "$LOG" | jq -r '"\(.event) \(.phase) \(.decision // "-") \(.reason // "-")"'; }
mark=$(wc -l <"$LOG")
check "HTTP/1.1 request without Host: 400 bad_request" \
	eq "$(raw 'GET http://allowed.test/ HTTP/1.1\r\nAccept: */*\r\n\r\n')" "400 bad_request"
check "  one deny record" eq "$(since "$mark")" "http decision deny bad_request"
# the explicit port reads requests, not the transparent port's first bytes:
# a head that is not HTTP is a bad request there, not an unnamed connection
mark=$(wc -l <"$LOG")
check "non-HTTP head on the explicit port: 400 bad_request" \
	eq "$(raw 'SSH-2.0-OpenSSH_9.2\r\n\r\n')" "400 bad_request"
check "  one deny record, bad_request" eq "$(since "$mark")" "http decision deny bad_request"
check "HTTP/1.0 without Host is served" eq "$(raw 'GET http://allowed.test/ HTTP/1.0\r\n\r\n')" "200 -"

# ---- request bodies with bad chunked framing -----------------------------------
# Sent to origin.py's recorder (7009), which says on 7010 what each connection
# brought it: "<head bytes> <bytes after the head>".
recorded() {
	in_host python3 -c 'import socket
s = socket.create_connection(("198.51.100.10", 7010), timeout=10)
print(s.makefile().read(), end="")'
}
chunked_to_recorder() { # body (printf escapes)
	printf "POST http://198.51.100.10:7009/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n$1" |
		in_host python3 "$HERE/rawreq.py" 127.0.0.1 3128
}
recorded >/dev/null
mark=$(wc -l <"$LOG")
check "a well-framed chunked body reaches the recorder" \
	eq "$(chunked_to_recorder '3\r\nabc\r\n0\r\n\r\n') $(recorded | awk '{print $2}')" "200 - 13"
check "  records: decision allow, close" eq "$(since "$mark")" "$(printf 'http decision allow allowed\nhttp close allow -')"
while IFS='|' read -r class body; do
	mark=$(wc -l <"$LOG")
	check "bad chunked framing, $class: 400 bad_request" eq "$(chunked_to_recorder "$body")" "400 bad_request"
	check "  the origin got the head and nothing of the body" eq "$(recorded | awk '{print "body bytes: " $2}')" "body bytes: 0"
	check "  one record says bad_request: the allowed request's close record" \
		eq "$(since "$mark")" "$(printf 'http decision allow allowed\nhttp close allow bad_request')"
done <<'CASES'
size not hex|zz\r\nab\r\n0\r\n\r\n
signed size|-3\r\nabc\r\n0\r\n\r\n
0x prefix|0x3\r\nabc\r\n0\r\n\r\n
whitespace in the size|3 \r\nabc\r\n0\r\n\r\n
size overflowing 60 bits|10000000000000000\r\nabc\r\n0\r\n\r\n
chunk data longer than declared|3\r\nabcd\r\n0\r\n\r\n
bare LF|3\nabc\r\n0\r\n\r\n
bare CR|3\rabc\r\n0\r\n\r\n
empty size|\r\nabc\r\n0\r\n\r\n
no CRLF after chunk data|3\r\nabc0\r\n\r\n
CASES
# the answer has begun (/early is answered after its head): no 400 can follow,
# the connection just closes; the chunk before the fault was already forwarded
mark=$(wc -l <"$LOG")
early=$(in_host python3 - <<'PY'
import socket
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(b"POST http://198.51.100.10:7009/early HTTP/1.1\r\nHost: x\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
got = b""
while not got.endswith(b"ok"):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
s.sendall(b"zz\r\n")
rest = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    rest += chunk
print(got.split(b" ")[1].decode(), "then", repr(rest))
PY
)
check "bad framing after the answer began: no 400, the connection closes" eq "$early" "200 then b''"
check "  the origin got the chunk before the fault, not the fault" eq "$(recorded | awk '{print $2}')" "8"
check "  and the close record says bad_request" \
	eq "$(since "$mark")" "$(printf 'http decision allow allowed\nhttp close allow bad_request')"

# ---- HTTP forwarding details -------------------------------------------------
check "chunked request body reaches the origin intact" \
	eq "$(printf abcdefg | "${CURL[@]}" -H 'Transfer-Encoding: chunked' --data-binary @- http://198.51.100.10:8081/echo)" "abcdefg"
check "Content-Length body reaches the origin" \
	eq "$("${CURL[@]}" --data-binary 'hello-body' http://198.51.100.10:8081/echo)" "hello-body"
check "chunked response relayed" eq "$("${CURL[@]}" http://198.51.100.10:8081/chunked)" "alpha-beta-gamma"
check "close-delimited response relayed" eq "$("${CURL[@]}" http://198.51.100.10:8081/close)" "until-close-body"
check "Host forced to the authority, Proxy-Authorization stripped" \
	eq "$("${CURL[@]}" -H 'Host: evil.test' -H 'Proxy-Authorization: Basic eDp5' http://198.51.100.10:8081/h)" \
	"host=198.51.100.10:8081 path=/h proxy-auth=-"
check "persistent client connection: three requests, one TCP connection" \
	eq "$("${CURL[@]}" -w '%{num_connects}\n' -o /dev/null -o /dev/null -o /dev/null \
		http://allowed.test/ http://allowed.test/a http://x.wild.test/b | tr -d '\n')" "100"
check "HEAD answers keep the connection framed: two on one connection" \
	eq "$("${CURL[@]}" -I -w '%{http_code}:%{num_connects} ' -o /dev/null -o /dev/null \
		http://allowed.test/ http://allowed.test/a)" "200:1 200:0 "
check "64 MiB answer relayed whole" \
	eq "$("${CURL[@]}" -o /dev/null -w '%{size_download}' http://allowed.test/big)" "67108864"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$D/upload"
check "8 MiB request body echoed back byte for byte" \
	eq "$("${CURL[@]}" --data-binary @"$D/upload" http://198.51.100.10:8081/echo | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$D/upload" | cut -d' ' -f1)"
# three requests in one write, two origins: answered in order on one connection
pipelined=$(in_host python3 - <<'PY'
import re
import socket
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
req = "GET http://%s/ HTTP/1.1\r\nHost: x\r\n%s\r\n"
s.sendall((req % ("allowed.test", "") + req % ("x.wild.test", "") +
           req % ("allowed.test", "Connection: close\r\n")).encode())
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
print(" ".join(h.decode() for h in re.findall(rb"hello from (\S+)", got)))
PY
)
check "pipelined requests answered in order" eq "$pipelined" "allowed.test x.wild.test allowed.test"
check "a request followed by a half-close is answered" \
	eq "$(printf 'GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n' |
		in_host python3 "$HERE/rawreq.py" 127.0.0.1 3128 halfclose)" "200 -"
check "a request body followed by a half-close is answered" \
	eq "$(printf 'POST http://198.51.100.10:8081/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' |
		in_host python3 "$HERE/rawreq.py" 127.0.0.1 3128 halfclose)" "200 -"
check "a body cut short by a half-close is not answered" \
	eq "$(printf 'POST http://198.51.100.10:8081/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nhello' |
		in_host python3 "$HERE/rawreq.py" 127.0.0.1 3128 halfclose)" "none -"
# curl waits up to 20 s for the 100 before sending the body: only a 100
# passed on at once gets the echo back within --max-time 10
check "100 Continue passed on before the final answer" \
	eq "$("${CURL[@]}" -H 'Expect: 100-continue' --expect100-timeout 20 --data-binary 'after-continue' \
		http://198.51.100.10:8081/echo)" "after-continue"

ws() { # target host upgrade
	printf "GET $1 HTTP/1.1\r\nHost: $2\r\nConnection: Upgrade\r\nUpgrade: $3\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" |
		in_host python3 "$HERE/rawreq.py" 127.0.0.1 3128 ws
}
mark=$(wc -l <"$LOG")
check "WebSocket upgrade passed on: 101, then frames both ways" \
	eq "$(ws http://198.51.100.10:8081/ws x websocket)" "101 ws:ping"
check "  one decision and one close record" eq "$(since "$mark")" "$(printf 'http decision allow allowed\nhttp close allow -')"
check "an h2c upgrade is not passed on (it would carry requests for other hosts)" \
	eq "$(ws http://198.51.100.10:8081/ws x h2c)" "200 no upgrade, saw Upgrade: -"

# ---- tunnels: half-close and backpressure ------------------------------------
check "tunnel passes a half-close both ways" \
	eq "$(in_host python3 "$HERE/tunnel.py" halfclose 127.0.0.1 3128 198.51.100.10:7007)" "echo:ping-through-the-tunnel"
check "tunnel: 20 bursts of 2-4 MiB each come back whole (no bytes parked in the relay)" \
	eq "$(in_host python3 "$HERE/tunnel.py" bursts 127.0.0.1 3128 198.51.100.10:7008)" "bursts:20 ok"
check "tunnel: 2 MiB sent with the CONNECT, before the 200, all echoed" \
	eq "$(in_host python3 "$HERE/tunnel.py" early 127.0.0.1 3128 198.51.100.10:7008)" "early:ok"
read -r grown total < <(SLUICE_PID=$SLUICE_PID in_host env SLUICE_PID=$SLUICE_PID python3 "$HERE/tunnel.py" slowread 127.0.0.1 3128 allowed.test:80)
check "slow reader: proxy memory stays bounded (grew ${grown} KiB)" test "${grown:-999999}" -lt 8192
check "  and every byte arrives afterwards" test "${total:-0}" -gt $((64 * 1024 * 1024))
# 32 backed-up tunnels: 16 hold a 4 MiB buffer, the rest 64 KiB (uncapped: 128 MiB)
read -r grown delivered < <(in_host env SLUICE_PID=$SLUICE_PID python3 "$HERE/tunnel.py" manyslow 127.0.0.1 3128 allowed.test:80)
check "32 slow readers: relay buffers stay within their cap (grew ${grown} KiB)" test "${grown:-999999}" -lt $((96 * 1024))
check "  and all 32 get every byte afterwards" eq "${delivered:-0}" "32"

# ---- report mode -------------------------------------------------------------
kill "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null
sed -i 's/^name: itest/name: itest\nmode: report/' "$D/policy.yaml"
start_proxy
check "report mode lets a not-allowed host through" eq "$(via http://r.other.test/)" "200 000 -"
check "  logging would_deny" \
	eq "$(jq -r 'select(.host=="r.other.test") | "\(.phase) \(.decision) \(.reason // "-")"' "$LOG" | head -1)" \
	"decision would_deny not_allowed"
check "report mode still blocks private answers" eq "$(via http://rebind.test/)" "403 000 blocked_address"
check "report mode still blocks metadata names" eq "$(via http://metadata.google.internal/)" "403 000 metadata_host"
kill "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null
sed -i '/^mode: report/d' "$D/policy.yaml"

# ---- workers -----------------------------------------------------------------
start_workers() {
	world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$D/policy.yaml" --log "$D/workers.log" \
		--resolver 198.51.100.53 --workers 2 2>>"$D/sluice.err"
	SLUICE_PID=$!
	wait_port "$NS_HOST" 127.0.0.1 3128
}
start_workers
for i in $(seq 40); do via "http://allowed.test/w$i"; done >"$D/workers.out"
check "--workers 2: forty requests answered" eq "$(grep -c '^200 ' "$D/workers.out")" "40"
check "  every line of the shared log whole, one decision each" \
	eq "$(jq -r 'select(.phase=="decision") | .host' "$D/workers.log" | grep -c '^allowed.test$')" "40"
check "  both workers served (two session prefixes)" \
	eq "$(jq -r '.session' "$D/workers.log" | cut -d- -f1 | sort -u | wc -l)" "2"
kill "$SLUICE_PID"
wait "$SLUICE_PID"
check "  SIGTERM: the workers stop and the proxy exits 0" eq "$?" "0"
start_workers
workers=$(cat "/proc/$SLUICE_PID/task/$SLUICE_PID/children")
check "  two worker processes" eq "$(wc -w <<<"$workers")" "2"
kill -KILL "${workers%% *}" # a worker of the proxy this test started
wait "$SLUICE_PID"
check "a worker killed: the proxy stops the other and exits 137" eq "$?" "137"
check "  no worker left behind" bash -c "! kill -0 ${workers##* } 2>/dev/null"

# ---- limits: descriptors and a failing log -------------------------------------
world_bg "$NS_HOST" prlimit --nofile=40 "$SLUICE" proxy --listen 127.0.0.1:3128 \
	--policy "$D/policy.yaml" --log "$D/fd.log" --resolver 198.51.100.53 2>>"$D/sluice.err"
SLUICE_PID=$!
wait_port "$NS_HOST" 127.0.0.1 3128
via https://allowed.test/ >/dev/null # warm the resolver cache: the flood tests descriptors, not DNS
in_host python3 - "$D/fd.out" <<'PY'
import socket, sys
# One client at a time, each answer read before the next connects, so every
# served tunnel holds its two descriptors until the limit is reached.
held, answers = [], []
for i in range(60):
    try:
        s = socket.create_connection(("127.0.0.1", 3128), timeout=5)
        s.sendall(b"CONNECT allowed.test:443 HTTP/1.1\r\n\r\n")
        answers.append(s.recv(200).split(b"\r\n")[0].decode() or "closed")
        held.append(s)
    except OSError as e:
        answers.append("error " + type(e).__name__)
open(sys.argv[1], "w").write("\n".join(answers) + "\n")
for s in held:
    s.close()
PY
check "out of descriptors: some clients get 503" grep -q ' 503 ' "$D/fd.out"
check "  and the others are served" grep -q ' 200 ' "$D/fd.out" || sort "$D/fd.out" | uniq -c
check "  logged with reason limit" test "$(jq -r 'select(.reason=="limit") | .reason' "$D/fd.log" | grep -c .)" -gt 0
sleep 0.5
check "  the proxy recovers once descriptors are free" eq "$(via https://allowed.test/)" "200 200 -"
kill "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null

world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$D/policy.yaml" \
	--log /dev/full --resolver 198.51.100.53 2>"$D/full.err"
SLUICE_PID=$!
wait_port "$NS_HOST" 127.0.0.1 3128
via http://allowed.test/ >/dev/null
check "log write failure is loud" grep -q 'audit log write failed' "$D/full.err"
check "  and new requests are refused (fail closed)" eq "$(via http://allowed.test/)" "503 000 limit"
kill "$SLUICE_PID"
wait "$SLUICE_PID"
check "the last proxy exits cleanly on SIGTERM" eq "$?" "0"
# Under the ASan/UBSan build this also catches leaks reported at exit.
check "no sanitizer report from any proxy run" \
	bash -c "! grep -hE 'Sanitizer|runtime error' '$D/sluice.err' '$D/full.err'"


# ---- close records: bytes that reached the client, and clients that left early --
start_proxy
# "reason bytes_up bytes_down" of the first close record after line $1 of the log
close_after() {
	local i out=
	for i in $(seq 30); do
		out=$(tail -n +$(($1 + 1)) "$LOG" | jq -r 'select(.phase=="close") | "\(.reason // "-") \(.bytes_up) \(.bytes_down)"' | head -1)
		[ -n "$out" ] && break
		sleep 0.1
	done
	echo "$out"
}
BIG=$((64 * 1024 * 1024))
UPTO=$((2 * 1024 * 1024))
mark=$(wc -l <"$LOG")
read -r size head_size < <("${CURL[@]}" -o /dev/null -w '%{size_download} %{size_header}' http://allowed.test/big)
read -r reason up down < <(close_after "$mark")
check "HTTP: a whole 64 MiB download's close record has no reason" eq "${reason:-none}" "-"
check "  and bytes_down is what curl received, head and body ($((size + head_size)))" \
	eq "${down:-0}" "$((size + head_size))"
# a client that reads nothing for a second: the whole answer (4 MiB) is read
# from the origin while part of it still waits in the proxy for the client (its
# close record must wait for those bytes)
mark=$(wc -l <"$LOG")
got=$(in_host python3 - <<'PY'
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(10)
s.connect(("127.0.0.1", 3128))
body = b"x" * (4 << 20)
s.sendall(b"POST http://198.51.100.10:8081/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
time.sleep(1)
got = b""
while b"\r\n\r\n" not in got or len(got) - got.index(b"\r\n\r\n") - 4 < len(body):
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got += chunk
print(len(got))
time.sleep(0.3)
s.close()
PY
)
read -r reason up down < <(close_after "$mark")
check "HTTP: a slow reader's close record counts every byte it got (${got:-?}), no reason" \
	eq "${down:-0} ${reason:-none}" "${got:-1} -"
recorded >/dev/null
mark=$(wc -l <"$LOG")
chunked_to_recorder '3\r\nabc\r\n0\r\n\r\n' >/dev/null
read -r head rest < <(recorded)
read -r reason up down < <(close_after "$mark")
check "HTTP: bytes_up is what the origin got, head and body ($((${head:-0} + ${rest:-0})))" \
	eq "${up:-0}" "$((${head:-0} + ${rest:-0}))"
mark=$(wc -l <"$LOG")
got=$(in_host python3 - "$UPTO" <<'PY'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(10)
s.connect(("127.0.0.1", 3128))
s.sendall(b"GET http://allowed.test/big HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
want, got = int(sys.argv[1]), 0
while got < want:
    chunk = s.recv(min(1 << 20, want - got))
    if not chunk:
        break
    got += len(chunk)
time.sleep(0.5)  # more arrives unread: the close resets
s.close()
print(got)
PY
)
read -r reason up down < <(close_after "$mark")
check "HTTP: a client that read ${got:-?} bytes of /big and closed: reason client_closed" \
	eq "${reason:-none}" "client_closed"
check "  bytes_down at least what it read" test "${down:-0}" -ge "${got:-1}"
check "  and not much more (${down:-?}): what the proxy read or queued is not counted" \
	test "${down:-$BIG}" -lt $((UPTO + 1024 * 1024))
mark=$(wc -l <"$LOG")
read -r sent received < <(in_host python3 "$HERE/tunnel.py" whole 127.0.0.1 3128 allowed.test:80)
read -r reason up down < <(close_after "$mark")
check "CONNECT: a whole download's close record has no reason" eq "${reason:-none}" "-"
check "  bytes_down is what the client received after the 200 (${received:-?})" \
	test "${down:-0}" -eq "${received:-1}" -a "${received:-0}" -gt "$BIG"
check "  and bytes_up what it sent (${sent:-?})" eq "${up:-0}" "${sent:-1}"
mark=$(wc -l <"$LOG")
got=$(in_host python3 "$HERE/tunnel.py" upto 127.0.0.1 3128 allowed.test:80 "$UPTO")
read -r reason up down < <(close_after "$mark")
check "CONNECT: a client that read ${got:-?} bytes of /big and closed: reason client_closed" \
	eq "${reason:-none}" "client_closed"
check "  bytes_down at least what it read" test "${down:-0}" -ge "${got:-1}"
check "  and not much more (${down:-?})" test "${down:-$BIG}" -lt $((UPTO + 1024 * 1024))
kill "$SLUICE_PID"
wait "$SLUICE_PID"
check "  the proxy exits cleanly on SIGTERM" eq "$?" "0"
check "  no sanitizer report from it" bash -c "! grep -hE 'Sanitizer|runtime error' '$D/sluice.err'"

finish
