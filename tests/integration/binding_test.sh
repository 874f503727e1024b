#!/usr/bin/env bash
# binding_test.sh SLUICE: the first connection to a DNS-bound port. A
# client in a fresh sandbox resolves a name the policy allows on port 7008
# and connects on its next instruction, before anything else can happen:
# the stub must have put the address in bound4 (and the name binding in
# place) before its answer left, or the kernel rejects that connection.
# 200 fresh sandboxes, so every lookup goes upstream and every binding is new.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
world_up || { echo "could not build the test world"; exit 1; }

D=$WORLD_DIR
chmod 755 "$D"
cat >"$D/bind.yaml" <<'YAML'
version: 1
name: bindtest
allow: ["allowed.test:7008"]
allow_private: ["198.51.100.0/24"]
YAML
CLIENT='import socket, sys, time
t = time.monotonic()
a = socket.getaddrinfo("allowed.test", 7008, socket.AF_INET, socket.SOCK_STREAM)[0][4]
sys.stderr.write("lookup_us %d\n" % ((time.monotonic() - t) * 1e6))
s = socket.create_connection(a, timeout=5)
s.sendall(b"ping\n")
print(s.recv(100).decode().strip())'
N=${BIND_RUNS:-200}
ok=0 t0=${EPOCHREALTIME/./}
for _ in $(seq "$N"); do
	out=$(in_host "$SLUICE" run --policy "$D/bind.yaml" --log "$D/bind.log" --resolver 198.51.100.53 \
		-- python3 -c "$CLIENT" 2>>"$D/bind.err")
	[ "$out" = ping ] && ok=$((ok + 1))
done
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
echo "# $N fresh sandboxes in $ms ms; lookup (resolve through the stub, answer from upstream) median" \
	"$(awk '/^lookup_us/ {print $2}' "$D/bind.err" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') us," \
	"p90 $(awk '/^lookup_us/ {print $2}' "$D/bind.err" | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.9)]}') us"
check "resolve, then connect at once to a DNS-bound port: $ok of $N succeed" eq "$ok" "$N"
check "  each one a lookup the stub asked upstream (dnsmasq saw $N)" \
	eq "$(grep -c 'query\[A\] allowed.test' "$D/dnsmasq.log")" "$N"
check "  and no packet was rejected" eq "$(jq -r 'select(.event=="packet")' "$D/bind.log" | grep -c .)" "0"
finish
