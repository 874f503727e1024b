#!/usr/bin/env bash
# vs-peers.sh [run-peers options]: measure sluice proxy beside squid and
# tinyproxy with the shared peer harness (../shared/bench/run-peers.sh), in one
# run, on loopback only. Build sluice first (cmake --build build).
# Example: bench/vs-peers.sh --quick --no-dns
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE=${SLUICE:-$HERE/../build/sandbox/sluice}
HARNESS=${HARNESS:-$HERE/../../shared/bench/run-peers.sh}
[ -x "$SLUICE" ] || { echo "build sluice first: $SLUICE is missing" >&2; exit 2; }
[ -x "$HARNESS" ] || { echo "peer harness not found at $HARNESS (set HARNESS=)" >&2; exit 2; }
exec "$HARNESS" --proxy sluice=127.0.0.1:3130 \
	--proxy-cmd "$SLUICE proxy --listen 127.0.0.1:3130 --policy $HERE/proxy-bench.yaml --log /dev/null" \
	"$@"
