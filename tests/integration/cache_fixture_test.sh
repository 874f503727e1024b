#!/usr/bin/env bash
# cache_fixture_test.sh: the package registries that the cache tests use
# (cache_world.sh), checked without sluice: real npm, apt and pip in the
# world's host namespace, trusting the world's CA, reach registry.npmjs.org,
# deb.debian.org and pypi.org through the world's dnsmasq and install from
# them. If this fails, a cache test's failure says nothing about sluice.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"
T0=$SECONDS
cache_world_up || { echo "could not build the registry world"; exit 1; }
D=$WORLD_DIR
echo "# registry world up in $((SECONDS - T0)) s"

# ---- npm ----------------------------------------------------------------------
read -r names versions <"$D/npm-src/counts"
check "the npm set: 64 packages in $versions versions, each packed by npm pack" \
	eq "$names:$(find "$NPM_REG" -name '*.tgz' | wc -l)" "64:$versions"
check "  a scoped packument names its tarball under the registry's own name" \
	eq "$(jq -r '.versions["1.0.0"].dist.tarball' "$NPM_REG/@sluice-test/lib-03/index.json")" \
	"https://registry.npmjs.org/@sluice-test/lib-03/-/lib-03-1.0.0.tgz"
check "  dist.integrity and dist.shasum are the tarball's sha512 and sha1" \
	eq "$(jq -r '.versions["1.1.0"].dist | "\(.integrity) \(.shasum)"' "$NPM_REG/sluice-pkg-00/index.json")" \
	"sha512-$(openssl dgst -sha512 -binary "$NPM_REG/sluice-pkg-00/-/sluice-pkg-00-1.1.0.tgz" | base64 -w0) $(sha1sum "$NPM_REG/sluice-pkg-00/-/sluice-pkg-00-1.1.0.tgz" | cut -d' ' -f1)"
LOCK=$NPM_PROJECT/package-lock.json
check "npm install --package-lock-only against the world: $NPM_LOCK_COUNT packages locked (>= 50)" \
	test "$NPM_LOCK_COUNT" -ge 50
check "  every resolved URL is https://registry.npmjs.org/..." \
	eq "$(jq -r '[.packages[] | .resolved // empty | select(startswith("https://registry.npmjs.org/") | not)] | length' "$LOCK")" "0"
check "  every entry has a sha512 integrity" \
	eq "$(jq -r '[.packages | to_entries[] | select(.key != "") | .value.integrity // "" | select(startswith("sha512-") | not)] | length' "$LOCK")" "0"
check "  two versions of one name: a nested copy at ^2" \
	eq "$(jq -r '.packages | to_entries[] | select(.key | test("node_modules/.+/node_modules/sluice-pkg-05$")) | .value.version' "$LOCK" | sort -u)" "2.0.0"
check "  scoped packages are in it" test "$(grep -c '^@sluice-test/' "$NPM_LOCK_TARBALLS")" -ge 10
check "  with a tarball over 1 MiB (sluice-pkg-02)" \
	test "$(grep -c '^sluice-pkg-02@1.0.0$' "$NPM_LOCK_TARBALLS")" -eq 1 -a "$(stat -c %s "$NPM_REG/sluice-pkg-02/-/sluice-pkg-02-1.0.0.tgz")" -gt 1048576
check "npm asked for a scoped packument as /@sluice-test%2flib-NN (and nginx answered 200)" \
	grep -qiE '^registry.npmjs.org GET /@sluice-test%2flib-[0-9]+ 200 ' "$REGISTRY_LOG"
check "  and for an unscoped one as /<name>" grep -q '^registry.npmjs.org GET /sluice-pkg-01 200 ' "$REGISTRY_LOG"

npm_env "$D/ca.pem" "$D/npm-ci"
: >"$REGISTRY_LOG.mark" && mark=$(wc -l <"$REGISTRY_LOG")
P=$D/npm-ci-project
npm_project "$P"
out=$(cd "$P" && in_client env "${NPM_ENV[@]}" npm ci 2>&1)
check "npm ci from https://registry.npmjs.org succeeds" eq "$?" "0" || echo "$out" | tail -5 | sed 's/^/    /'
check "  node_modules holds every locked package ($NPM_LOCK_COUNT)" eq "$(npm_installed "$P")" "$(cat "$NPM_LOCK_TARBALLS")"
check "  it fetched only tarballs, each once" \
	eq "$(tail -n +$((mark + 1)) "$REGISTRY_LOG" | awk '$3 ~ /\.tgz$/ && $4 == 200 {print $3}' | sort -u | wc -l):$(tail -n +$((mark + 1)) "$REGISTRY_LOG" | wc -l)" \
	"$NPM_LOCK_COUNT:$NPM_LOCK_COUNT"
check "  the installed code runs" \
	eq "$(cd "$P" && node -p 'require("sluice-pkg-00") + " " + require("@sluice-test/lib-03")')" "sluice-pkg-00@1.1.0 @sluice-test/lib-03@1.1.0"
# the lockfile's hashes are checked: one wrong integrity fails the install
npm_project "$D/npm-bad"
jq '.packages["node_modules/sluice-pkg-01"].integrity = "sha512-" + ("A" * 86) + "=="' "$LOCK" >"$D/npm-bad/package-lock.json"
npm_env "$D/ca.pem" "$D/npm-bad-env"
check "npm ci with one wrong integrity in the lockfile fails with EINTEGRITY" \
	grep -q EINTEGRITY <<<"$(cd "$D/npm-bad" && in_client env "${NPM_ENV[@]}" npm ci 2>&1)"

# ---- Debian ---------------------------------------------------------------------
make_apt_config "$D/apt-client"
APT=(in_client apt-get -c "$D/apt-client/apt.conf" -q)
mark=$(wc -l <"$REGISTRY_LOG")
out=$("${APT[@]}" update 2>&1)
check "apt-get update from http://deb.debian.org/debian, signed InRelease, no warning" \
	eq "$?:$(grep -c '^[WE]:' <<<"$out")" "0:0" || echo "$out" | tail -5 | sed 's/^/    /'
check "  InRelease and the Packages index by hash, over plain HTTP" \
	eq "$(tail -n +$((mark + 1)) "$REGISTRY_LOG" | awk '{print $1, $3, $4}' | sed 's|SHA256/[0-9a-f]*|SHA256/<hex>|')" \
	"$(printf '%s\n' "deb.debian.org /debian/dists/bookworm/InRelease 200" \
		"deb.debian.org /debian/dists/bookworm/main/binary-$(dpkg --print-architecture)/by-hash/SHA256/<hex> 200")"
check "  the lists are in the private state dir" \
	test -s "$(ls "$D"/apt-client/state/lists/deb.debian.org_debian_dists_bookworm_InRelease 2>/dev/null)"
out=$("${APT[@]}" install --download-only -y sluice-test-dep 2>&1)
check "apt-get install --download-only sluice-test-dep" eq "$?" "0" || echo "$out" | tail -5 | sed 's/^/    /'
check "  the three .debs (with the 2 MiB one) land in the private archives dir" \
	eq "$(cd "$D/apt-client/cache/archives" && ls *.deb | tr '\n' ' ')" "$APT_DEBS "
check "  byte for byte the mirror's" \
	eq "$(cd "$D/apt-client/cache/archives" && for f in *.deb; do cmp -s "$f" "$(find "$APT_REPO/pool" -name "$f")" && echo same; done | wc -l)" "3"
check "  the host's apt saw none of it" \
	eq "$(ls /var/cache/apt/archives /var/lib/apt/lists 2>/dev/null | grep -c 'sluice-test\|198.51.100')" "0"
# the signature is checked: with another keyring the same mirror is refused
make_apt_config "$D/apt-nokey"
: >"$D/apt-nokey/empty.gpg"
sed -i "s|signed-by=[^]]*|signed-by=$D/apt-nokey/empty.gpg|" "$D/apt-nokey/sources.list"
check "apt-get update with a keyring that lacks the mirror's key refuses it" \
	grep -q "NO_PUBKEY\|not signed\|couldn't be verified" <<<"$(in_client apt-get -c "$D/apt-nokey/apt.conf" -q update 2>&1)"

# ---- PyPI -----------------------------------------------------------------------
pip_env "$D/ca.pem" "$D/pip"
out=$(in_client env "${PIP_ENV[@]}" python3 -m pip download -q --no-deps -d "$D/pip/out" sluice-test-hello 2>&1)
check "pip download sluice-test-hello from https://pypi.org/simple" eq "$?" "0" || echo "$out" | tail -5 | sed 's/^/    /'
check "  the newest wheel ($PYPI_FILE) with the index's sha256" \
	eq "$(cd "$D/pip/out" && sha256sum -- * 2>/dev/null)" "$PYPI_SHA256  $PYPI_FILE"
check "  fetched from files.pythonhosted.org/packages/..." \
	grep -q "^files.pythonhosted.org GET /packages/.*/$PYPI_FILE 200 " "$REGISTRY_LOG"
check "  a valid wheel: pip installs it offline and it imports" \
	eq "$(in_host env "${PIP_ENV[@]}" python3 -m pip install -q --no-index --no-deps --target "$D/pip/site" "$D/pip/out/$PYPI_FILE" >/dev/null 2>&1 &&
		PYTHONPATH=$D/pip/site python3 -c 'import sluice_test_hello; print(sluice_test_hello.VERSION)')" "1.1.0"
check "pip download sluice-test-dep brings its dependency" \
	eq "$(in_client env "${PIP_ENV[@]}" python3 -m pip download -q -d "$D/pip/dep" sluice-test-dep >/dev/null 2>&1; ls "$D/pip/dep" | tr '\n' ' ')" \
	"sluice_test_dep-1.0.0-py3-none-any.whl $PYPI_FILE "

check "each registry name was answered by the world's dnsmasq with the registry's addresses" \
	eq "$(grep -oE 'config [a-z.]+ is [0-9a-f:.]+$' "$D/dnsmasq.log" | sort -u | awk '{print $2, $4}' | tr '\n' ' ')" \
	"$(for n in deb.debian.org files.pythonhosted.org pypi.org registry.npmjs.org; do printf '%s %s ' "$n" "$REGISTRY_ADDR" "$n" "$REGISTRY_ADDR6"; done)"
echo "# took $((SECONDS - T0)) s"
finish
