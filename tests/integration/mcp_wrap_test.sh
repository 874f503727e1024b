#!/usr/bin/env bash
# mcp_wrap_test.sh SLUICE: end to end, a Claude-Desktop-style config whose
# servers are the official @modelcontextprotocol/server-filesystem and
# server-memory (pinned by tests/mcp/package-lock.json) is wrapped with
# `sluice mcp wrap`, then each server is started exactly as the rewritten
# config says (command, args, env, cwd read from the JSON by
# tests/mcp/drive_config.mjs, the SDK's StdioClientTransport) and driven with
# the SDK client: the tools work, the env block reaches the server
# (MEMORY_FILE_PATH is honoured, and NODE_OPTIONS loads a probe that asks for
# one name), and the audit records of the probe's denied lookups carry each
# server's config key. Then unwrap gives the original file back. Needs no
# network: the probe's name is refused by the policy before any lookup.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
MCP=$(cd "$HERE/../mcp" && pwd)
source "$HERE/world.sh"
NM=$MCP/node_modules/@modelcontextprotocol
for p in server-filesystem/dist/index.js server-memory/dist/index.js sdk/package.json; do
	[ -f "$NM/$p" ] || {
		echo "tests/mcp has no $p: run 'npm ci' there (tests/all.sh does)"
		rm -rf "$WORLD_DIR"
		exit 1
	}
done
D=$WORLD_DIR
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/cfg" "$D/data" "$D/work"
printf 'hello from the allowed directory\n' >"$D/data/hello.txt"
C=$D/cfg/claude_desktop_config.json
MEM=$D/work/graph/memory.jsonl
mkdir -p "$(dirname "$MEM")"
cat >"$C" <<EOF
{
  "mcpServers": {
    "files": {
      "command": "node",
      "args": ["$NM/server-filesystem/dist/index.js", "$D/data"],
      "env": { "NODE_OPTIONS": "--require $MCP/probe.cjs" }
    },
    "mem": {
      "command": "node",
      "args": [
        "$NM/server-memory/dist/index.js"
      ],
      "env": {
        "MEMORY_FILE_PATH": "$MEM",
        "NODE_OPTIONS": "--require $MCP/probe.cjs"
      },
      "cwd": "$D/work"
    }
  },
  "globalShortcut": ""
}
EOF
cp "$C" "$D/original.json"

"$SLUICE" mcp wrap --config "$C" 2>"$D/wrap.err"
check "mcp wrap exits 0" eq "$?" 0
check "files gets the filesystem policy, mem the memory one, from the catalogue" \
	eq "$(grep -o 'wrapped [a-z]*, policy [^ ]* (from the catalogue: [a-z]*)' "$D/wrap.err" | sed "s#$D##" | tr '\n' ' ')" \
	"wrapped files, policy /cfg/.sluice/files.yaml (from the catalogue: filesystem) wrapped mem, policy /cfg/.sluice/mem.yaml (from the catalogue: memory) "
check "the wrapped entries run sluice with --name KEY, --policy and one --env per env variable" \
	eq "$(jq -c '.mcpServers | to_entries[] | [.key, .value.command, .value.args[0:9], .value.cwd]' "$C" | sed "s#$D##g" | tr '\n' ' ')" \
	"[\"files\",\"$SLUICE\",[\"run\",\"--name\",\"files\",\"--policy\",\"/cfg/.sluice/files.yaml\",\"--env\",\"NODE_OPTIONS\",\"--\",\"node\"],null] [\"mem\",\"$SLUICE\",[\"run\",\"--name\",\"mem\",\"--policy\",\"/cfg/.sluice/mem.yaml\",\"--env\",\"MEMORY_FILE_PATH\",\"--env\",\"NODE_OPTIONS\"],\"/work\"] "

# ---- filesystem, started as the config says
calls=$(jq -nc --arg d "$D/data" '[
	["list", "list_directory", {path: $d}],
	["read", "read_text_file", {path: "\($d)/hello.txt"}]]')
OUT=$(cd / && node "$MCP/drive_config.mjs" "$C" files "$calls" "$D/files.err")
echo "$OUT" | cut -c1-200 | sed 's/^/    /'
check "files: initialize answers" grep -q '^initialize: secure-filesystem-server ' <<<"$OUT"
check "files: tools/list has list_directory and read_text_file" \
	grep -q '^tools/list: .*list_directory.*read_text_file' <<<"$OUT"
check "files: list_directory shows the file in the allowed directory" grep -qxF 'call list: [FILE] hello.txt' <<<"$OUT"
grep '^{' "$D/files.err" | head -2 | cut -c1-300 | sed 's/^/    audit: /'
check "files: read_text_file returns its content" \
	grep -qxF 'call read: hello from the allowed directory\n' <<<"$OUT"

# ---- memory, started as the config says (its cwd and its env block)
calls=$(jq -nc '[
	["create", "create_entities", {entities: [{name: "sluice", entityType: "tool", observations: ["wraps MCP servers"]}]}],
	["graph", "read_graph", {}]]')
OUT=$(cd / && node "$MCP/drive_config.mjs" "$C" mem "$calls" "$D/mem.err")
echo "$OUT" | cut -c1-200 | sed 's/^/    /'
check "mem: initialize answers" grep -q '^initialize: memory-server ' <<<"$OUT"
check "mem: read_graph returns the entity created" \
	eq "$(sed -n 's/^call graph: //p' <<<"$OUT" | jq -c '[.entities[] | [.name, .entityType, .observations]]' 2>&1)" \
	'[["sluice","tool",["wraps MCP servers"]]]'
check "mem: MEMORY_FILE_PATH from the env block is honoured: the graph is in $MEM" \
	eq "$(jq -c '[.type, .name]' "$MEM" 2>&1)" '["entity","sluice"]'

# ---- the audit log (sluice run logs to stderr, which clients keep per server)
for key in files mem; do
	check "$key: the audit records of the probe's lookup name the server '$key'" \
		eq "$(grep '^{' "$D/$key.err" | jq -r 'select(.host == "probe.example.com") | "\(.server) \(.decision)"' | sort -u)" \
		"$key deny"
done

"$SLUICE" mcp unwrap --config "$C" 2>/dev/null
check "unwrap gives back the original file" cmp "$C" "$D/original.json"
finish
