#!/usr/bin/env bash
# publish_test.sh SLUICE: `sluice run --publish`. A Streamable-HTTP MCP
# server (tests/mcp/http_server.mjs, the SDK's StreamableHTTPServerTransport)
# listens on the sandbox's own 127.0.0.1:3000; --publish 18181:3000 makes it
# reachable on the host's 127.0.0.1:18181, where the SDK's Streamable-HTTP
# client (tests/mcp/http_client.mjs) initializes, lists tools and calls
# fetch. The server still reaches only what its policy allows (the denied
# fetch fails and is logged), the sandbox cannot use the published port to
# get out, a port nothing listens on inside says so, and bad --publish
# values, a port in use and non-loopback addresses are handled as the
# synopsis says (125, one line; a warning).
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
MCP=$(cd "$HERE/../mcp" && pwd)
source "$HERE/world.sh"
[ -d "$MCP/node_modules/@modelcontextprotocol/sdk" ] || {
	echo "tests/mcp has no node_modules: run 'npm ci' there (tests/all.sh does)"
	rm -rf "$WORLD_DIR"
	exit 1
}
world_up || { echo "could not build the test world"; exit 1; }
D=$WORLD_DIR
LOG=$D/publish.log
ERR=$D/publish.err
cat >"$D/p.yaml" <<'YAML'
version: 1
name: http-server
allow: [allowed.test]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML

# wait_line FILE TEXT: at most 20 s for TEXT in FILE
wait_line() {
	local i
	for i in $(seq 200); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "    timed out waiting for '$2' in $1" >&2
	return 1
}

echo "# a Streamable-HTTP MCP server inside, the SDK client outside"
cd "$MCP"
world_bg "$NS_HOST" "$SLUICE" run --policy "$D/p.yaml" --log "$LOG" --resolver 198.51.100.53 \
	--publish 18181:3000 --publish 127.0.0.1:18182:3001 -- node http_server.mjs 3000 2>"$ERR"
SPID=${WORLD_PIDS[-1]}
check "the server came up inside the sandbox" wait_line "$ERR" "listening on 127.0.0.1:3000"
check "sluice said where each published port leads" \
	eq "$(grep -c "run: --publish: 127.0.0.1:1818[12] reaches the sandbox's 127.0.0.1:300[01]" "$ERR")" 2
out=$(in_host timeout 60 node http_client.mjs http://127.0.0.1:18181/mcp http://allowed.test/ http://other.test/)
rc=$?
echo "$out" | sed 's/^/    /'
check "the SDK's Streamable-HTTP client initializes through the published port" \
	grep -qx 'initialize: sluice-http-test' <<<"$out"
check "  lists the server's tools" grep -qx 'tools/list: fetch' <<<"$out"
check "  and the server's fetch of an allowed host works" \
	grep -qx 'tools/call http://allowed.test/: 200 hello from allowed.test' <<<"$out"
check "  while its fetch of a denied host fails" \
	grep -qx 'tools/call http://other.test/: error fetch failed: ENOTFOUND' <<<"$out"
check "  and the client exits 0" eq "$rc" 0
check "the denied host is in the audit log under the server's name" \
	eq "$(jq -r 'select(.host=="other.test" and .phase=="decision") | "\(.server) \(.event) \(.decision)"' "$LOG" | sort -u)" \
	"http-server dns deny"
check "  and the allowed one too" \
	grep -q '"event":"transparent".*"host":"allowed.test".*"decision":"allow"' "$LOG"
check "several clients at once (10 in parallel)" bash -c "
	for i in \$(seq 10); do ip netns exec '$NS_HOST' node http_client.mjs http://127.0.0.1:18181/mcp >'$D/par.'\$i 2>&1 & done; wait
	test \$(cat '$D'/par.* | grep -cx 'tools/list: fetch') -eq 10"
# a 2 MB POST answered (405) through the relay: bytes both ways, half-close
body=$(in_host curl -s -o /dev/null -w '%{http_code}' --data-binary @<(head -c 2000000 /dev/zero | tr '\0' a) \
	http://127.0.0.1:18181/other)
check "a large request crosses the relay and is answered" eq "$body" 405

echo "# the published port leads in only"
check "the host port listens on loopback only" \
	bash -c "! ip netns exec '$NS_NET' bash -c 'exec 3<>/dev/tcp/198.51.100.1/18181' 2>/dev/null"
out=$(in_host "$SLUICE" run --policy "$D/p.yaml" --resolver 198.51.100.53 -- \
	curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:18181/mcp 2>/dev/null)
check "another sandbox cannot reach the host's published port" eq "$out" 000
out=$(in_host curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:18182/ 2>/dev/null)
check "a published port nothing listens on inside: the connection is closed" eq "$out" 000
check "  and stderr says why, once" \
	eq "$(grep -c "run: --publish 127.0.0.1:18182: nothing listens on the sandbox's 127.0.0.1:3001" "$ERR")" 1
kill "$SPID"
wait "$SPID" 2>/dev/null
check "sluice stopped: the host port is closed" \
	bash -c "! ip netns exec '$NS_HOST' bash -c 'exec 3<>/dev/tcp/127.0.0.1/18181' 2>/dev/null"

echo "# bad values"
for bad in 80 3000:443 0 host:1:2 127.0.0.1 '[::1]8080' 70000; do
	in_host "$SLUICE" run --publish "$bad" -- true 2>"$D/bad.err"
	check "--publish '$bad': exit 125 with one line" \
		eq "$?:$(grep -cF "run: invalid --publish '$bad'" "$D/bad.err")" "125:1"
done
check "  the redirected ports are named" grep -q "ports 53, 80, 443, 3128 and 3129" <(in_host "$SLUICE" run --publish 8080:53 -- true 2>&1)
world_bg "$NS_HOST" python3 -m http.server --bind 127.0.0.1 18190
wait_port "$NS_HOST" 127.0.0.1 18190
in_host "$SLUICE" run --publish 18190:3000 -- touch "$D/ran" 2>"$D/inuse.err"
check "a host port in use: exit 125, said before the command runs" \
	eq "$?:$(grep -c 'run: cannot listen on 127.0.0.1:18190 for --publish: Address already in use' "$D/inuse.err"):$(ls "$D/ran" 2>/dev/null)" "125:1:"
in_host "$SLUICE" run --publish 198.51.100.1:18191:3000 -- true 2>"$D/wide.err"
check "a non-loopback address, written out: runs, with a warning" \
	eq "$?:$(grep -c 'run: --publish 198.51.100.1:18191 is not a loopback address' "$D/wide.err")" "0:1"
in_host "$SLUICE" run --publish '[::1]:18192:3000' -- true 2>"$D/v6.err"
check "an IPv6 loopback address works" eq "$?:$(grep -c "\[::1\]:18192 reaches" "$D/v6.err")" "0:1"
finish
