#!/usr/bin/env bash
# nft_test.sh NFTLOAD: table inet sluice in a private network namespace whose
# only route is `default dev lo`, as in the sandbox. A Python listener stands
# in for the transparent port and the DNS stub; clients check what the
# kernel does with each kind of packet.
set -u
NFTLOAD=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh" # for check/eq/finish only: no world is built here
NS=slnft$$
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORLD_DIR"
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
in_ns ip link set lo up
in_ns ip route add default dev lo src 127.0.0.1
in_ns ip -6 route add default dev lo src ::1
check "the table loads in one batch, with two bindings" \
	eq "$(in_ns "$NFTLOAD" 5353 3129 7 203.0.113.5 22 60 2001:db8::5 2222 60 203.0.113.6 22 1)" "ok"
ip netns exec "$NS" python3 "$HERE/nftprobe.py" serve 3129 5353 >/dev/null & # $! is python itself
PIDS+=($!)
for _ in $(seq 50); do in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/3129' 2>/dev/null && break; sleep 0.1; done

probe() { in_ns python3 "$HERE/nftprobe.py" "$@"; }
check "TCP 443 to any address reaches the transparent port" eq "$(probe tcp 203.0.113.9 443)" "orig=203.0.113.9:443"
check "TCP 80 too" eq "$(probe tcp 198.51.100.7 80)" "orig=198.51.100.7:80"
check "IPv6 TCP 443" eq "$(probe tcp 2001:db8::9 443)" "orig=[2001:db8::9]:443"
check "a bound address:port (ssh to a DNS-allowed host)" eq "$(probe tcp 203.0.113.5 22)" "orig=203.0.113.5:22"
check "a bound IPv6 pair" eq "$(probe tcp 2001:db8::5 2222)" "orig=[2001:db8::5]:2222"
check "the same address on another port is reset at once" eq "$(probe tcp 203.0.113.5 2222)" "refused 0.0"
check "an unbound address on port 22 is reset at once" eq "$(probe tcp 203.0.113.9 22)" "refused 0.0"
check "IPv6 to an unbound pair is reset at once" eq "$(probe tcp 2001:db8::9 22)" "refused 0.0"
check "UDP 53 to any resolver reaches the stub" eq "$(probe udp 198.51.100.53 53)" "stub"
check "IPv6 UDP 53 too" eq "$(probe udp 2001:db8::53 53)" "stub"
check "TCP 53 too" eq "$(probe tcp 203.0.113.53 53)" "stub"
out=$(probe udp 203.0.113.9 123)
case "$out" in
"error 0."* | "refused 0."*) check "UDP elsewhere fails within a second, no blackhole ($out)" true ;;
*) check "UDP elsewhere fails within a second, no blackhole ($out)" false ;;
esac
# ping waits out -W for a reply even though the kernel rejected the echo;
# the rejection itself shows in the counter below
check "ICMP echo is sent and gets no reply" \
	eq "$(in_ns ping -c1 -W1 203.0.113.9 2>&1 | grep -o '1 packets transmitted, 0 received')" "1 packets transmitted, 0 received"
sleep 1.5
check "a binding expires with its TTL" eq "$(probe tcp 203.0.113.6 22)" "refused 0.0"
counted() { # packets counted by the reject rule whose line matches $1
	in_ns nft list chain inet sluice filter_out | awk -v m="$1" '$0 ~ m && /reject/{for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1)}'
}
check "TCP rejects are counted: one per refused connect" eq "$(counted 'tcp reset')" "4"
other=$(counted admin-prohibited)
check "other rejects are counted: UDP 123 and ICMP echo ($other)" test "$other" -ge 2
check "loading again replaces the table atomically (no duplicate rules)" \
	eq "$(in_ns "$NFTLOAD" 5353 3129 7 && in_ns nft list table inet sluice | grep -c 'redirect to')" "ok
6"
check "  and drops the old bindings" eq "$(probe tcp 203.0.113.5 22)" "refused 0.0"
finish
