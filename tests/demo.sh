#!/usr/bin/env bash
# demo.sh: install, build, and run sluice's main job in a private test world:
# a client asks for an allowed host and for hosts the default policy refuses,
# through `sluice proxy`, and the audit log is shown. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
SLUICE=$PWD/build/sandbox/sluice
set +e
source tests/integration/world.sh
world_up || { echo "could not build the demo world"; exit 1; }
D=$WORLD_DIR
cat >"$D/demo.yaml" <<'YAML'
version: 1
name: demo
allow: [allowed.test, rebind.test]   # rebind.test answers 127.0.0.1: blocked after resolution
allow_private: ["198.51.100.0/24", "2001:db8::/32"]   # the demo origins live in TEST-NET
YAML
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$D/demo.yaml" \
	--log "$D/audit.log" --resolver 198.51.100.53
wait_port "$NS_HOST" 127.0.0.1 3128
run() {
	echo "\$ curl -x http://127.0.0.1:3128 $*"
	in_host curl -sS --max-time 10 --cacert "$D/ca.pem" -x http://127.0.0.1:3128 "$@"
	echo
}
run https://allowed.test/
run http://other.test/
run http://rebind.test/
run http://metadata.google.internal/latest/meta-data/
sleep 0.3
echo "--- audit log ($D/audit.log) ---"
cat "$D/audit.log"
