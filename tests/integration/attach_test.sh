#!/usr/bin/env bash
# attach_test.sh SLUICE: `sluice attach` and `sluice detach` on namespaces
# that already run: a named netns (`ip netns add`) with its own veth and
# address, as a container has, and a plain process started with `unshare -n`
# plus a veth, attached by --pid. Inside, only the transparent port and the
# stub lead out; a connection opened before the attach is cut; when sluice
# dies the table stays (no network); detach gives the network back; --follow
# attaches a re-created namespace again.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
NS_C=slc$WORLD_ID
ETC_NETNS=/etc/netns/$NS_C
UNSHARED=
cleanup() {
	[ -n "$UNSHARED" ] && kill "$UNSHARED" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$ETC_NETNS"
	world_down
}
world_up || { echo "could not build the test world"; exit 1; }
trap cleanup EXIT
D=$WORLD_DIR
LOG=$D/attach.log
in_c() { ip netns exec "$NS_C" "$@"; }

# the "container": its own namespace, veth and address, its route out
# through the origins' namespace (which answers for 198.51.100.10 itself)
container_up() {
	ip netns add "$NS_C" || return 1
	ip link add "vc$WORLD_ID" type veth peer name "vd$WORLD_ID" || return 1
	ip link set "vc$WORLD_ID" netns "$NS_C"
	ip link set "vd$WORLD_ID" netns "$NS_NET"
	in_c ip link set lo up
	in_c ip addr add 203.0.113.2/24 dev "vc$WORLD_ID"
	in_c ip link set "vc$WORLD_ID" up
	in_c ip route add default via 203.0.113.1
	in_net ip addr add 203.0.113.1/24 dev "vd$WORLD_ID" 2>/dev/null
	in_net ip link set "vd$WORLD_ID" up
}
[ -e "$ETC_NETNS" ] && { echo "$ETC_NETNS exists already"; exit 1; }
container_up || { echo "could not make the container namespace"; exit 1; }
# its resolver: any address; the attach redirects every :53 to the stub
mkdir -p "$ETC_NETNS" && echo "nameserver 203.0.113.53" >"$ETC_NETNS/resolv.conf"

cat >"$D/attach.yaml" <<'YAML'
version: 1
name: attached
allow: [allowed.test, "allowed.test:7008"]
allow_private: ["198.51.100.0/24"]
YAML
CURL="curl -sS --max-time 5 --cacert $D/ca.pem"
ATTACH_PID=
attach_bg() { # attach_bg TARGET-OPTIONS...: in the world's host namespace
	# ip netns exec execs sluice: $! is sluice itself
	ip netns exec "$NS_HOST" "$SLUICE" attach "$@" --policy "$D/attach.yaml" --log "$LOG" \
		--resolver 198.51.100.53 2>>"$D/attach.err" &
	ATTACH_PID=$!
	WORLD_PIDS+=($ATTACH_PID)
}
# wait for the n-th "attach" record
wait_attached() {
	local n=$1 i
	for i in $(seq 100); do
		[ "$(jq -c 'select(.event=="attach" and .phase=="decision")' "$LOG" 2>/dev/null | wc -l)" -ge "$n" ] &&
			return 0
		sleep 0.1
	done
	cat "$D/attach.err" >&2
	return 1
}
held_start() { # a raw TCP connection opened now, kept for later
	rm -rf "$D/held" && mkdir -p "$D/held"
	in_c python3 "$HERE/held.py" 198.51.100.10 7008 "$D/held" &
	WORLD_PIDS+=($!)
	for i in $(seq 50); do [ -s "$D/held/ready" ] && return 0; sleep 0.1; done
	return 1
}
held_result() {
	touch "$D/held/go"
	for i in $(seq 60); do [ -s "$D/held/result" ] && { cut -c1-3 "$D/held/result"; return; }; sleep 0.1; done
	echo none
}

# ---- before: the container reaches the world directly ----------------------
check "before the attach the container reaches 198.51.100.10:8080 directly" \
	eq "$(in_c curl -sS --max-time 3 http://198.51.100.10:8080/ -H 'Host: x.test')" "hello from x.test"
check "  and holds a raw TCP connection to 198.51.100.10:7008" held_start

# ---- attach by --netns --------------------------------------------------------
t0=$(date +%s%N)
attach_bg --netns "$NS_C"
check "sluice attach --netns writes an attach record" wait_attached 1
for i in $(seq 100); do
	in_c $CURL https://allowed.test/ >/dev/null 2>&1 && break
	sleep 0.02
done
t1=$(date +%s%N)
echo "# attach cost: $(( (t1 - t0) / 1000000 )) ms from sluice attach to the first allowed HTTPS answer"
check "  naming the target and the server" \
	eq "$(jq -r 'select(.event=="attach") | "\(.server) \(.host) \(.decision)"' "$LOG" | head -1)" "attached netns:$NS_C allow"
check "the connection opened before the attach is cut" eq "$(held_result)" "cut"
check "allowed HTTPS goes through the transparent port (by SNI)" \
	eq "$(in_c $CURL https://allowed.test/)" "hello from allowed.test"
check "allowed HTTP goes through the transparent port (by Host)" \
	eq "$(in_c $CURL http://allowed.test/)" "hello from allowed.test"
check "  both logged as transparent allow" \
	eq "$(jq -r 'select(.event=="transparent" and .phase=="decision" and .host=="allowed.test") | "\(.port) \(.decision)"' "$LOG" | sort -u | tr '\n' ' ')" "443 allow 80 allow "
check "a denied name does not resolve (curl exit 6)" \
	eq "$(in_c sh -c "$CURL https://other.test/ >/dev/null 2>&1; echo \$?")" "6"
check "  and its address, dialed anyway, is reset by the transparent port (curl exit 35)" \
	eq "$(in_c sh -c "$CURL --resolve other.test:443:198.51.100.10 https://other.test/ >/dev/null 2>&1; echo \$?")" "35"
check "  both logged as not_allowed" \
	eq "$(jq -r 'select(.host=="other.test" and .phase=="decision") | "\(.event) \(.decision) \(.reason)"' "$LOG" | sort -u | tr '\n' ' ')" "dns deny not_allowed transparent deny not_allowed "
check "DNS to any address is answered by the stub" \
	eq "$(in_c dig +short +time=2 +tries=1 @203.0.113.99 allowed.test A)" "198.51.100.10"
check "  a name outside the policy gets NXDOMAIN" \
	eq "$(in_c dig +time=2 +tries=1 @203.0.113.99 denied.test A | grep -o 'status: [A-Z]*')" "status: NXDOMAIN"
check "  logged as dns records" \
	eq "$(jq -r 'select(.event=="dns" and .qtype=="A" and (.host=="allowed.test" or .host=="denied.test")) | "\(.host) \(.decision)"' "$LOG" | sort -u | tr '\n' ' ')" "allowed.test allow denied.test deny "
check "raw TCP to an address is rejected at once" \
	eq "$(in_c python3 "$HERE/nftprobe.py" tcp 198.51.100.10 8080 | cut -d' ' -f1)" "refused"
check "raw UDP out is rejected" \
	eq "$(in_c python3 "$HERE/nftprobe.py" udp 198.51.100.10 9999 | cut -c1-8)" "error 0."
sleep 0.3
check "  both logged as packet records" \
	eq "$(jq -r 'select(.event=="packet" and .host=="198.51.100.10") | "\(.protocol) \(.port) \(.reason)"' "$LOG" | sort -u | tr '\n' ' ')" "tcp 8080 not_allowed udp 9999 not_allowed "
check "TCP to an allowed name's other port goes through once the stub answered it" \
	eq "$(in_c sh -c 'ip=$(dig +short +time=2 +tries=1 allowed.test A); echo hi | timeout 3 python3 -c "
import socket,sys; s=socket.create_connection((sys.argv[1],7008),timeout=3); s.sendall(b\"hi\\n\"); print(s.recv(100).decode().strip())" "$ip"')" "hi"
check "the container keeps its own address and route" \
	eq "$(in_c ip -4 -o addr show dev "vc$WORLD_ID" | awk '{print $4}') $(in_c ip route show default | awk '{print $3}')" "203.0.113.2/24 203.0.113.1"

# ---- fail closed, detach -------------------------------------------------------
kill -9 "$ATTACH_PID"
wait "$ATTACH_PID" 2>/dev/null
check "after sluice is killed the table stays" in_c nft list table inet sluice >/dev/null
check "  and the container has no network: allowed HTTPS fails" \
	test "$(in_c sh -c "$CURL https://allowed.test/ >/dev/null 2>&1; echo \$?")" != 0
check "  direct TCP fails" \
	eq "$(in_c python3 "$HERE/nftprobe.py" tcp 198.51.100.10 8080 | cut -d' ' -f1)" "refused"
check "sluice detach --netns exits 0" in_host "$SLUICE" detach --netns "$NS_C"
check "  the table is gone" test -z "$(in_c nft list tables | grep sluice)"
check "  and the network is back" \
	eq "$(in_c curl -sS --max-time 3 http://198.51.100.10:8080/ -H 'Host: x.test')" "hello from x.test"
check "detach again (nothing attached) still exits 0" in_host "$SLUICE" detach --netns "$NS_C"
check "detach of a namespace that does not exist says so and exits 1" \
	eq "$(in_host "$SLUICE" detach --netns nosuch-$WORLD_ID 2>&1 >/dev/null | grep -c 'cannot open network namespace'; in_host "$SLUICE" detach --netns nosuch-$WORLD_ID 2>/dev/null; echo $?)" "1
1"

# ---- --follow: the namespace is made again (a container restart) -------------
attach_bg --netns "$NS_C" --follow
check "attach --follow comes up" wait_attached 2
check "  and serves" eq "$(in_c $CURL https://allowed.test/)" "hello from allowed.test"
ip netns del "$NS_C"
container_up >/dev/null 2>&1
check "after the namespace is re-created, --follow attaches it again" wait_attached 3
check "  the gap is logged: an attach close record with reason unprotected" \
	eq "$(jq -r 'select(.event=="attach" and .phase=="close") | "\(.decision) \(.reason)"' "$LOG" | head -1)" "deny unprotected"
check "  and said once on stderr" \
	eq "$(grep -c "netns:$NS_C: .*not protected by sluice until it is attached again" "$D/attach.err")" "1"
check "  the new namespace is served" eq "$(in_c $CURL https://allowed.test/)" "hello from allowed.test"
check "  and locked: raw TCP rejected" \
	eq "$(in_c python3 "$HERE/nftprobe.py" tcp 198.51.100.10 8080 | cut -d' ' -f1)" "refused"
cp "$D/attach.yaml" "$D/attach.yaml.orig"
printf 'version: 1\nname: attached\nallow: [other.test]\nallow_private: ["198.51.100.0/24"]\n' >"$D/attach.yaml"
kill -HUP "$ATTACH_PID"
sleep 0.3
check "SIGHUP to a foreground attach: new decisions follow the changed policy" \
	eq "$(in_c $CURL https://allowed.test/ 2>/dev/null)|$(in_c $CURL https://other.test/)" "|hello from other.test"
printf 'version: 1\nallow: [\n' >"$D/attach.yaml"
kill -HUP "$ATTACH_PID"
sleep 0.3
check "  a broken policy is refused with its file:line:col, the last good one stays" \
	eq "$(grep -c "$D/attach.yaml:3:" "$D/attach.err") $(in_c $CURL https://other.test/)" "1 hello from other.test"
check "  attach is still running" kill -0 "$ATTACH_PID"
cp "$D/attach.yaml.orig" "$D/attach.yaml"
kill -HUP "$ATTACH_PID"
sleep 0.3
check "a second attach to a served namespace fails (125) and says why" \
	eq "$(in_host "$SLUICE" attach --netns "$NS_C" --policy "$D/attach.yaml" --resolver 198.51.100.53 2>&1 >/dev/null | grep -c 'another sluice attached'; in_host "$SLUICE" attach --netns "$NS_C" --policy "$D/attach.yaml" 2>/dev/null; echo $?)" "1
125"
kill "$ATTACH_PID"
wait "$ATTACH_PID" 2>/dev/null
check "SIGTERM stops attach with status 0" eq "$?" "0"
check "  and the table stays" in_c nft list table inet sluice >/dev/null
in_host "$SLUICE" detach --netns "$NS_C"

# ---- a plain process: unshare -n plus a veth, attached by --pid ---------------
# its /etc/resolv.conf (the process's own, in a mount namespace of its own)
# is a symlink to a FIFO: sluice reads it to look for Docker's DNS, and an
# open that followed it would hang the attach
mkdir "$D/petc" && mkfifo "$D/pfifo" && ln -s "$D/pfifo" "$D/petc/resolv.conf"
unshare -n -m sh -c 'mount --bind "$1" /etc && exec sleep 600' _ "$D/petc" &
UNSHARED=$!
sleep 0.2
ip link add "vp$WORLD_ID" type veth peer name "vq$WORLD_ID"
ip link set "vp$WORLD_ID" netns "$UNSHARED"
ip link set "vq$WORLD_ID" netns "$NS_NET"
in_p() { nsenter -t "$UNSHARED" -n "$@"; }
in_p ip link set lo up
in_p ip addr add 203.0.113.66/32 dev "vp$WORLD_ID"
in_p ip link set "vp$WORLD_ID" up
in_p ip route add 203.0.113.65 dev "vp$WORLD_ID"
in_p ip route add default via 203.0.113.65
in_net ip addr add 203.0.113.65/32 dev "vq$WORLD_ID"
in_net ip link set "vq$WORLD_ID" up
in_net ip route add 203.0.113.66 dev "vq$WORLD_ID"
check "before: the process reaches the world directly" \
	eq "$(in_p curl -sS --max-time 3 http://198.51.100.10:8080/ -H 'Host: p.test')" "hello from p.test"
attach_bg --pid "$UNSHARED"
check "sluice attach --pid comes up (a resolv.conf that is a symlink to a FIFO is not opened)" wait_attached 4
check "  allowed HTTP by name (resolved by the stub, sent through the transparent port)" \
	eq "$(in_p sh -c "curl -sS --max-time 5 --resolve allowed.test:80:\$(dig +short +time=2 +tries=1 @203.0.113.53 allowed.test A) http://allowed.test/")" "hello from allowed.test"
check "  raw TCP rejected" \
	eq "$(in_p python3 "$HERE/nftprobe.py" tcp 198.51.100.10 8080 | cut -d' ' -f1)" "refused"
check "  the record names the process" \
	eq "$(jq -r 'select(.event=="attach" and .phase=="decision") | .host' "$LOG" | tail -1)" "pid:$UNSHARED"
kill "$UNSHARED"
wait "$UNSHARED" 2>/dev/null
UNSHARED=
for i in $(seq 50); do kill -0 "$ATTACH_PID" 2>/dev/null || break; sleep 0.1; done
wait "$ATTACH_PID"
check "without --follow, attach ends (1) when its process is gone" eq "$?" "1"
check "  saying so on stderr" \
	eq "$(grep -c "pid:[0-9]*: no process [0-9]*: No such process; it is not protected by sluice (--follow attaches again)" "$D/attach.err")" "1"
check "bad --pid says so, exits 125" \
	eq "$(in_host "$SLUICE" attach --pid 0x12 --policy "$D/attach.yaml" 2>&1 >/dev/null | grep -c 'not a process ID'; in_host "$SLUICE" attach --pid 0x12 --policy "$D/attach.yaml" 2>/dev/null; echo $?)" "1
125"
check "two targets at once is a usage error (2)" \
	eq "$(in_host "$SLUICE" attach --pid 1 --netns x --policy "$D/attach.yaml" 2>/dev/null; echo $?)" "2"
check "every line of the log is JSON" eq "$(jq -c . "$LOG" >/dev/null && echo ok)" "ok"
finish
