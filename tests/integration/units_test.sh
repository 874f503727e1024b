#!/usr/bin/env bash
# units_test.sh SLUICE SRC: the systemd units in dist/systemd load without a
# single complaint from `systemd-analyze verify` (offline: no running systemd
# needed), with ExecStart pointed at the built binary.
set -u
SLUICE=$(realpath "$1")
SRC=$2
if ! command -v systemd-analyze >/dev/null; then
	echo "skipped: systemd-analyze is not installed (package systemd)"
	exit 0
fi
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
pass=0 fail=0
for unit in "$SRC"/dist/systemd/*.service; do
	name=$(basename "$unit")
	case $name in *@.service) name=${name%@.service}@test.service ;; esac
	sed "s|/usr/local/bin/sluice|$SLUICE|" "$unit" >"$D/$name"
	out=$(cd "$D" && systemd-analyze verify --man=no "./$name" 2>&1)
	if [ $? -eq 0 ] && [ -z "$out" ]; then
		pass=$((pass + 1))
		echo "ok - $name verifies cleanly"
	else
		fail=$((fail + 1))
		echo "not ok - $name: $out"
	fi
	grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit" && pass=$((pass + 1)) && echo "ok - $name reloads with SIGHUP" ||
		{ fail=$((fail + 1)); echo "not ok - $name has no SIGHUP ExecReload"; }
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -ge 4 ]
