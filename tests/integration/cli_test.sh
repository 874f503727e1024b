#!/usr/bin/env bash
# cli_test.sh SLUICE SRC: the policy and cache command lines, their exit codes
# and every shipped example and preset.
set -u
SLUICE=$1
SRC=$2
source "$(dirname "$0")/world.sh" # assertions only; no world is built here
trap 'rm -rf "$WORLD_DIR"' EXIT
D=$WORLD_DIR

for f in "$SRC"/policies/examples/*.yaml "$SRC"/policies/presets/*.yaml; do
	check "policy check $(basename "$f")" "$SLUICE" policy check "$f"
done
for p in npm pypi github crates go debian; do
	check "preset name '$p' loads as a policy" "$SLUICE" policy check "$p"
done

printf 'version: 1\nallow: ["*.com", bad..host]\nbogus: 1\n' >"$D/bad.yaml"
out=$("$SLUICE" policy check "$D/bad.yaml" 2>&1)
check "policy check exits 1 on errors" eq "$?" "1"
check "  and lists every error with file:line:col" eq "$(printf '%s\n' "$out" | grep -c "^$D/bad.yaml:[0-9]*:[0-9]*: ")" "3"

printf 'version: 1\nwrite: ["~/.npm/", /srv//out]\nhide: ["~/keys"]\nshow: ["~/.npmrc"]\nunmask: [ssh-agent, /run/db.sock]\n' >"$D/fs.yaml"
check "policy check takes write, hide, show and unmask paths" "$SLUICE" policy check "$D/fs.yaml"
printf 'version: 1\nwrite: [out]\nunmask: [Docker]\n' >"$D/badfs.yaml"
out=$("$SLUICE" policy check "$D/badfs.yaml" 2>&1)
check "policy check refuses a relative path at file:line:col" \
	grep -qF "$D/badfs.yaml:2:9: invalid path 'out' in 'write': must be absolute or start with ~/" <<<"$out"
check "  and names the known host sockets" \
	grep -qE "unknown host socket 'Docker' \(known: resolved, .*, x11, ssh-agent; or an absolute path" <<<"$out"

ex() {
	"$SLUICE" policy explain "$@" >"$D/out" 2>&1
	echo "$? $(awk '/^reason:/{print $2}' "$D/out")"
}
G=$SRC/policies/examples/github.yaml
check "explain allowed: exit 0" eq "$(ex "$G" api.github.com)" "0 allowed"
check "explain not allowed: exit 1" eq "$(ex "$G" evil.test)" "1 not_allowed"
check "explain wrong port" eq "$(ex "$G" api.github.com:8443)" "1 port_not_allowed"
check "explain metadata" eq "$(ex "$SRC/policies/examples/fetch.yaml" metadata.google.internal)" "1 metadata_host"
check "explain IP literal" eq "$(ex "$G" 140.82.112.3)" "1 ip_literal"
check "explain private IP literal under '*'" eq "$(ex "$SRC/policies/examples/fetch.yaml" 10.0.0.1)" "1 ip_literal"
check "explain odd IPv4 spelling" eq "$(ex "$G" 127.1)" "1 bad_request"
check "explain classifies a literal" grep -q 'blocked range 10.0.0.0/8' <("$SLUICE" policy explain "$G" 10.1.1.1)
check "explain usage error: exit 2" eq "$(ex "$G")" "2 "
check "explain broken policy: exit 2" eq "$(ex "$D/bad.yaml" a.com)" "2 "
check "unknown command: exit 2" bash -c "'$SLUICE' frobnicate 2>/dev/null; test \$? -eq 2"
check "proxy without --policy: exit 2" bash -c "'$SLUICE' proxy --listen 127.0.0.1:1 2>/dev/null; test \$? -eq 2"
check "proxy with a bad --resolver: exit 2" \
	bash -c "'$SLUICE' proxy --listen 127.0.0.1:1 --policy '$G' --resolver 1.2.3 2>/dev/null; test \$? -eq 2"

# the package cache's maintenance command (an empty store; the unit tests fill one)
C=$D/cache
check "cache stats on a new store" eq "$("$SLUICE" cache stats --cache "$C" | head -1)" "entries: 0"
check "cache stats: no lookups yet" grep -qx 'hit_ratio: -' <("$SLUICE" cache stats --cache "$C")
check "cache store directories are private" eq "$(stat -c %a "$C" "$C/blobs" "$C/meta" "$C/tmp" | sort -u)" "700"
check "cache verify on an empty store: exit 0" bash -c "'$SLUICE' cache verify --cache '$C' >/dev/null"
check "cache gc with a cap: exit 0" eq "$("$SLUICE" cache gc --cache-max 1M --cache "$C")" "freed: 0"
check "cache purge keeps the directory" bash -c "'$SLUICE' cache purge --cache '$C' && test -d '$C/blobs'"
check "cache gc with a bad size: exit 2" \
	bash -c "'$SLUICE' cache gc --cache-max 12Q --cache '$C' 2>/dev/null; test \$? -eq 2"
check "cache --cache-max is for gc only: exit 2" \
	bash -c "'$SLUICE' cache stats --cache-max 1G --cache '$C' 2>/dev/null; test \$? -eq 2"
check "cache unknown subcommand: exit 2" bash -c "'$SLUICE' cache frob 2>/dev/null; test \$? -eq 2"
check "cache on an unusable directory: exit 1" \
	bash -c "'$SLUICE' cache stats --cache /proc/self/nonexistent 2>/dev/null; test \$? -eq 1"
# ---- help that cannot drift: --version, help CMD, CMD --help, the README
echo "# help"
want_version=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
check "--version says the CMake project version" eq "$("$SLUICE" --version)" "sluice $want_version"
"$SLUICE" --help >"$D/help" 2>"$D/help.err"
check "--help: exit 0, on stdout only" eq "$?:$(wc -c <"$D/help.err")" "0:0"
cmds=$(sed -n 's/^sluice \([a-z]\+\) .*/\1/p' "$D/help" | sort -u)
for c in run proxy dns attach detach serve ls policy mcp cache ca; do
	check "--help lists '$c'" grep -qx "$c" <<<"$cmds"
done
for c in $cmds; do # every command the registry has (log too, once it is there)
	"$SLUICE" help "$c" >"$D/h.$c" 2>"$D/h.err"
	check "help $c: exit 0 on stdout" eq "$?:$(wc -c <"$D/h.err"):$(grep -c "^  sluice $c " "$D/h.$c")" \
		"0:0:$(grep -c "^sluice $c " "$D/help")"
	check "$c --help is help $c" cmp -s "$D/h.$c" <("$SLUICE" "$c" --help)
	# every option its table shows is in the top-level synopsis and is one
	# the parser takes (a bad or missing value, never "unknown option")
	verb=$(sed -n "s/^  sluice $c \+\([a-z]\+\) .*/\1/p" "$D/h.$c" | head -1)
	for o in $(grep -o '^  --[a-z-]\+' "$D/h.$c" | sort -u); do
		grep "^sluice $c " -A3 "$D/help" | grep -q -- "$o[] .]" ||
			check "  $c $o is in the --help synopsis" false
		timeout 10 "$SLUICE" "$c" ${verb:+"$verb"} "$o" </dev/null >/dev/null 2>"$D/o.err"
		check "  $c ${verb:+$verb }$o: the parser knows it" bash -c "! grep -q 'unknown option' '$D/o.err'"
	done
done
check "help of an unknown command: exit 2" bash -c "'$SLUICE' help frob 2>/dev/null; test \$? -eq 2"
"$SLUICE" >"$D/none.out" 2>"$D/none.err"
check "no command: usage on stderr, exit 2" eq "$?:$(wc -c <"$D/none.out"):$(grep -c '^sluice run ' "$D/none.err")" "2:0:1"
out=$("$SLUICE" proxy --listen 127.0.0.1:1 2>&1)
check "a usage error prints the command's synopsis from its table" \
	grep -q "^  sluice proxy  --listen ADDR:PORT... --policy FILE|PRESET..." <<<"$out"
check "run -- CMD --help is the command's, not sluice's" \
	bash -c "! '$SLUICE' run -- --help 2>&1 | grep -q '^  sluice run'"
awk '/the block below is `sluice --help`/{f=1;next} f&&/^```$/{if(n++)exit;next} f' "$SRC/README.md" >"$D/readme"
check "README's synopsis is sluice --help" diff -u "$D/readme" <(tail -n +2 "$D/help")

# ---- --policy combined and extended on the command line
echo "# --allow, --allow-private, combined presets"
check "explain --allow HOST on a preset: allowed by it" \
	eq "$("$SLUICE" policy explain --allow api.example.com npm api.example.com | sed -n 's/^rule: //p')" "api.example.com"
check "  and the preset's own hosts still" \
	eq "$(ex --allow api.example.com npm registry.npmjs.org)" "0 allowed"
check "presets a,b combine" eq "$(ex npm,pypi pypi.org):$(ex npm,pypi registry.npmjs.org)" "0 allowed:0 allowed"
check "--allow HOST:PORT keeps its port" eq "$(ex --allow git.example.com:22 npm git.example.com:22):$(ex --allow git.example.com:22 npm git.example.com)" \
	"0 allowed:1 port_not_allowed"
check "--allow-private re-allows a blocked address for an allowed entry" \
	eq "$(ex --allow 203.0.113.7 --allow-private 203.0.113.0/24 npm 203.0.113.7:443)" "0 allowed"
check "  without it the address stays blocked" eq "$(ex --allow 203.0.113.7 npm 203.0.113.7:443)" "1 blocked_address"
out=$("$SLUICE" policy explain --allow 'bad host' --allow '*.com' --allow-private api.example.com npm x.com 2>&1)
check "bad --allow entries: exit 2, each named with the loader's message" eq "$?:$(grep -c '^--allow' <<<"$out")" "2:3"
check "  a wildcard over a public suffix is refused as in a file" grep -q "^--allow: wildcard '\*.com' covers the public suffix" <<<"$out"
out=$("$SLUICE" policy explain nosuchpreset x.com 2>&1)
check "an unknown preset lists the known ones" grep -q "preset: crates, debian, github, go, npm, pypi" <<<"$out"
out=$("$SLUICE" policy explain npm,nosuchpreset x.com 2>&1)
check "  also inside a combination" grep -q "cannot read policy 'nosuchpreset'.*npm, pypi" <<<"$out"
"$SLUICE" proxy --listen 127.0.0.1:1 --policy npm --allow 'a b' >/dev/null 2>"$D/p.err"
check "proxy --allow with a bad entry: exit 2" eq "$?:$(grep -c "^--allow: invalid host 'a b'" "$D/p.err")" "2:1"

# ---- policy messages
echo "# policy messages"
printf 'version: 1\nallow:\n  - *.example.com\n' >"$D/alias.yaml"
check "an unquoted '- *.x' says to quote it" \
	grep -q "alias.yaml:3:.*must be quoted" <("$SLUICE" policy check "$D/alias.yaml" 2>&1)
printf 'version: 1\nallow:\n  - *example\n' >"$D/alias2.yaml"
check "  also when it reads as an alias" grep -q "must be quoted: write \"\*example\"" <("$SLUICE" policy check "$D/alias2.yaml" 2>&1)
printf 'version: 1\nallow:\n  - https://api.example.com/v1/x\n' >"$D/url.yaml"
check "a URL as an entry says to give the host" \
	grep -q "url.yaml:3:5: 'https://api.example.com/v1/x' is a URL: give the host alone ('api.example.com')" \
	<("$SLUICE" policy check "$D/url.yaml" 2>&1)
cat >"$D/lint.yaml" <<'YAML'
version: 1
allow: [api.example.com, uploads.example.com, "*.cdn.example.com", 10.0.0.5, 198.51.100.7, api.example.com, localhost, "*.github.com"]
deny: [uploads.example.com, "*.cdn.example.com", gist.github.com]
allow_private: ["198.51.100.0/24"]
YAML
"$SLUICE" policy check "$D/lint.yaml" >"$D/lint.out" 2>"$D/lint.err"
check "policy check with only warnings: exit 0 and the ok line" eq "$?:$(grep -c ': ok: ' "$D/lint.out")" "0:1"
check "  warns about a host both allowed and denied" \
	grep -qx "$D/lint.yaml: warning: 'uploads.example.com' is both allowed and denied (by deny 'uploads.example.com'): deny wins" "$D/lint.err"
check "  and a wildcard a deny wildcard covers" grep -q "'\*.cdn.example.com' is both allowed and denied" "$D/lint.err"
check "  about a duplicate entry" grep -q "warning: 'api.example.com' is in allow twice" "$D/lint.err"
check "  about a private address allowed without allow_private" \
	grep -q "warning: allow '10.0.0.5' is in the blocked range 10.0.0.0/8: it stays blocked unless allow_private" "$D/lint.err"
check "  but not about one allow_private lifts, nor a deny inside an allowed wildcard" \
	bash -c "! grep -qE \"'198.51.100.7'|github\" '$D/lint.err'"
check "  and about allow localhost" grep -q "allow 'localhost' never matches: localhost is always blocked" "$D/lint.err"
check "  exactly those five" eq "$(wc -l <"$D/lint.err")" 5
for f in "$SRC"/policies/examples/*.yaml "$SRC"/policies/presets/*.yaml "$SRC"/policies/servers/*.yaml; do
	"$SLUICE" policy check "$f" >/dev/null 2>"$D/w.err"
	[ -s "$D/w.err" ] && check "shipped $(basename "$f") has no warnings" false
done
out=$("$SLUICE" policy explain --allow '*' --allow-private 127.0.0.0/8 npm localhost:8080)
check "explain localhost: always blocked, even with '*' and allow_private 127/8" \
	eq "$?:$(sed -n 's/^reason: //p' <<<"$out")" "1:blocked_address"
check "  and the hint says so" grep -q "^hint: localhost is always blocked" <<<"$out"
check "  names under .localhost too" eq "$(ex --allow '*' npm app.localhost)" "1 blocked_address"
finish
