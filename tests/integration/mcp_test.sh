#!/usr/bin/env bash
# mcp_test.sh SLUICE: an MCP stdio server (tests/mcp/server.mjs, built on the
# official @modelcontextprotocol/sdk, pinned by package-lock.json) driven
# through initialize, tools/list and tools/call under `sluice run`, in the
# test world. Its fetch tool uses node's fetch, which ignores proxy
# variables: the allowed URL goes through the transparent port, the denied
# one fails with a clear error, and stdout carries nothing but JSON-RPC.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
MCP=$(cd "$HERE/../mcp" && pwd)
source "$HERE/world.sh"
[ -d "$MCP/node_modules/@modelcontextprotocol/sdk" ] || {
	echo "tests/mcp has no node_modules: run 'npm ci' there (tests/all.sh does)"
	exit 1
}
world_up || { echo "could not build the test world"; exit 1; }

D=$WORLD_DIR
LOG=$D/mcp.log
cat >"$D/mcp.yaml" <<'YAML'
version: 1
name: fetch-server
allow: [allowed.test]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
out=$(cd "$MCP" && in_host env MCP_URLS="http://allowed.test/ http://other.test/" python3 drive.py \
	"$SLUICE" run --policy "$D/mcp.yaml" --log "$LOG" --resolver 198.51.100.53 -- node server.mjs 2>"$D/mcp.err")
rc=$?
echo "$out" | sed 's/^/    /'
check "initialize answers with the server's name" grep -qx 'initialize: sluice-fetch-test' <<<"$out"
check "tools/list lists fetch" grep -qx 'tools/list: fetch' <<<"$out"
check "tools/call fetch of an allowed URL returns the page" \
	grep -qx 'tools/call http://allowed.test/: 200 hello from allowed.test' <<<"$out"
check "tools/call fetch of a denied URL fails with a clear error" \
	grep -qx 'tools/call http://other.test/: error fetch failed: ENOTFOUND' <<<"$out"
check "stdout carried nothing but JSON-RPC, and the server exited 0" eq "$rc:$(grep -c '^exit: 0$' <<<"$out")" "0:1"
check "the audit log names the server and both decisions" \
	eq "$(jq -r 'select(.phase=="decision" and (.host=="allowed.test" or .host=="other.test") and (.event=="transparent" or .decision=="deny")) | "\(.server) \(.event) \(.host) \(.decision)"' "$LOG" | sort -u | tr '\n' ';')" \
	"fetch-server dns other.test deny;fetch-server transparent allowed.test allow;"
check "the denial also reached stderr, never stdout" grep -q 'dns: denied A other.test' "$D/mcp.err"
finish
