#!/usr/bin/env bash
# held-bench.sh SLUICE [CLIENTS] [ROUNDS]: the CPU time sluice spends on a
# held body: a 64 MiB npm tarball with a published integrity (the most
# CX_HOLD_MAX allows) fetched while the store is full (an 8 MiB tmpfs), so
# it is checked in memory and copied to each of CLIENTS (4) concurrent
# clients as it takes it (pump_held). Each round: the clients ask at once
# (one fetch, one held body), all over TLS; sluice's user+system CPU for the
# round comes from /proc/PID/stat. Prints one line per round and the median.
# The world is the integration tests' (world.sh, cache_world.sh and
# fault_origin.py: two network namespaces made here, removed at exit).
# Take /tmp/sluice-bench.lock around it and say what else the machine ran.
set -u
SLUICE=$(realpath "$1")
CLIENTS=${2:-4}
ROUNDS=${3:-5}
HERE=$(cd "$(dirname "$0")/../tests/integration" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"
D=$WORLD_DIR
TMPFS=$D/tmpfs
bench_down() {
	[ -n "${PID:-}" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	mountpoint -q "$TMPFS" 2>/dev/null && { umount "$TMPFS" || umount -l "$TMPFS"; }
	world_down
}
world_up >/dev/null || { echo "could not build the world"; exit 1; }
trap bench_down EXIT
make_registry_cert >/dev/null || exit 1
in_net ip addr replace "$REGISTRY_ADDR/24" dev "vi$WORLD_ID"
in_net ip addr replace "$REGISTRY_ADDR6/64" dev "vi$WORLD_ID" nodad
world_bg "$NS_NET" python3 "$HERE/fault_origin.py" "$REGISTRY_ADDR" "$REGISTRY_ADDR6" \
	"$D/registry.pem" "$D/registry.key" "$D/fo" 2>"$D/fo.err"
wait_port "$NS_NET" "$REGISTRY_ADDR" 443 || { echo "no origin"; exit 1; }
printf 'version: 1\npresets: [npm]\nallow_private: ["198.51.100.0/24"]\n' >"$D/p.yaml"
in_host "$SLUICE" ca init --ca "$D/ca" 2>/dev/null && in_host "$SLUICE" ca show --ca "$D/ca" >"$D/sca.pem"
mkdir -p "$TMPFS" && mount -t tmpfs -o size=8m held-bench "$TMPFS" || exit 1
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$D/p.yaml" --resolver 198.51.100.53 \
	--cache "$TMPFS/store" --upstream-ca "$D/ca.pem" --ca "$D/ca" --log "$D/log" 2>"$D/err"
PID=$!
wait_port "$NS_HOST" 127.0.0.1 3128
c() { in_client curl -sS --max-time 120 -x http://127.0.0.1:3128 --cacert "$D/sca.pem" "$@"; }
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
want=$(awk '$1 == "/fullbig/-/fullbig-1.0.0.tgz" {print $3}' "$D/fo/objects")
c -o /dev/null https://registry.npmjs.org/fullbig
hz=$(getconf CLK_TCK)
all=()
for r in $(seq "$ROUNDS"); do
	t0=$(cpu) w0=$(date +%s%N)
	pids=()
	for i in $(seq "$CLIENTS"); do
		(c https://registry.npmjs.org/fullbig/-/fullbig-1.0.0.tgz | sha256sum | cut -d' ' -f1 >"$D/got.$i") &
		pids+=($!)
	done
	wait "${pids[@]}"
	ms=$((($(cpu) - t0) * 1000 / hz)) wall=$((($(date +%s%N) - w0) / 1000000))
	ok=$(cat "$D"/got.* | sort -u)
	[ "$ok" = "$want" ] || { echo "round $r: wrong bytes"; exit 1; }
	echo "round $r: $CLIENTS clients x 64 MiB held: sluice CPU $ms ms, wall $wall ms"
	all+=("$ms")
done
echo "median sluice CPU: $(printf '%s\n' "${all[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms"
