#!/usr/bin/env bash
# mcp_config_test.sh SLUICE: `sluice mcp list | wrap | unwrap` on the fixture
# configs of every client (tests/mcp/fixtures: comments, tabs, odd
# indentation, unrelated keys, env blocks, remote, docker, srt and VS Code
# sandboxed servers, unicode, Codex TOML). For each: --dry-run writes
# nothing; wrap wraps exactly the stdio servers (checked by parsing, with
# tests/mcp/check_wrap.py) and keeps mode and owner; every policy it writes
# passes `sluice policy check`; wrapping twice changes nothing; unwrap gives
# back the original bytes. Then the failure cases: read-only and malformed
# files fail with one line and stay untouched, a writer between read and
# rename is detected and refused, a writer holding a lock is waited for, and
# nothing is lost either way. Needs no network and no namespaces.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
MCP=$(cd "$HERE/../mcp" && pwd)
FIX=$MCP/fixtures
source "$HERE/world.sh"
D=$WORLD_DIR
BGPID=
cleanup() {
	[ -n "$BGPID" ] && kill "$BGPID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

sig() { stat -c '%a %u:%g %s %Y.%y' "$1" 2>&1; sha256sum <"$1" | cut -c1-64; }
lines_of() { grep -c '' <"$1"; }
# the files in a directory, other than those named
others() { local d=$1; shift; (cd "$d" && ls -A | grep -vxF "$(printf '%s\n' "$@")"); }
policies_ok() { # every policy the wrap printed passes sluice policy check
	local p bad=0
	for p in $(sed -n 's/^wrapped .* \(\/.*\.yaml\)$/\1/p' "$1"); do
		"$SLUICE" policy check "$p" >/dev/null 2>&1 || { echo "    $p fails policy check" >&2; bad=1; }
	done
	[ "$bad" = 0 ] && grep -q '^wrapped ' "$1"
}

for f in "$FIX"/*; do
	b=$(basename "$f")
	W=$D/$b.d
	C=$W/$b
	mkdir -p "$W"
	cp "$f" "$C"
	chown 4242:4343 "$C"
	chmod 0640 "$C"
	touch -d '2020-01-02 03:04:05' "$C"
	before=$(sig "$C")
	echo "# $b"

	out=$("$SLUICE" mcp wrap --config "$C" --dry-run 2>"$D/err")
	rc=$?
	check "$b: --dry-run exits 0 and prints a diff" eq "$rc:$(head -c 4 <<<"$out")" "0:--- "
	check "$b: --dry-run: the diff's - lines are lines of the file" \
		eq "$(grep '^-[^-]' <<<"$out" | cut -c2- | grep -vxFf "$C" | wc -l)" 0
	check "$b: --dry-run leaves the file as it was (bytes, mtime, mode, owner) and writes nothing beside it" \
		eq "$(sig "$C") $(others "$W" "$b")" "$before "

	"$SLUICE" mcp wrap --config "$C" >"$D/out" 2>"$D/err"
	rc=$?
	check "$b: wrap exits 0, nothing on stdout" eq "$rc:$(cat "$D/out")" "0:"
	python3 "$MCP/check_wrap.py" "$f" "$C" "$SLUICE" >"$D/check"
	check "$b: wrap wraps every stdio server and changes nothing else" eq "$(tail -1 "$D/check")" \
		"ok $(grep -c '^wrapped' "$D/check")" || cat "$D/check"
	check "$b: every policy it wrote passes sluice policy check" policies_ok "$D/check"
	check "$b: mode and owner kept, backup and record beside it with the same" \
		eq "$(stat -c '%a %u:%g' "$C" "$C.sluice-backup" "$C.sluice.json" | tr '\n' ' ')" \
		"640 4242:4343 640 4242:4343 640 4242:4343 "
	check "$b: the backup holds the original bytes" cmp -s "$f" "$C.sluice-backup"
	check "$b: mcp list says wrapped, and no stdio server is left unwrapped" \
		eq "$("$SLUICE" mcp list --config "$C" | grep -c ' not wrapped ')" 0
	cp -p "$C" "$D/wrapped"

	"$SLUICE" mcp wrap --config "$C" >/dev/null 2>"$D/err"
	rc=$?
	check "$b: wrapping twice changes nothing (bytes and mtime)" \
		eq "$rc $(sig "$C")" "0 $(sig "$D/wrapped")"
	check "$b: ... and says so" grep -q 'nothing to change' "$D/err"

	"$SLUICE" mcp unwrap --config "$C" >/dev/null 2>"$D/err"
	rc=$?
	check "$b: unwrap exits 0 and gives back the original bytes" eq "$rc:$(cmp "$f" "$C" 2>&1)" "0:"
	check "$b: ... exactly, from the record (no rebuild), and the record is gone" \
		eq "$(grep -c rebuilt "$D/err"):$([ -e "$C.sluice.json" ] && echo kept)" "0:"
	check "$b: ... mode and owner kept" eq "$(stat -c '%a %u:%g' "$C")" "640 4242:4343"
done

# ---- unwrap after the client rewrote the file
echo "# edits after wrap"
W=$D/edits
mkdir -p "$W"
cp "$FIX/claude_desktop_config.json" "$W/c.json"
"$SLUICE" mcp wrap --config "$W/c.json" 2>/dev/null
sed -i 's/"theme": "dark"/"theme": "light"/' "$W/c.json"
"$SLUICE" mcp unwrap --config "$W/c.json" 2>"$D/err"
check "an unrelated edit after wrap: unwrap restores the servers' bytes and keeps the edit" \
	eq "$(sed 's/"theme": "dark"/"theme": "light"/' "$FIX/claude_desktop_config.json" | cmp - "$W/c.json" 2>&1)" ""
"$SLUICE" mcp wrap --config "$W/c.json" 2>/dev/null
jq . "$W/c.json" >"$W/r.json" && cat "$W/r.json" >"$W/c.json" # the client reformats the whole file
"$SLUICE" mcp unwrap --config "$W/c.json" 2>"$D/err"
rc=$?
# (filesystem's args were laid out as jq lays them out: its bytes still match)
check "the whole file reformatted after wrap: unwrap rebuilds the other entries from their arguments" \
	eq "$rc:$(grep -c 'rebuilt from its arguments' "$D/err")" "0:3"
# weather had no args: rebuilt, it has an empty list
check "... and the result means the original" \
	eq "$(jq -S 'if .mcpServers.weather.args == [] then del(.mcpServers.weather.args) else . end' "$W/c.json" |
		sed 's/"light"/"dark"/')" "$(jq -S . "$FIX/claude_desktop_config.json")"
echo '# user edit' >>"$W/.sluice/memory.yaml"
"$SLUICE" mcp wrap --config "$W/c.json" 2>"$D/err"
check "a policy file that exists is kept as it is on the next wrap" \
	eq "$(tail -1 "$W/.sluice/memory.yaml"):$(grep -c 'memory, policy .* (kept as it was)' "$D/err")" "# user edit:1"
"$SLUICE" mcp unwrap --config "$W/c.json" --server memory 2>/dev/null
check "--server KEY unwraps only that server" \
	eq "$("$SLUICE" mcp list --config "$W/c.json" | awk '{print $1 "=" $3}' | grep -v '^#' | tr '\n' ' ')" \
	"filesystem=wrapped memory=not github=sandboxed postgres=wrapped weather=wrapped "

# ---- read-only and malformed files
echo "# refusals"
W=$D/refuse
mkdir -p "$W"
cp "$FIX/claude_desktop_config.json" "$W/ro.json"
chmod 0444 "$W/ro.json"
before=$(sig "$W/ro.json")
"$SLUICE" mcp wrap --config "$W/ro.json" >/dev/null 2>"$D/err"
rc=$?
check "a read-only file: wrap exits 1 with one line saying so" \
	eq "$rc:$(lines_of "$D/err"):$(grep -c 'is read-only (mode 0444): nothing written' "$D/err")" "1:1:1"
check "... and the file is untouched, nothing written beside it" eq "$(sig "$W/ro.json") $(others "$W" ro.json)" "$before "
printf '{\n  "mcpServers": {\n    "a": { "command": "x" }\n    "b": { "command": "y" }\n  }\n}\n' >"$W/bad.json"
printf '[mcp_servers.a]\ncommand = "x"\nargs = ["y",\n' >"$W/bad.toml"
printf '[[mcp_servers]]\ncommand = "x"\n' >"$W/arr.toml"
printf '[mcp_servers]\nfs.command = "npx"\n' >"$W/dotted.toml"
printf '[mcp_servers.a]\ncommand = """\nnpx"""\n' >"$W/ml.toml"
for bad in "bad.json:4:5: expected ',' or '}', found '\"'" "bad.toml:4:1: expected a value, found end of file" \
	"arr.toml:1:1: [[mcp_servers...]] is a form the editor does not handle; use [mcp_servers.NAME]" \
	"dotted.toml:2:14: mcp_servers given with dotted keys or inline tables; the editor handles only [mcp_servers.NAME] tables"; do
	file=${bad%%:*}
	before=$(sig "$W/$file")
	"$SLUICE" mcp wrap --config "$W/$file" >/dev/null 2>"$D/err"
	rc=$?
	check "malformed $file: exit 1, one line with file:line:col" \
		eq "$rc:$(cat "$D/err")" "1:sluice: $W/$bad (nothing changed)"
	check "malformed $file: untouched" eq "$(sig "$W/$file")" "$before"
done
"$SLUICE" mcp wrap --config "$W/ml.toml" >/dev/null 2>"$D/err"
check "a multi-line command string in TOML is left alone with the reason" \
	grep -q 'a: left alone: command is not a one-line string (a form the editor does not handle)' "$D/err"
check "no temporary files were left anywhere" eq "$(find "$D" -name '.*.sluice-*' | wc -l)" 0

# ---- concurrent writers
echo "# concurrent writers"
W=$D/race
mkdir -p "$W"
cp "$FIX/claude_desktop_config.json" "$W/c.json"
SLUICE_MCP_TEST_DELAY_MS=1500 "$SLUICE" mcp wrap --config "$W/c.json" >/dev/null 2>"$D/err" &
BGPID=$!
sleep 0.5
# an editor saving meanwhile (write a new file, rename it over)
sed 's/"theme": "dark"/"theme": "concurrent"/' "$FIX/claude_desktop_config.json" >"$W/.edit" && mv "$W/.edit" "$W/c.json"
wait "$BGPID"
rc=$?
BGPID=
check "a write between read and rename: wrap exits 1 and says the file changed" \
	eq "$rc:$(grep -c 'changed while sluice was editing it .*: nothing written' "$D/err")" "1:1"
check "... the other writer's change is what the file holds" \
	eq "$(sed 's/"theme": "dark"/"theme": "concurrent"/' "$FIX/claude_desktop_config.json" | cmp - "$W/c.json" 2>&1)" ""
check "... no record, backup or temporary file was left" eq "$(others "$W" c.json .sluice)" ""
cp "$FIX/claude_desktop_config.json" "$W/c.json"
SLUICE_MCP_TEST_DELAY_MS=1500 "$SLUICE" mcp wrap --config "$W/c.json" >/dev/null 2>"$D/err" &
BGPID=$!
sleep 0.5
# a writer in place (same inode, same size: only the content tells)
sed -i --follow-symlinks 's/"dark"/"DARK"/' "$W/c.json"
python3 -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read().replace(b"DARK", b"Dark"); open(p,"r+b").write(d)' "$W/c.json"
wait "$BGPID"
rc=$?
BGPID=
check "an in-place write of the same size: refused as well, the change kept" \
	eq "$rc:$(grep -c 'changed while' "$D/err"):$(grep -c '"theme": "Dark"' "$W/c.json")" "1:1:1"
cp "$FIX/claude_desktop_config.json" "$W/c.json"
# a writer that holds a lock on the file: sluice waits for it, then reads its change
flock "$W/c.json" sh -c "sleep 2; sed 's/\"dark\"/\"locked\"/' '$FIX/claude_desktop_config.json' >'$W/c.json'" &
BGPID=$!
sleep 0.3
t0=$(date +%s%N)
"$SLUICE" mcp wrap --config "$W/c.json" >/dev/null 2>"$D/err"
rc=$?
t1=$(date +%s%N)
wait "$BGPID"
BGPID=
check "a writer holding the lock: wrap waits for it (>= 1.5 s) and succeeds" \
	eq "$rc:$(( (t1 - t0) / 1000000 >= 1500 ))" "0:1"
check "... and the file has both the writer's change and the wrapped servers" \
	eq "$(grep -c '"theme": "locked"' "$W/c.json"):$("$SLUICE" mcp list --config "$W/c.json" | grep -c ' wrapped ')" "1:4"

# ---- a symlinked config, finding configs, usage
echo "# discovery and usage"
H=$D/home
P=$D/project
mkdir -p "$H/.config/Claude" "$H/.codex" "$H/dots" "$P/.vscode"
cp "$FIX/claude_desktop_config.json" "$H/dots/claude.json"
ln -s ../../dots/claude.json "$H/.config/Claude/claude_desktop_config.json"
cp "$FIX/codex_config.toml" "$H/.codex/config.toml"
cp "$FIX/vscode_mcp.json" "$P/.vscode/mcp.json"
out=$(cd "$P" && HOME=$H XDG_CONFIG_HOME= CODEX_HOME= "$SLUICE" mcp list 2>&1)
check "mcp list finds Claude Desktop, Codex and the project's VS Code config" \
	eq "$(grep '^#' <<<"$out" | sed "s#$D##" | tr '\n' ' ')" \
	"# /home/dots/claude.json (claude-desktop) # /project/.vscode/mcp.json (vscode) # /home/.codex/config.toml (codex) "
out=$(cd "$P" && HOME=$H XDG_CONFIG_HOME= CODEX_HOME= "$SLUICE" mcp wrap --client claude-desktop 2>&1)
check "wrap --client claude-desktop edits the symlink's target and leaves the link" \
	eq "$([ -L "$H/.config/Claude/claude_desktop_config.json" ] && echo link):$("$SLUICE" mcp list --config "$H/dots/claude.json" | grep -c ' wrapped ')" "link:4"
check "... the policies go beside the real file" eq "$(ls "$H/dots/.sluice" | tr '\n' ' ')" \
	"filesystem.yaml memory.yaml postgres.yaml weather.yaml "
check "... and the other clients' files are untouched" eq "$(cmp "$FIX/codex_config.toml" "$H/.codex/config.toml" 2>&1)" ""
"$SLUICE" mcp frobnicate >/dev/null 2>&1
check "an unknown subcommand exits 2" eq "$?" 2
"$SLUICE" mcp wrap --client nope >/dev/null 2>"$D/err"
check "an unknown client exits 2 and lists the known ones" \
	eq "$?:$(cat "$D/err")" "2:sluice: mcp: unknown client 'nope' (known: claude-desktop claude-code vscode cursor windsurf codex)"
"$SLUICE" mcp wrap --config "$P/.vscode/mcp.json" --server nothere >/dev/null 2>"$D/err"
check "--server naming no server exits 1" eq "$?:$(grep -c "no server 'nothere'" "$D/err")" "1:1"
"$SLUICE" mcp wrap --config "$D/none.json" >/dev/null 2>"$D/err"
check "a missing --config exits 1 with one line" eq "$?:$(lines_of "$D/err")" "1:1"
finish
