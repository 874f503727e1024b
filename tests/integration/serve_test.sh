#!/usr/bin/env bash
# serve_test.sh SLUICE: `sluice serve` holding 20 attachments at once, each a
# namespace with its own veth and address on a bridge in the origins'
# namespace, each with its own policy and server name, driven over the
# control socket by `sluice attach|detach|ls --control`.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
N=20
cleanup() {
	local i
	for i in $(seq $N); do ip netns del "sls${WORLD_ID}_$i" 2>/dev/null; done
	world_down
}
world_up || { echo "could not build the test world"; exit 1; }
trap cleanup EXIT
D=$WORLD_DIR
LOG=$D/serve.log
CTL=$D/run/control
ns_of() { echo "sls${WORLD_ID}_$1"; }

in_net ip link add "br$WORLD_ID" type bridge
in_net ip addr add 203.0.113.1/24 dev "br$WORLD_ID"
in_net ip link set "br$WORLD_ID" up
for i in $(seq $N); do
	ns=$(ns_of "$i")
	ip netns add "$ns"
	ip link add "vs${WORLD_ID}_$i" type veth peer name "vb${WORLD_ID}_$i"
	ip link set "vs${WORLD_ID}_$i" netns "$ns"
	ip link set "vb${WORLD_ID}_$i" netns "$NS_NET"
	in_net ip link set "vb${WORLD_ID}_$i" master "br$WORLD_ID" up
	# the odd ones have no IPv6 at all (no ::1: the attach leaves its v6 listeners out)
	[ $((i % 2)) -eq 1 ] && ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip addr add "203.0.113.$((10 + i))/24" dev "vs${WORLD_ID}_$i"
	ip netns exec "$ns" ip link set "vs${WORLD_ID}_$i" up
	ip netns exec "$ns" ip route add default via 203.0.113.1
	# even servers may reach allowed.test, odd ones other.test
	host=allowed.test
	[ $((i % 2)) -eq 1 ] && host=other.test
	printf 'version: 1\nname: srv%d\nallow: [%s]\nallow_private: ["198.51.100.0/24"]\n' "$i" "$host" >"$D/p$i.yaml"
done

ip netns exec "$NS_HOST" "$SLUICE" serve --control "$CTL" --log "$LOG" --resolver 198.51.100.53 \
	--metrics 127.0.0.1:9465 2>"$D/serve.err" &
SERVE=$!
WORLD_PIDS+=($SERVE)
for i in $(seq 100); do [ -S "$CTL" ] && break; sleep 0.05; done
check "serve makes its control socket, mode 0600, in a directory it made 0700" \
	eq "$(stat -c %a "$CTL") $(stat -c %a "$D/run")" "600 700"
ctl() { in_host "$SLUICE" "$@" --control "$CTL"; }

ok=0
for i in $(seq $N); do
	ctl attach --netns "$(ns_of "$i")" --policy "$D/p$i.yaml" 2>>"$D/client.err" && ok=$((ok + 1))
done
check "20 attach requests through the control socket all succeed" eq "$ok" "$N"
check "sluice ls lists the 20, each with its own server name and policy" \
	eq "$(ctl ls | awk 'NR > 1 && $4 == "attached" { print $1 }' | sort -V | tr '\n' ' ')" "$(for i in $(seq $N); do printf 'srv%d ' "$i"; done)"
check "  an IPv6-less namespace is served without v6 listeners, an IPv6 one with them" \
	eq "$(ip netns exec "$(ns_of 1)" ss -Hltn | grep -c '::1'):$(ip netns exec "$(ns_of 2)" ss -Hltn | grep -c '\[::1\]:3129')" "0:1"
check "  the target and the policy file of each" \
	eq "$(ctl ls --format json | jq -r '.attachments[] | select(.server=="srv7") | "\(.target) \(.policy)"')" "netns:$(ns_of 7) $D/p7.yaml"

# every namespace, through the transparent port, under its own policy
right=0
for i in $(seq $N); do
	ns=$(ns_of "$i")
	a=$(ip netns exec "$ns" curl -sS --max-time 5 --cacert "$D/ca.pem" --resolve allowed.test:443:198.51.100.10 https://allowed.test/ 2>/dev/null)
	o=$(ip netns exec "$ns" curl -sS --max-time 5 --cacert "$D/ca.pem" --resolve other.test:443:198.51.100.10 https://other.test/ 2>/dev/null)
	if [ $((i % 2)) -eq 0 ]; then
		[ "$a" == "hello from allowed.test" ] && [ -z "$o" ] && right=$((right + 1))
	else
		[ -z "$a" ] && [ "$o" == "hello from other.test" ] && right=$((right + 1))
	fi
done
check "each of the 20 is allowed its own host and refused the other's" eq "$right" "$N"
check "  the log names the deciding server for each" \
	eq "$(jq -r 'select(.event=="transparent" and .phase=="decision") | "\(.server) \(.host) \(.decision)"' "$LOG" | sort -uV | grep -c .)" "40"
check "  srv4 allowed allowed.test and was refused other.test" \
	eq "$(jq -r 'select(.event=="transparent" and .phase=="decision" and .server=="srv4") | "\(.host) \(.decision)"' "$LOG" | sort | tr '\n' ' ')" "allowed.test allow other.test deny "
check "  raw TCP from one of them is rejected and logged under its name" \
	eq "$(ip netns exec "$(ns_of 3)" python3 "$HERE/nftprobe.py" tcp 198.51.100.10 8080 | cut -d' ' -f1; sleep 0.3; jq -r 'select(.event=="packet" and .host=="198.51.100.10") | "\(.server) \(.port)"' "$LOG" | sort -u)" "refused
srv3 8080"

# the control socket: other users, bad requests
check "another user cannot reach the socket (0600)" \
	eq "$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$SLUICE" ls --control "$CTL" 2>&1 | grep -c 'Permission denied')" "1"
chmod 711 "$D" "$D/run" && chmod 666 "$CTL"
check "  and with the modes opened, serve refuses another uid's request itself" \
	eq "$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$SLUICE" ls --control "$CTL" 2>&1 | grep -c "refused: only sluice serve")" "1"
chmod 700 "$D" "$D/run" && chmod 600 "$CTL"
say() { python3 - "$CTL" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
s.sendall(eval(sys.argv[2]))
buf = b""
while not buf.endswith(b"\n"):
    got = s.recv(65536)
    if not got: break
    buf += got
print(buf.decode().strip())
PY
}
check "a line that is not JSON gets an error line" \
	eq "$(say 'b"{nope\n"' | jq -r '"\(.ok) \(.error | startswith("not JSON"))"')" "false true"
check "an unknown op gets an error line" \
	eq "$(say 'b"{\"op\":\"halt\"}\n"' | jq -r .error)" "\"op\" must be attach, detach or ls"
check "a request without its target gets an error line" \
	eq "$(say 'b"{\"op\":\"attach\",\"policy\":\"npm\"}\n"' | jq -r .error)" "\"target\" and \"value\" must be non-empty strings"
check "an oversize request (70 KiB) gets an error line" \
	eq "$(say 'b"{\"op\":\"ls\",\"x\":\"" + b"a" * 70000 + b"\"}\n"' | jq -r .error)" "request too long (64 KiB at most, one line)"
printf 'version: 1\nallow: [\n' >"$D/broken.yaml"
check "an attach request with a broken policy is refused by serve with its file:line:col" \
	eq "$(say 'b"{\"op\":\"attach\",\"target\":\"pid\",\"value\":\"1\",\"policy\":\"'"$D"'/broken.yaml\"}\n"' | jq -r .error | grep -c "^$D/broken.yaml:3:")" "1"
check "  attach --control reports it itself, before asking serve (exit 2)" \
	eq "$(ctl attach --pid 1 --policy "$D/broken.yaml" 2>&1 | grep -c "^$D/broken.yaml:3:"; ctl attach --pid 1 --policy "$D/broken.yaml" 2>/dev/null; echo $?)" "1
2"
check "attaching a served target twice is refused" \
	eq "$(ctl attach --netns "$(ns_of 1)" --policy "$D/p1.yaml" 2>&1 | grep -c 'already attached')" "1"
check "serve is still alive and answering" eq "$(ctl ls --format json | jq '.attachments | length')" "$N"

# ---- SIGHUP: each policy re-read, the log reopened ---------------------------
get() { # get NS HOST: the body of https://HOST/ from namespace NS, or nothing
	ip netns exec "$1" curl -sS --max-time 5 --cacert "$D/ca.pem" --resolve "$2:443:198.51.100.10" "https://$2/" 2>/dev/null
}
# a keep-alive HTTP connection from srv2, opened under the old policy
rm -rf "$D/ka" && mkdir "$D/ka"
ip netns exec "$(ns_of 2)" python3 - "$D/ka" <<'PY' &
import os, socket, sys, time
d = sys.argv[1]
s = socket.create_connection(("198.51.100.10", 80), timeout=5)
def get():
    s.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
    buf = b""
    while b"hello from" not in buf:
        got = s.recv(4096)
        if not got:
            return "closed"
        buf += got
    return "answered"
open(os.path.join(d, "first"), "w").write(get())
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.05)
try:
    r = get()
except OSError as e:
    r = "error " + e.__class__.__name__
open(os.path.join(d, "second"), "w").write(r)
PY
WORLD_PIDS+=($!)
for i in $(seq 50); do [ -s "$D/ka/first" ] && break; sleep 0.1; done
# srv2 now allows other.test instead; srv4's policy breaks
printf 'version: 1\nname: srv2\nallow: [other.test]\nallow_private: ["198.51.100.0/24"]\n' >"$D/p2.yaml"
printf 'version: 1\nallow: [allowed.test\n' >"$D/p4.yaml"
# srv6 requests without pause while the log is moved away and SIGHUP comes
srv6() { jq -r 'select(.server=="srv6" and .event=="transparent" and .phase==$p) | .session' --arg p "$1"; }
base_d=$(srv6 decision <"$LOG" | wc -l)
base_c=$(srv6 close <"$LOG" | wc -l)
( for i in $(seq 60); do get "$(ns_of 6)" allowed.test >/dev/null; done; touch "$D/loop.done" ) &
WORLD_PIDS+=($!)
sleep 0.5
mv "$LOG" "$LOG.1"
kill -HUP "$SERVE"
for i in $(seq 200); do [ -e "$D/loop.done" ] && break; sleep 0.1; done
check "after SIGHUP serve is alive" kill -0 "$SERVE"
check "  srv2's new decisions follow its changed policy" \
	eq "$(get "$(ns_of 2)" allowed.test)|$(get "$(ns_of 2)" other.test)" "|hello from other.test"
touch "$D/ka/go"
for i in $(seq 50); do [ -s "$D/ka/second" ] && break; sleep 0.1; done
check "  the connection srv2 opened before it is untouched" eq "$(cat "$D/ka/first") $(cat "$D/ka/second")" "answered answered"
check "  srv4's broken policy is refused with its file:line:col" grep -q "$D/p4.yaml:[0-9]*:[0-9]*" "$D/serve.err"
check "  and srv4 keeps its old policy" eq "$(get "$(ns_of 4)" allowed.test)" "hello from allowed.test"
check "  one reload record per attachment: srv4's deny, the others' allow" \
	eq "$(jq -r 'select(.event=="reload") | .decision' "$LOG" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" "allow=19 deny=1 "
check "  srv4's reload record says bad_request" \
	eq "$(jq -r 'select(.event=="reload" and .server=="srv4") | .reason' "$LOG")" "bad_request"
both() { cat "$LOG.1" "$LOG"; }
check "log rotation: srv6's 60 requests left 120 more records across the two files" \
	eq "$(( $(both | srv6 decision | wc -l) - base_d )) $(( $(both | srv6 close | wc -l) - base_c ))" "60 60"
check "  none twice (distinct sessions in each phase)" \
	eq "$(both | srv6 close | sort -u | wc -l) $(both | srv6 decision | sort -u | wc -l)" "$(both | srv6 close | wc -l) $(both | srv6 decision | wc -l)"
check "  the new file got records too" test "$(jq -r 'select(.server=="srv6" and .event=="transparent")' "$LOG" | grep -c session)" -gt 0

# ---- /metrics against the log ----------------------------------------------------
in_host curl -sS --max-time 5 http://127.0.0.1:9465/metrics >"$D/metrics.txt"
from_metrics=$(sed -n 's/^sluice_requests_total{server="\([^"]*\)",event="\([^"]*\)",decision="\([^"]*\)",reason="\([^"]*\)"} \([0-9]*\)$/\1 \2 \3 \4 \5/p' "$D/metrics.txt" | sort)
from_log=$(both | jq -r 'select(.phase=="decision" and (.event=="transparent" or .event=="connect" or .event=="http")) | "\(.server) \(.event) \(.decision) \(.reason)"' | sort | uniq -c | awk '{print $2, $3, $4, $5, $1}' | sort)
check "/metrics: sluice_requests_total equals the log's decisions for all 20 servers" eq "$from_metrics" "$from_log"
check "  (and covers every server)" eq "$(echo "$from_metrics" | awk '{print $1}' | sort -u | wc -l)" "$N"
# (TCP and UDP: the interfaces' own ICMPv6 chatter may come between scrape and read)
m_pk=$(sed -n 's/^sluice_packets_rejected_total{server="\([^"]*\)",protocol="\(tcp\|udp\)"} \([0-9]*\)$/\1 \2 \3/p' "$D/metrics.txt" | sort)
l_pk=$(both | jq -r 'select(.event=="packet" and (.protocol=="tcp" or .protocol=="udp")) | "\(.server) \(.protocol)"' | sort | uniq -c | awk '{print $2, $3, $1}' | sort)
check "  sluice_packets_rejected_total equals the log's packet records" eq "$m_pk" "$l_pk"
check "  sluice_reloads_total counts 19 ok and 1 failed" \
	eq "$(grep '^sluice_reloads_total' "$D/metrics.txt" | sort | tr '\n' ' ')" 'sluice_reloads_total{result="failed"} 1 sluice_reloads_total{result="ok"} 19 '
check "  sluice_connections_active has a sample per server" \
	eq "$(grep -c '^sluice_connections_active{server="srv' "$D/metrics.txt")" "$N"

# detach one
check "detach --control of one exits 0" ctl detach --netns "$(ns_of 20)"
check "  ls shows 19" eq "$(ctl ls --format json | jq '.attachments | length')" "19"
check "  its table is gone and its network is back" \
	eq "$(ip netns exec "$(ns_of 20)" nft list tables | grep -c sluice; ip netns exec "$(ns_of 20)" curl -sS --max-time 3 -H 'Host: x.test' http://198.51.100.10:8080/)" "0
hello from x.test"

# a relative, combined spec means the caller's files, not serve's working directory
check "attach --control with a relative --policy and --allow, from another directory, exits 0" \
	bash -c "cd '$D' && ip netns exec '$NS_HOST' '$SLUICE' attach --control '$CTL' --netns '$(ns_of 20)' --policy p20.yaml --allow other.test"
check "  serve was given the absolute path and the added entry" \
	eq "$(ctl ls --format json | jq -r '.attachments[] | select(.target=="netns:'"$(ns_of 20)"'") | .policy')" "$D/p20.yaml
+allow other.test"
check "  and both apply: p20's host and the added one pass" \
	eq "$(for h in allowed.test other.test; do ip netns exec "$(ns_of 20)" curl -sS --max-time 5 --cacert "$D/ca.pem" --resolve $h:443:198.51.100.10 https://$h/; done)" "hello from allowed.test
hello from other.test"
check "  a policy file that is not there is refused by the caller (exit 2), naming it" \
	eq "$(cd "$D" && in_host "$SLUICE" attach --control "$CTL" --netns "$(ns_of 20)" --policy nothere.yaml 2>&1 | grep -c "nothere.yaml"; cd "$D" && in_host "$SLUICE" attach --control "$CTL" --netns "$(ns_of 20)" --policy nothere.yaml 2>/dev/null; echo $?)" "1
2"
ctl detach --netns "$(ns_of 20)"

# a target that goes away (a container stopped) is dropped, and said so
ip netns del "$(ns_of 19)"
for i in $(seq 40); do [ "$(ctl ls --format json | jq '.attachments | length')" == 18 ] && break; sleep 0.1; done
check "a target that went away is dropped from ls" eq "$(ctl ls --format json | jq '.attachments | length')" "18"
check "  with an attach close record (unprotected) under its name" \
	eq "$(jq -r 'select(.event=="attach" and .phase=="close") | "\(.server) \(.reason)"' "$LOG")" "srv19 unprotected"

# serve stops: every table stays
kill "$SERVE"
wait "$SERVE" 2>/dev/null
check "serve exits 0 on SIGTERM and removes its socket" eq "$?:$(test -e "$CTL" && echo there)" "0:"
stayed=0
for i in $(seq 18); do
	ip netns exec "$(ns_of "$i")" nft list table inet sluice >/dev/null 2>&1 && stayed=$((stayed + 1))
done
check "  the 18 tables stay (no network until attached again)" eq "$stayed" "18"
check "  and a former attachment cannot get out" \
	test -z "$(ip netns exec "$(ns_of 2)" curl -sS --max-time 3 --cacert "$D/ca.pem" --resolve allowed.test:443:198.51.100.10 https://allowed.test/ 2>/dev/null)"
check "ls with no serve says how to fix it (exit 1)" \
	eq "$(ctl ls 2>&1 | grep -c 'is it running'; ctl ls 2>/dev/null; echo $?)" "1
1"
check "every line of the log is JSON" eq "$(jq -c . "$LOG" >/dev/null && echo ok)" "ok"
finish
