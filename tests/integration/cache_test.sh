#!/usr/bin/env bash
# cache_test.sh SLUICE: the package cache against the registry world
# (cache_world.sh; cache_fixture_test.sh proves that world without sluice).
# Real npm, apt and pip fetch from registry.npmjs.org, deb.debian.org and
# pypi.org through sluice, which intercepts TLS for those names with its own
# CA and keeps what it fetched under the registry's own name. Each client
# runs cold (the origin answers), then warm with the origin's nginx stopped
# and the client's own caches fresh: only sluice's store can answer.
# (a) sluice proxy --cache, clients through HTTPS_PROXY / HTTP_PROXY;
# (b) sluice run --cache, the sandbox trusting the CA on its own, through the
#     proxy variables and through the transparent port.
set -u
SLUICE=$(realpath "$1")
CLIENT_TIMEOUT=60 # each npm, apt or pip run (npm retries a failing proxy endlessly)
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"
cache_world_up || { echo "could not build the registry world"; exit 1; }

D=$WORLD_DIR
ARCH=$(dpkg --print-architecture)
cat >"$D/cache.yaml" <<'YAML'
version: 1
name: cachetest
allow: [allowed.test]
presets: [npm, debian, pypi]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
CADIR=$D/sluice-ca
SCA=$D/sluice-ca.pem
NOPROXY=(-u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy -u NODE_USE_ENV_PROXY)
# the package identities a tarball set should leave, one "npm:<name>@<v> <cache>" a line
npm_want() { sed "s/^/npm:/; s/\$/ $1/" "$NPM_LOCK_TARBALLS"; }
deb_want() { for f in $APT_DEBS; do echo "debian:${f%.deb} $1"; done; }
# "<package> <cache>" of the decision records (one per request; the close
# record repeats cache) after line $2 of log $1 whose package
# matches the jq regex $3, sorted and unique; waits up to 3 s for $4 of them
cache_records() {
	local log=$1 mark=$2 re=$3 want=${4:-1} i out
	for i in $(seq 30); do
		out=$(tail -n +$((mark + 1)) "$log" 2>/dev/null | jq -r --arg re "$re" \
			'select(.event=="http" and .phase=="decision" and .cache != null and (.package // "" | test($re))) | "\(.package) \(.cache)"' | sort -u)
		[ "$(grep -c . <<<"$out")" -ge "$want" ] && break
		sleep 0.1
	done
	echo "$out"
}
lines() { wc -l <"$1" 2>/dev/null || echo 0; }
# like eq, for long lists: on a difference, shows the first lines of the diff
same() {
	[ "$1" == "$2" ] && return 0
	diff <(echo "$2") <(echo "$1") | head -8 | sed 's/^/    /' >&2
	return 1
}
say() { sed 's/^/    /' | tail -"${1:-5}"; }
# true when the cache values on stdin are some hits and stales and nothing else
# last_decision LOG MARK: "cache reason" of the first cache decision record
# after line MARK, once written (records leave within a loop pass or two)
last_decision() {
	local i out
	for i in $(seq 30); do
		out=$(tail -n +$(($2 + 1)) "$1" | jq -r 'select(.phase=="decision" and .cache != null) | "\(.cache) \(.reason)"' | head -1)
		[ -n "$out" ] && break
		sleep 0.1
	done
	echo "$out"
}
hit_or_stale() {
	local v
	v=$(sort -u)
	[ -n "$v" ] && ! grep -vqx 'hit\|stale' <<<"$v" && return 0
	echo "    got: $(echo $v)" >&2
	return 1
}

# ---- the CA ---------------------------------------------------------------------
in_host "$SLUICE" ca init --ca "$CADIR" 2>>"$D/sluice.err"
check "sluice ca init makes a CA (key mode 0600)" eq "$?:$(stat -c %a "$CADIR/key.pem" 2>/dev/null)" "0:600"
in_host "$SLUICE" ca show --ca "$CADIR" >"$SCA" 2>>"$D/sluice.err"
check "sluice ca show prints its certificate" openssl x509 -noout -in "$SCA"
CATEXT=$(openssl x509 -noout -text -in "$SCA" 2>/dev/null)
check "  an ECDSA P-256 CA whose name constraints permit the registry names, not allowed.test" \
	eq "$(grep -c 'prime256v1\|Name Constraints\|DNS:registry.npmjs.org\|DNS:deb.debian.org\|DNS:files.pythonhosted.org' <<<"$CATEXT"):$(grep -c allowed.test <<<"$CATEXT")" "5:0"

# ---- (a) sluice proxy --cache ---------------------------------------------------------
LOG=$D/proxy.log
CACHE=$D/store-proxy
touch "$LOG"
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$D/cache.yaml" --resolver 198.51.100.53 \
	--cache "$CACHE" --upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$LOG" 2>>"$D/sluice.err"
PROXY_PID=$!
wait_port "$NS_HOST" 127.0.0.1 3128
check "sluice proxy --cache starts" kill -0 "$PROXY_PID"
VIA=(HTTPS_PROXY=http://127.0.0.1:3128 HTTP_PROXY=http://127.0.0.1:3128 https_proxy=http://127.0.0.1:3128
	http_proxy=http://127.0.0.1:3128 NO_PROXY= no_proxy=)
CURL=(in_client curl -sS --max-time 10 -x http://127.0.0.1:3128)

# npm, cold: a lockfile from packuments (no lockfile), then npm ci (tarballs)
mkdir -p "$D/pa-lock" && cp "$NPM_PROJECT/package.json" "$D/pa-lock/"
npm_env "$SCA" "$D/npm-pa-lock"
mark=$(lines "$LOG")
out=$(cd "$D/pa-lock" && in_client env "${NPM_ENV[@]}" "${VIA[@]}" npm install --package-lock-only 2>&1)
check "proxy, cold: npm install --package-lock-only through the proxy, trusting only sluice's CA" eq "$?" "0" || say <<<"$out"
check "  the same lockfile as straight from the registry" \
	same "$(jq -S .packages "$D/pa-lock/package-lock.json" 2>/dev/null)" "$(jq -S .packages "$NPM_PROJECT/package-lock.json")"
check "  every packument a miss" \
	eq "$(cache_records "$LOG" "$mark" '^npm:[^@]+$|^npm:@[^@]+$' | awk '{print $2}' | sort -u)" "miss"
npm_project "$D/pa-cold"
npm_env "$SCA" "$D/npm-pa-cold"
mark=$(lines "$LOG") omark=$(lines "$REGISTRY_LOG")
out=$(cd "$D/pa-cold" && in_client env "${NPM_ENV[@]}" "${VIA[@]}" npm ci 2>&1)
check "proxy, cold: npm ci through the proxy" eq "$?" "0" || say <<<"$out"
check "  installs every locked package ($NPM_LOCK_COUNT)" same "$(npm_installed "$D/pa-cold")" "$(cat "$NPM_LOCK_TARBALLS")"
check "  each tarball a miss with its package identity (npm:<name>@<version>)" \
	same "$(cache_records "$LOG" "$mark" '^npm:.+@[0-9]' "$NPM_LOCK_COUNT")" "$(npm_want miss)"
check "  the origin served each tarball once" \
	eq "$(tail -n +$((omark + 1)) "$REGISTRY_LOG" | awk '$3 ~ /\.tgz$/ {print $3}' | sort | uniq -c | awk '{print $1}' | sort | uniq -c | awk '{print $1 "x" $2}')" \
	"${NPM_LOCK_COUNT}x1"
check "  the records are event http on registry.npmjs.org:443, allowed" \
	eq "$(tail -n +$((mark + 1)) "$LOG" | jq -r 'select(.phase=="decision" and .cache != null) | "\(.event) \(.host) \(.port) \(.decision) \(.method)"' | sort -u)" \
	"http registry.npmjs.org 443 allow GET"
check "  no path in the log" test "$(grep -c '"cache"' "$LOG")" -gt 0 -a "$(grep -c '/-/\|\.tgz' "$LOG")" -eq 0
# each byte counted once: the requests' close records carry the counts, the
# intercepted connection's close record none, so a sum over close records is right
check "  the intercepted connections' close records carry no byte counts" \
	eq "$(jq -s '[.[] | select(.host=="registry.npmjs.org" and .event=="connect" and .phase=="close" and (has("bytes_up") or has("bytes_down")))] | length' "$LOG")" "0"
want=$(jq -s '[.[] | select(.host=="registry.npmjs.org" and .phase=="close") | .bytes_down // 0] | add' "$LOG")
check "  log hosts: registry.npmjs.org's bytes_down is the requests' sum ($want), counted once" \
	eq "$("$SLUICE" log hosts --format json --host registry.npmjs.org "$LOG" | jq '[.hosts[].bytes_down] | add'):$((want > 0))" "$want:1"

# a host no preset marks cacheable stays a blind tunnel: the origin's own certificate
check "proxy: allowed.test is tunnelled, not intercepted (the world's CA verifies it)" \
	eq "$("${CURL[@]}" --cacert "$D/ca.pem" https://allowed.test/)" "hello from allowed.test"
# mode: report: a registry its own cache rule names but no allow entry does
# is intercepted and served, and every record says would_deny, with the reason
cat >"$D/report.yaml" <<'YAML'
version: 1
name: reportcache
mode: report
cache: ["immutable registry.npmjs.org/*/-/*.tgz"]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
RLOGR=$D/report.log
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3138 --policy "$D/report.yaml" --resolver 198.51.100.53 \
	--cache "$D/store-report" --upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$RLOGR" 2>>"$D/sluice.err"
wait_port "$NS_HOST" 127.0.0.1 3138
T0=https://registry.npmjs.org/sluice-pkg-00/-/sluice-pkg-00-1.0.0.tgz
code=$(in_client curl -sS --max-time 10 -x http://127.0.0.1:3138 --cacert "$SCA" -o /dev/null -w '%{http_code}' "$T0")
check "proxy, mode: report: a registry no entry allows is served through the cache (200)" eq "$code" "200"
check "  its connect and http decision records say would_deny (not_allowed)" \
	eq "$(jq -r 'select(.phase=="decision") | "\(.event) \(.decision) \(.reason)"' "$RLOGR" | sort -u | tr '\n' ' ')" \
	"connect would_deny not_allowed http would_deny not_allowed "
# --offline (two workers, sharing the first proxy's store while it runs):
# what is stored is served, what is not gets 504, and upstream is never asked
read -r PKG < <(grep -v '^@' "$NPM_LOCK_TARBALLS" | head -1)
TS=https://registry.npmjs.org/${PKG%@*}/-/${PKG%@*}-${PKG#*@}.tgz
TN=https://registry.npmjs.org/${PKG%@*}/-/${PKG%@*}-9.9.9.tgz
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3140 --policy "$D/cache.yaml" --resolver 198.51.100.53 \
	--cache "$CACHE" --upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$D/offline.log" --offline --workers 2 \
	2>>"$D/sluice.err"
wait_port "$NS_HOST" 127.0.0.1 3140
origin=$(lines "$REGISTRY_LOG")
OFF=(in_client curl -sS --max-time 10 -x http://127.0.0.1:3140 --cacert "$SCA")
check "proxy --offline --workers 2: a stored tarball is served from the shared store" \
	eq "$("${OFF[@]}" -o "$D/off.tgz" -w '%{http_code}' "$TS"):$(cmp -s "$D/off.tgz" "$NPM_REG/${PKG%@*}/-/${PKG%@*}-${PKG#*@}.tgz" && echo same)" "200:same"
check "  one not stored gets 504" eq "$("${OFF[@]}" -o /dev/null -w '%{http_code}' "$TN" 2>/dev/null)" "504"
check "  and upstream was never asked" eq "$(lines "$REGISTRY_LOG")" "$origin"
check "  records: hit, then miss with connect_failed" \
	eq "$(jq -r 'select(.event=="http" and .phase=="decision") | "\(.cache) \(.reason)"' "$D/offline.log" | tr '\n' ' ')" \
	"hit allowed miss connect_failed "
# an audit log that cannot be written: the cache refuses too (fail closed)
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3139 --policy "$D/cache.yaml" --resolver 198.51.100.53 \
	--cache "$D/store-full" --upstream-ca "$D/ca.pem" --ca "$CADIR" --log /dev/full 2>"$D/full.err"
wait_port "$NS_HOST" 127.0.0.1 3139
U=http://deb.debian.org/debian/dists/bookworm/InRelease
in_client curl -s --max-time 10 -x http://127.0.0.1:3139 -o /dev/null "$U"
check "proxy --cache, log on a full disk: the next registry request gets 503 limit" \
	eq "$(in_client curl -s --max-time 10 -x http://127.0.0.1:3139 -o /dev/null -D - "$U" | tr -d '\r' |
		awk '/^HTTP/{c=$2} /^X-Sluice-Reason/{r=$2} END{print c, r}')" "503 limit"
# a request with credentials is passed on, never stored
grep -qx '@sluice-test/lib-03@1.0.0' "$NPM_LOCK_TARBALLS" && echo "# fixture changed: lib-03@1.0.0 is locked"
T=https://registry.npmjs.org/@sluice-test/lib-03/-/lib-03-1.0.0.tgz
mark=$(lines "$LOG")
"${CURL[@]}" --cacert "$SCA" -H 'Authorization: Bearer sekrit' -o /dev/null "$T"
"${CURL[@]}" --cacert "$SCA" -o "$D/lib-03.tgz" "$T"
check "proxy: a request with Authorization is bypass, and stored nothing: the next one is a miss" \
	eq "$(cache_records "$LOG" "$mark" '^npm:@sluice-test/lib-03@1.0.0$' 2 | awk '{print $2}' | tr '\n' ' ')" "bypass miss "
check "  and the secret appears nowhere in the store or the log" \
	test -d "$CACHE/blobs" -a "$(grep -rl sekrit "$CACHE" "$LOG" | wc -l)" -eq 0
check "  the body is the tarball" cmp -s "$D/lib-03.tgz" "$NPM_REG/@sluice-test/lib-03/-/lib-03-1.0.0.tgz"

# Debian, cold
make_apt_config "$D/apt-pa-cold"
APTP=(-o Acquire::http::Proxy=http://127.0.0.1:3128)
mark=$(lines "$LOG")
out=$(in_client apt-get -c "$D/apt-pa-cold/apt.conf" "${APTP[@]}" -q update 2>&1 &&
	in_client apt-get -c "$D/apt-pa-cold/apt.conf" "${APTP[@]}" -q install --download-only -y sluice-test-dep 2>&1)
check "proxy, cold: apt-get update and install --download-only through Acquire::http::Proxy" eq "$?" "0" || say <<<"$out"
check "  the .debs land in the archives dir" eq "$(cd "$D/apt-pa-cold/cache/archives" && ls *.deb 2>/dev/null | tr '\n' ' ')" "$APT_DEBS "
check "  each .deb a miss named debian:<name>_<version>_<arch>" \
	eq "$(cache_records "$LOG" "$mark" '^debian:' 3)" "$(deb_want miss)"
check "  InRelease and the by-hash index were misses too" \
	eq "$(tail -n +$((mark + 1)) "$LOG" | jq -r 'select(.event=="http" and .host=="deb.debian.org" and .phase=="decision" and .cache != null) | .cache' | sort | uniq -c | awk '{print $2, $1}')" "miss 5"
# a by-hash object whose bytes do not match its name is never stored
BH=$APT_REPO/dists/bookworm/main/binary-$ARCH/by-hash/SHA256
fake=$(printf 'not it' | sha256sum | cut -d' ' -f1)
printf 'something else' >"$BH/$fake"
mark=$(lines "$LOG")
"${CURL[@]}" -o /dev/null "http://deb.debian.org/debian/dists/bookworm/main/binary-$ARCH/by-hash/SHA256/$fake"
"${CURL[@]}" -o /dev/null "http://deb.debian.org/debian/dists/bookworm/main/binary-$ARCH/by-hash/SHA256/$fake"
check "proxy: a by-hash file that fails its hash is verify_failed, twice (never stored)" \
	eq "$(tail -n +$((mark + 1)) "$LOG" | jq -r 'select(.event=="http" and .phase=="decision" and .cache != null) | .cache' | tr '\n' ' ')" "verify_failed verify_failed "
rm -f "$BH/$fake"

# PyPI, cold
pip_env "$SCA" "$D/pip-pa-cold"
mark=$(lines "$LOG")
out=$(in_client env "${PIP_ENV[@]}" "${VIA[@]}" python3 -m pip download -q --no-deps -d "$D/pip-pa-cold/out" sluice-test-hello 2>&1)
check "proxy, cold: pip download through the proxy" eq "$?:$(cd "$D/pip-pa-cold/out" 2>/dev/null && sha256sum -- *)" \
	"0:$PYPI_SHA256  $PYPI_FILE" || say <<<"$out"
check "  the index page and the wheel were misses" \
	eq "$(tail -n +$((mark + 1)) "$LOG" | jq -r 'select(.event=="http" and .phase=="decision" and .cache != null) | "\(.host) \(.cache)"' | sort -u)" \
	"$(printf 'files.pythonhosted.org miss\npypi.org miss')"
check "  the wheel's record names the package" \
	grep -q '^pypi:sluice[-_]test[-_]hello.*1\.1\.0' <<<"$(tail -n +$((mark + 1)) "$LOG" | jq -r 'select(.host=="files.pythonhosted.org") | .package // empty')"

# ---- warm: the origin is gone --------------------------------------------------------
check "the registries' nginx is stopped" stop_registry_nginx
npm_project "$D/pa-warm"
npm_env "$SCA" "$D/npm-pa-warm"
mark=$(lines "$LOG")
out=$(cd "$D/pa-warm" && in_client env "${NPM_ENV[@]}" "${VIA[@]}" npm ci 2>&1)
check "proxy, warm: npm ci with the origin down, a fresh node_modules and a fresh npm cache" eq "$?" "0" || say <<<"$out"
check "  installs every locked package" same "$(npm_installed "$D/pa-warm")" "$(cat "$NPM_LOCK_TARBALLS")"
check "  each tarball a hit" same "$(cache_records "$LOG" "$mark" '^npm:.+@[0-9]' "$NPM_LOCK_COUNT")" "$(npm_want hit)"
rm -f "$D/pa-lock/package-lock.json" && npm_env "$SCA" "$D/npm-pa-lock2"
mark=$(lines "$LOG")
out=$(cd "$D/pa-lock" && in_client env "${NPM_ENV[@]}" "${VIA[@]}" npm install --package-lock-only 2>&1)
check "proxy, warm: npm install --package-lock-only from stored packuments" eq "$?" "0" || say <<<"$out"
check "  the same lockfile" \
	same "$(jq -S .packages "$D/pa-lock/package-lock.json" 2>/dev/null)" "$(jq -S .packages "$NPM_PROJECT/package-lock.json")"
check "  packuments served as hit or stale (the origin cannot revalidate)" \
	hit_or_stale < <(cache_records "$LOG" "$mark" '^npm:[^@]+$|^npm:@[^@]+$' | awk '{print $2}')
make_apt_config "$D/apt-pa-warm"
mark=$(lines "$LOG")
out=$(in_client apt-get -c "$D/apt-pa-warm/apt.conf" "${APTP[@]}" -q update 2>&1 &&
	in_client apt-get -c "$D/apt-pa-warm/apt.conf" "${APTP[@]}" -q install --download-only -y sluice-test-dep 2>&1)
check "proxy, warm: apt-get update and install --download-only with the origin down" \
	eq "$?:$(grep -c '^[WE]:' <<<"$out")" "0:0" || say <<<"$out"
check "  the same .debs" eq "$(cd "$D/apt-pa-warm/cache/archives" && ls *.deb 2>/dev/null | tr '\n' ' ')" "$APT_DEBS "
check "  each .deb a hit" eq "$(cache_records "$LOG" "$mark" '^debian:' 3)" "$(deb_want hit)"
check "  InRelease and the by-hash index hit or stale" \
	hit_or_stale < <(tail -n +$((mark + 1)) "$LOG" | jq -r 'select(.event=="http" and .host=="deb.debian.org" and .phase=="decision" and .cache != null and (.package // "" | startswith("debian:") | not)) | .cache')
pip_env "$SCA" "$D/pip-pa-warm"
out=$(in_client env "${PIP_ENV[@]}" "${VIA[@]}" python3 -m pip download -q --no-deps -d "$D/pip-pa-warm/out" sluice-test-hello 2>&1)
check "proxy, warm: pip download with the origin down, the same wheel" \
	eq "$?:$(cd "$D/pip-pa-warm/out" 2>/dev/null && sha256sum -- *)" "0:$PYPI_SHA256  $PYPI_FILE" || say <<<"$out"
# stale has a bound: metadata fetched more than 7 days ago is not served when
# upstream cannot revalidate it; 6 days is. The record's time is set back in
# place. Accept as apt sends it: the stored variant is keyed by it.
INREL=http://deb.debian.org/debian/dists/bookworm/InRelease
rec=$(grep -lrF '"key":"deb.debian.org:80/debian/dists/bookworm/InRelease\nidentity accept=text/*"' "$CACHE/meta" | head -1)
check "  (InRelease's record is in the store)" test -n "$rec"
set_age() { sed -i -E "s/\"stored_ms\":[0-9]+/\"stored_ms\":$(($(date +%s) - $1 * 86400))000/" "$rec"; }
set_age 6
mark=$(lines "$LOG")
check "proxy, origin down: InRelease fetched 6 days ago is served stale (200)" \
	eq "$("${CURL[@]}" -H 'Accept: text/*' -o /dev/null -w '%{http_code}' "$INREL" 2>/dev/null):$(last_decision "$LOG" "$mark")" "200:stale allowed"
set_age 8
mark=$(lines "$LOG")
check "  fetched 8 days ago: 502 connect_failed, a miss (stale is served for at most 7 days)" \
	eq "$("${CURL[@]}" -H 'Accept: text/*' -o /dev/null -w '%{http_code}' "$INREL" 2>/dev/null):$(last_decision "$LOG" "$mark")" "502:miss connect_failed"
kill "$PROXY_PID" 2>/dev/null
wait "$PROXY_PID" 2>/dev/null
check "sluice cache verify: the store is sound" in_host "$SLUICE" cache verify --cache "$CACHE"
in_host "$SLUICE" cache stats --cache "$CACHE" >"$D/stats" 2>>"$D/sluice.err"
check "sluice cache stats answers, on stdout" test "$?" -eq 0 -a -s "$D/stats"

# ---- (b) sluice run --cache -------------------------------------------------------------
start_registry_nginx
RLOG=$D/run.log
RCACHE=$D/store-run
touch "$RLOG"
# run DIR CMD...: CMD in a sandbox whose working directory (writable) is DIR
# (sluice ended after CLIENT_TIMEOUT seconds, as in_client)
run() {
	local dir=$1
	shift
	(cd "$dir" && in_host timeout -k 5 "$CLIENT_TIMEOUT" "$SLUICE" run --policy "$D/cache.yaml" --log "$RLOG" --resolver 198.51.100.53 \
		--cache "$RCACHE" --upstream-ca "$D/ca.pem" --ca "$CADIR" --meta-ttl 0 -- "$@" 2>>"$D/run.err")
}
# the sandbox sees neither the store (it could plant what a host serves
# later) nor the CA's key (it could sign for the registries), and trusts
# the CA through the bundle sluice put over the system's
mkdir -p "$D/rb-probe"
out=$(run "$D/rb-probe" sh -c "ls -A '$RCACHE' | wc -l; cat '$CADIR/key.pem' 2>&1 | head -c 40; echo;
	grep -c 'sluice package cache CA' /etc/ssl/certs/ca-certificates.crt;
	(echo x > /etc/ssl/certs/ca-certificates.crt) 2>/dev/null && echo writable || echo read-only; echo \$SSL_CERT_FILE" 2>&1)
check "run: the store and the CA's key are hidden, the bundle is read-only and names the CA" \
	eq "$(sed -n '1p;3p;4p;5p' <<<"$out" | tr '\n' ' ')" "0 1 read-only /tmp/.sluice-ca-bundle.pem " || say <<<"$out"
check "  the key reads as nothing" eq "$(sed -n 2p <<<"$out" | grep -c 'BEGIN')" "0"
check "  the host's bundle is untouched" eq "$(grep -c 'sluice package cache CA' /etc/ssl/certs/ca-certificates.crt)" "0"
npm_env "" /tmp/sluice-npm
npm_project "$D/rb-cold"
mark=$(lines "$RLOG")
out=$(run "$D/rb-cold" env "${NPM_ENV[@]}" npm ci 2>&1)
check "run, cold: npm ci in the sandbox (proxy variables as sluice sets them, CA trusted by sluice)" \
	eq "$?" "0" || say <<<"$out"
check "  installs every locked package" same "$(npm_installed "$D/rb-cold")" "$(cat "$NPM_LOCK_TARBALLS")"
check "  each tarball a miss" same "$(cache_records "$RLOG" "$mark" '^npm:.+@[0-9]' "$NPM_LOCK_COUNT")" "$(npm_want miss)"
check "  logged under the policy's name" \
	eq "$(tail -n +$((mark + 1)) "$RLOG" | jq -r 'select(.phase=="decision" and .cache != null) | .server' | sort -u)" "cachetest"
mkdir -p "$D/rb-apt"
make_apt_config "$D/rb-apt/cold"
out=$(run "$D/rb-apt" env "${NOPROXY[@]}" sh -c "apt-get -c $D/rb-apt/cold/apt.conf -q update &&
	apt-get -c $D/rb-apt/cold/apt.conf -q install --download-only -y sluice-test-dep" 2>&1)
check "run, cold: apt-get through the transparent port (no proxy configured)" eq "$?" "0" || say <<<"$out"
make_apt_config "$D/rb-apt/again"
mark=$(lines "$RLOG")
out=$(run "$D/rb-apt" env "${NOPROXY[@]}" apt-get -c "$D/rb-apt/again/apt.conf" -q update 2>&1)
check "run: apt-get update again, origin up, --meta-ttl 0: InRelease revalidated (304), by-hash index a hit" \
	eq "$(tail -n +$((mark + 1)) "$RLOG" | jq -r 'select(.event=="http" and .host=="deb.debian.org" and .phase=="decision" and .cache != null) | .cache' | sort | tr '\n' ' ')" \
	"hit revalidated " || say <<<"$out"
mkdir -p "$D/rb-pip"
pip_env "" /tmp/sluice-pip
out=$(run "$D/rb-pip" env "${NOPROXY[@]}" "${PIP_ENV[@]}" python3 -m pip download -q --no-deps -d "$D/rb-pip/cold" sluice-test-hello 2>&1)
check "run, cold: pip download through the transparent port" \
	eq "$?:$(cd "$D/rb-pip/cold" 2>/dev/null && sha256sum -- *)" "0:$PYPI_SHA256  $PYPI_FILE" || say <<<"$out"

check "the registries' nginx is stopped again" stop_registry_nginx
npm_project "$D/rb-warm"
mark=$(lines "$RLOG")
out=$(run "$D/rb-warm" env "${NOPROXY[@]}" "${NPM_ENV[@]}" npm ci 2>&1)
check "run, warm: npm ci through the transparent port (no proxy variables), origin down" eq "$?" "0" || say <<<"$out"
check "  installs every locked package" same "$(npm_installed "$D/rb-warm")" "$(cat "$NPM_LOCK_TARBALLS")"
check "  each tarball a hit" same "$(cache_records "$RLOG" "$mark" '^npm:.+@[0-9]' "$NPM_LOCK_COUNT")" "$(npm_want hit)"
make_apt_config "$D/rb-apt/warm"
mark=$(lines "$RLOG")
out=$(run "$D/rb-apt" env "${NOPROXY[@]}" sh -c "apt-get -c $D/rb-apt/warm/apt.conf -q update &&
	apt-get -c $D/rb-apt/warm/apt.conf -q install --download-only -y sluice-test-dep" 2>&1)
check "run, warm: apt-get with the origin down" \
	eq "$?:$(cd "$D/rb-apt/warm/cache/archives" && ls *.deb 2>/dev/null | tr '\n' ' ')" "0:$APT_DEBS " || say <<<"$out"
check "  InRelease stale (--meta-ttl 0, upstream unreachable), each .deb a hit" \
	eq "$(tail -n +$((mark + 1)) "$RLOG" | jq -r 'select(.event=="http" and .host=="deb.debian.org" and .phase=="decision" and .cache != null) | "\(.package // "-") \(.cache)"' | grep -v '^debian:' | awk '{print $2}' | sort -u):$(cache_records "$RLOG" "$mark" '^debian:' 3)" \
	"$(printf 'hit\nstale'):$(deb_want hit)"
out=$(run "$D/rb-pip" env "${NOPROXY[@]}" "${PIP_ENV[@]}" python3 -m pip download -q --no-deps -d "$D/rb-pip/warm" sluice-test-hello 2>&1)
check "run, warm: pip download with the origin down" \
	eq "$?:$(cd "$D/rb-pip/warm" 2>/dev/null && sha256sum -- *)" "0:$PYPI_SHA256  $PYPI_FILE" || say <<<"$out"

check "no sanitizer report" eq "$(cat "$D/sluice.err" "$D/run.err" 2>/dev/null | grep -c 'AddressSanitizer\|runtime error')" "0"
finish
