#!/usr/bin/env bash
# mcp_servers_test.sh SLUICE: the official MCP servers people run
# (@modelcontextprotocol/server-filesystem, -memory and -everything, pinned
# by tests/mcp/package-lock.json) keep working under `sluice run`'s
# filesystem defaults. Each is driven over stdio by tests/mcp/drive_servers.py
# (initialize, tools/list, real tool calls) with the default policy (every
# host denied) from a working directory under the world dir, first as root,
# then as nobody. Writes land in the working directory on the host; writes
# anywhere else fail read-only even when the filesystem server is rooted at
# /; stdout carries nothing but JSON-RPC; every server exits 0 when stdin
# closes. Needs no network: nothing here calls world_up.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
MCP=$(cd "$HERE/../mcp" && pwd)
source "$HERE/world.sh"
NM=$MCP/node_modules/@modelcontextprotocol
for s in server-filesystem server-memory server-everything; do
	[ -f "$NM/$s/dist/index.js" ] || {
		echo "tests/mcp has no $s: run 'npm ci' there (tests/all.sh does)"
		rm -rf "$WORLD_DIR"
		exit 1
	}
done
D=$WORLD_DIR
ETC=/etc/sluice-mcp-test
USRDIR=/usr/local/sluice-mcp-test
etc_was_there=0 usr_was_there=0
[ -e "$ETC" ] && etc_was_there=1
[ -e "$USRDIR" ] && usr_was_there=1
cleanup() {
	# only ever remove what this test would have created, had the sandbox failed
	[ "$etc_was_there" = 0 ] && rm -f "$ETC"
	[ "$usr_was_there" = 0 ] && rmdir "$USRDIR" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
# nobody must reach (and, for the filesystem server's path checks, list) its
# directories below
chmod 755 "$D"
export SLUICE_MCPS_SECRET=host-only-value # the sandbox scrubs it

# drive WHO WD LOG CALLS [--env NAME] -- SERVER ARGS...: run the driver, with
# sluice run as WHO (root or nobody) from WD; stdout to $OUT, stderr appended
# to $ERR.
drive() {
	local who=$1 wd=$2 log=$3 calls=$4
	shift 4
	local as=()
	[ "$who" = nobody ] && as=(setpriv --reuid=nobody --regid=nogroup --clear-groups
		env HOME="$D/nobody/home" USER=nobody LOGNAME=nobody)
	OUT=$(cd "$wd" && python3 "$MCP/drive_servers.py" "$calls" "${as[@]}" "$SLUICE" run --log "$log" "$@" 2>>"$ERR")
	RC=$?
	echo "$OUT" | cut -c1-240 | sed 's/^/    /'
}
has() { grep -qxF -- "$1" <<<"$OUT"; }
has_re() { grep -qx -- "$1" <<<"$OUT"; }
lists() { # every named tool is in tools/list
	local t
	for t; do grep -q "^tools/list: \(.*,\)\?$t\(,.*\)\?$" <<<"$OUT" || { echo "    no tool $t" >&2; return 1; }; done
}
clean_exit() { eq "$RC:$(grep -c '^exit: 0$' <<<"$OUT")" "0:1"; }
absent() { [ ! -e "$1" ] || { echo "    $1 exists" >&2; return 1; }; }
graph() { sed -n "s/^call $1: //p" <<<"$OUT" | jq -c '[.entities[] | [.name, .entityType, .observations]], [.relations[] | [.from, .relationType, .to]]' 2>&1 | tr '\n' ' '; }

check "$ETC and $USRDIR did not exist before the test" eq "$etc_was_there$usr_was_there" 00

for who in root nobody; do
	echo "# as $who"
	if [ "$who" = nobody ]; then
		if ! setpriv --reuid=nobody --regid=nogroup --clear-groups \
			test -r "$NM/server-filesystem/dist/index.js" -a -x "$SLUICE"; then
			echo "# skipped: tests/mcp/node_modules or sluice is not readable by nobody"
			continue
		fi
	fi
	base=$D/$who
	W=$base/wd
	ERR=$base/stderr
	mkdir -p "$W" "$base/home" "$base/logs"
	[ "$who" = nobody ] && chown nobody:nogroup "$base" "$W" "$base/home" "$base/logs"
	[ "$who" = nobody ] && chmod 755 "$base"
	L=$base/logs

	# ---- filesystem, rooted at the working directory
	text=$'hello from '"$who"$' under sluice\nsecond line'
	calls=$(jq -nc --arg w "$W" --arg out "$base/outside.txt" --arg t "$text" '[
		["write", "write_file", {path: "\($w)/notes/../new.txt", content: $t}],
		["read", "read_file", {path: "\($w)/new.txt"}],
		["list", "list_directory", {path: $w}],
		["outside", "write_file", {path: $out, content: "x"}],
		["protected", "write_file", {path: "\($w)/.mcp.json", content: "{}"}]]')
	drive "$who" "$W" "$L/fs.log" "$calls" -- node "$NM/server-filesystem/dist/index.js" "$W"
	check "$who: filesystem: initialize answers" has_re 'initialize: secure-filesystem-server .*'
	check "$who: filesystem: tools/list has write_file, read_file, list_directory" \
		lists write_file read_file list_directory
	check "$who: filesystem: write_file in the working directory succeeds" \
		has "call write: Successfully wrote to $W/notes/../new.txt"
	check "$who: filesystem: read_file returns what was written" \
		has "call read: hello from $who under sluice\\nsecond line"
	check "$who: filesystem: list_directory shows the new file" \
		grep -q '^call list: .*\[FILE\] new\.txt' <<<"$OUT"
	check "$who: filesystem: the file is on the host with the content, owned by $who" \
		eq "$(cat "$W/new.txt" 2>&1):$(stat -c %U "$W/new.txt" 2>&1)" "$text:$who"
	check "$who: filesystem: a write outside the allowed root is refused by the server" \
		has "call outside: error Access denied - path outside allowed directories: $base/outside.txt not in $W"
	check "$who: filesystem: ... and is not on the host" absent "$base/outside.txt"
	check "$who: filesystem: a write to the protected .mcp.json fails" \
		grep -q '^call protected: error E' <<<"$OUT"
	check "$who: filesystem: ... and leaves no .mcp.json (nor temp file) on the host" \
		eq "$(cd "$W" && find . -name '.mcp.json*' | wc -l)" 0
	check "$who: filesystem: stdout was only JSON-RPC, the server exited 0" clean_exit

	# ---- filesystem, rooted at /: the server allows it, the sandbox does not
	calls=$(jq -nc --arg w "$W" --arg etc "$ETC" --arg usr "$USRDIR" '[
		["etc", "write_file", {path: $etc, content: "escaped"}],
		["wd", "write_file", {path: "\($w)/via-root.txt", content: "ok"}],
		["usr", "create_directory", {path: $usr}]]')
	drive "$who" "$W" "$L/fs-root.log" "$calls" -- node "$NM/server-filesystem/dist/index.js" /
	check "$who: filesystem at /: writing $ETC fails read-only" \
		has "call etc: error EROFS: read-only file system, open '$ETC'"
	check "$who: filesystem at /: ... and $ETC is not on the host" absent "$ETC"
	# Node's recursive mkdir reports EROFS as ENOENT (nodejs/node#47098)
	check "$who: filesystem at /: create_directory under /usr fails" \
		grep -q "^call usr: error E[A-Z]*: .*, mkdir '$USRDIR'" <<<"$OUT"
	check "$who: filesystem at /: ... and is not on the host" absent "$USRDIR"
	check "$who: filesystem at /: the working directory stays writable" \
		eq "$(has "call wd: Successfully wrote to $W/via-root.txt" && cat "$W/via-root.txt")" ok
	check "$who: filesystem at /: stdout was only JSON-RPC, the server exited 0" clean_exit

	# ---- memory, its file in the working directory (passed with --env)
	MEM=$W/memory.jsonl
	calls=$(jq -nc '[
		["create", "create_entities", {entities: [
			{name: "sluice", entityType: "tool", observations: ["runs MCP servers in a sandbox"]},
			{name: "node", entityType: "runtime", observations: ["v20"]}]}],
		["relate", "create_relations", {relations: [{from: "sluice", to: "node", relationType: "runs"}]}],
		["graph", "read_graph", {}]]')
	want='[["sluice","tool",["runs MCP servers in a sandbox"]],["node","runtime",["v20"]]] [["sluice","runs","node"]] '
	MEMORY_FILE_PATH=$MEM drive "$who" "$W" "$L/memory.log" "$calls" --env MEMORY_FILE_PATH -- \
		node "$NM/server-memory/dist/index.js"
	check "$who: memory: initialize answers" has_re 'initialize: memory-server .*'
	check "$who: memory: tools/list has create_entities and read_graph" lists create_entities read_graph
	check "$who: memory: read_graph returns the entities and the relation" eq "$(graph graph)" "$want"
	check "$who: memory: the memory file is on the host, owned by $who" \
		eq "$(jq -c '[.type, .name // .from]' "$MEM" 2>&1 | tr '\n' ' ')$(stat -c %U "$MEM" 2>&1)" \
		'["entity","sluice"] ["entity","node"] ["relation","sluice"] '"$who"
	check "$who: memory: stdout was only JSON-RPC, the server exited 0" clean_exit
	MEMORY_FILE_PATH=$MEM drive "$who" "$W" "$L/memory2.log" '[["again","read_graph",{}]]' \
		--env MEMORY_FILE_PATH -- node "$NM/server-memory/dist/index.js"
	check "$who: memory: a second sandbox reads the graph back from the file" eq "$(graph again)" "$want"
	MEMORY_FILE_PATH=$MEM drive "$who" "$W" "$L/memory3.log" \
		'[["scrubbed","create_entities",{"entities":[{"name":"x","entityType":"t","observations":[]}]}]]' \
		-- node "$NM/server-memory/dist/index.js"
	check "$who: memory: without --env the variable is scrubbed and the default file (beside the code) is read-only" \
		grep -q "^call scrubbed: error EROFS: read-only file system, open '$NM/server-memory/dist/memory.jsonl" <<<"$OUT"
	check "$who: memory: ... nothing was written beside the code on the host" \
		eq "$(find "$NM/server-memory" -name 'memory.json*' | wc -l)" 0

	# ---- everything
	calls=$(jq -nc '[
		["echo", "echo", {message: "hello through sluice"}],
		["sum", "get-sum", {a: 19, b: 23}],
		["env", "get-env", {}]]')
	drive "$who" "$W" "$L/everything.log" "$calls" -- node "$NM/server-everything/dist/index.js" stdio
	check "$who: everything: initialize answers" has_re 'initialize: mcp-servers/everything .*'
	check "$who: everything: tools/list has echo, get-sum and get-env" lists echo get-sum get-env
	check "$who: everything: echo returns the message" has 'call echo: Echo: hello through sluice'
	check "$who: everything: get-sum adds" has 'call sum: The sum of 19 and 23 is 42.'
	envj=$(sed -n 's/^call env: //p' <<<"$OUT")
	check "$who: everything: get-env: HOME and PWD are $who's, the host-only variable is gone" \
		eq "$(jq -r '"\(.HOME) \(.PWD) \(.USER // "-") \(.SLUICE_MCPS_SECRET // "scrubbed") \(.NODE_USE_ENV_PROXY)"' <<<"$envj" 2>&1)" \
		"$([ "$who" = nobody ] && echo "$base/home" || echo "$HOME") $W $([ "$who" = nobody ] && echo nobody || echo "${USER:--}") scrubbed 1"
	check "$who: everything: stdout was only JSON-RPC, the server exited 0" clean_exit

	check "$who: no system call was refused, no connection was denied" \
		eq "$(grep -c 'sluice: run: refused' "$ERR"):$(cat "$L"/*.log | jq -s '[.[] | select(.decision == "deny")] | length')" "0:0"
	check "$who: sluice left none of its stand-ins (.git, .vscode, ...) in the working directory" \
		eq "$(ls -A "$W" | grep -c '^\.')" "0"
done
finish
