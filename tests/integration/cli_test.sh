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
finish
