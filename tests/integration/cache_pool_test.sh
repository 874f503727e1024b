#!/usr/bin/env bash
# cache_pool_test.sh SLUICE: the package cache's kept upstream connections
# belong to the policy that vetted their address. `sluice proxy --cache`
# fetches deb.debian.org's InRelease (allowed at 198.51.100.20 by
# allow_private) and revalidates it on the connection it kept; after a
# SIGHUP loads a policy without allow_private, a revalidation may not take
# that connection (dialed under the old policy): the registry's address is
# blocked, so the stored copy is served `stale`, and never `revalidated`.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"

D=$WORLD_DIR
PROXY_PID=
world_up || { echo "could not build the world"; exit 1; }
trap world_down EXIT
mkdir -p "$APT_REPO/dists/bookworm" "$NPM_REG" "$PYPI_DIR/pypi.org" "$PYPI_DIR/files"
echo "an InRelease, for the pool's test" >"$APT_REPO/dists/bookworm/InRelease"
make_registry_cert && start_registry_nginx || { echo "the registry did not start"; exit 1; }

policy() { # allow_private entries...
	printf 'version: 1\nname: pool\npresets: [debian]\nallow_private: [%s]\n' "$(
		IFS=,
		echo "$*"
	)" >"$D/pool.yaml.new" && mv "$D/pool.yaml.new" "$D/pool.yaml"
}
policy '"198.51.100.0/24"' '"2001:db8::/32"'
LOG=$D/pool.log
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$D/pool.yaml" --resolver 198.51.100.53 \
	--cache "$D/store" --ca "$D/sluice-ca" --log "$LOG" 2>"$D/sluice.err"
PROXY_PID=$!
wait_port "$NS_HOST" 127.0.0.1 3128 || { echo "sluice did not start"; cat "$D/sluice.err"; exit 1; }

URL=http://deb.debian.org/debian/dists/bookworm/InRelease
get() { # curl args...: "<status> <body>"
	in_host curl -sS --max-time 20 -x http://127.0.0.1:3128 -w ' %{http_code}' "$@" "$URL" 2>&1 | tr '\n' ' '
}
last_cache() { jq -r 'select(.event=="http" and .phase=="decision") | .cache' "$LOG" | tail -1; }
check "first fetch: the body, a miss" eq "$(get):$(last_cache)" "an InRelease, for the pool's test  200:miss"
check "max-age=0 under the same policy: revalidated" \
	eq "$(get -H 'Cache-Control: max-age=0'):$(last_cache)" "an InRelease, for the pool's test  200:revalidated"

policy
kill -HUP "$PROXY_PID"
for _ in $(seq 50); do grep -q 'reload: policy' "$D/sluice.err" && break; sleep 0.1; done
check "SIGHUP loaded the policy without allow_private" grep -q "reload: policy 'pool'" "$D/sluice.err" ||
	cat "$D/sluice.err"
check "max-age=0 under the new policy: the kept connection is not taken, the copy is stale" \
	eq "$(get -H 'Cache-Control: max-age=0'):$(last_cache)" "an InRelease, for the pool's test  200:stale"
check "... because the registry's address is blocked for it" grep -q 'resolved only to blocked addresses' "$D/sluice.err"
check "every decision record is an allow" eq "$(jq -r 'select(.phase=="decision") | .decision' "$LOG" | sort -u)" "allow"
finish
