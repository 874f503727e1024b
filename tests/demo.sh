#!/usr/bin/env bash
# demo.sh: install, build, and run sluice's main job in a private test world:
# `sluice run` wraps a command (here a small script standing in for an MCP
# server) under a policy; the command asks for an allowed host and for hosts
# the policy refuses, with and without the proxy variables, and tries to get
# out directly, to write a host file and to open a vsock socket to the
# hypervisor. Then the audit log is shown. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
SLUICE=$PWD/build/sluice
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
cat >"$D/server.sh" <<SCRIPT
say() { echo "\\\$ \$*"; "\$@" 2>&1; echo; }
say curl -sS --max-time 5 --cacert $D/ca.pem https://allowed.test/
say curl -sS --max-time 5 http://other.test/
say curl -sS --max-time 5 http://rebind.test/
say curl -sS --max-time 5 http://metadata.google.internal/latest/meta-data/
say curl -sS --max-time 5 --noproxy '*' http://allowed.test/
say curl -sS --max-time 5 --noproxy '*' http://198.51.100.10:8080/
say dig +short allowed.test
say dig +short other.test
say sh -c 'echo tampered >> $D/demo.yaml'
say python3 -c 'import socket; socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)'
SCRIPT
echo "\$ sluice run --policy demo.yaml -- sh server.sh"
in_host "$SLUICE" run --policy "$D/demo.yaml" --log "$D/audit.log" --resolver 198.51.100.53 -- sh "$D/server.sh" 2>&1
echo "--- audit log ($D/audit.log) ---"
cat "$D/audit.log"
echo "--- the same log, reviewed: sluice log summary ---"
"$SLUICE" log summary "$D/audit.log"
echo "--- and the policy it would propose: sluice log policy ---"
"$SLUICE" log policy "$D/audit.log"
