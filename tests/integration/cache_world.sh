# cache_world.sh: package registries in the test world, for the cache tests.
# Source it after world.sh, then call cache_world_up (or the parts below).
#
#   inet ns  vi<id> 198.51.100.20  2001:db8::20   nginx, HTTP 80 and TLS 443:
#     registry.npmjs.org     npm registry  (packuments /<name>, /@scope%2fname;
#                                          tarballs /<name>/-/<base>-<v>.tgz)
#     deb.debian.org         Debian mirror under /debian/ (bookworm main,
#                                          signed, Acquire-By-Hash)
#     pypi.org               PEP 503 index under /simple/
#     files.pythonhosted.org wheels under /packages/
#   (registry.yarnpkg.com and security.debian.org answer too.)
# The world's dnsmasq answers those names with these addresses; the TLS
# certificate is a leaf of the world's test CA ($WORLD_DIR/ca.pem) naming them.
# Everything is made locally each run: nothing is fetched from any registry.
#
# Building it (cache_world_up does all of these, in this order):
#   world_up; make_registry_cert; make_npm_registry NPM_REG N; make_apt_repo
#   APT_REPO; make_pypi_index PYPI_DIR; start_registry_nginx; make_npm_lockfile
#
# What a test uses afterwards:
#   REGISTRY_ADDR, REGISTRY_ADDR6   198.51.100.20, 2001:db8::20 (allow_private them)
#   in_client CMD...      CMD in the host ns, resolving through the world's dnsmasq
#                         (at most CLIENT_TIMEOUT seconds, default 120)
#   NPM_REG               the registry's files: <name>/index.json, <name>/-/<base>-<v>.tgz
#   NPM_PROJECT           a project whose package-lock.json pins NPM_LOCK_COUNT
#                         (76 of the 64-name set) packages at https://registry.npmjs.org/
#   NPM_LOCK_TARBALLS     file: "<name>@<version>" of each locked package, sorted
#   npm_project DIR       a fresh copy of the project (package.json, package-lock.json)
#   npm_installed DIR     "<name>@<version>" of each package in DIR/node_modules, sorted
#   npm_env CAFILE DIR    sets NPM_ENV (arguments for `env`): npm trusting CAFILE
#                         (none set when CAFILE is ""), cache and user config under DIR
#   APT_REPO, APT_KEY     the mirror's /debian root and its public key (binary)
#   APT_DEBS              the .deb file names `install sluice-test-dep` downloads
#   make_apt_config DIR   a private apt configuration, DIR/apt.conf, all state under
#                         DIR, downloads in DIR/cache/archives (apt-get -c DIR/apt.conf)
#   PYPI_DIR              pypi.org/simple/<project>/index.html, files/packages/...
#   PYPI_FILE, PYPI_SHA256, PYPI_URL  the wheel `pip download sluice-test-hello`
#                         picks (1.1.0), its sha256 and its files.pythonhosted.org URL
#   pip_env CAFILE DIR    sets PIP_ENV the same way as npm_env
#   start_registry_nginx / stop_registry_nginx, REGISTRY_PID, REGISTRY_LOG
#     (access log: "<host> <method> <uri> <status> <bytes>" per request;
#     stop kills nginx by its PID and checks port 443 no longer answers)

REGISTRY_ADDR=198.51.100.20
REGISTRY_ADDR6=2001:db8::20
REGISTRY_NAMES=(registry.npmjs.org registry.yarnpkg.com deb.debian.org security.debian.org
	pypi.org files.pythonhosted.org)
REG=$WORLD_DIR/reg
NPM_REG=$REG/npm
NPM_PROJECT=$WORLD_DIR/npm-project
NPM_LOCK_TARBALLS=$WORLD_DIR/npm-lock-tarballs
APT_REPO=$REG/deb/debian
APT_KEY=$WORLD_DIR/apt-archive-key.gpg
PYPI_DIR=$REG/pypi
REGISTRY_LOG=$WORLD_DIR/registry-access.log
REGISTRY_PID=
for _n in "${REGISTRY_NAMES[@]}"; do
	WORLD_DNSMASQ_ARGS+=("--address=/$_n/$REGISTRY_ADDR" "--address=/$_n/$REGISTRY_ADDR6")
done
unset _n

# CMD in the host namespace with /etc/resolv.conf naming the world's dnsmasq
# (a bind mount in a mount namespace of the command's own; /etc is untouched),
# ended after CLIENT_TIMEOUT seconds: npm retries a failing proxy endlessly
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-120}
in_client() {
	[ -f "$WORLD_DIR/resolv.conf" ] || echo "nameserver 198.51.100.53" >"$WORLD_DIR/resolv.conf"
	in_host timeout -k 5 "$CLIENT_TIMEOUT" unshare --mount --propagation private -- \
		sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$WORLD_DIR/resolv.conf" "$@"
}

# npm_env CAFILE DIR: NPM_ENV=(...) for `env`: npm trusts CAFILE (with "" no
# CA variable is set: sluice run sets its own), asks the real registry's
# name, keeps its cache (DIR/npm-cache) and user config (DIR/npmrc, need not
# exist) in DIR, and sees none of the caller's npm_config_ variables. Only
# variables: nothing is made, so DIR may be a path inside a sandbox.
npm_env() {
	local v
	NPM_ENV=()
	for v in $(compgen -e | grep -i '^npm_config_'); do NPM_ENV+=(-u "$v"); done
	[ -n "$1" ] && NPM_ENV+=(NODE_EXTRA_CA_CERTS="$1" npm_config_cafile="$1")
	NPM_ENV+=(npm_config_cache="$2/npm-cache"
		npm_config_userconfig="$2/npmrc" npm_config_registry=https://registry.npmjs.org/
		npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
		npm_config_loglevel=warn npm_config_fetch_retries=0 npm_config_fetch_timeout=20000)
}

# pip_env CAFILE DIR: PIP_ENV=(...) for `env`: pip trusts CAFILE (none with
# "", as for npm_env; requests prefers REQUESTS_CA_BUNDLE to --cert, so that
# too), reads no config file and none of the caller's PIP_ variables, keeps
# its cache in DIR/pip-cache
pip_env() {
	local v
	PIP_ENV=()
	for v in $(compgen -e | grep '^PIP_'); do PIP_ENV+=(-u "$v"); done
	[ -n "$1" ] && PIP_ENV+=(PIP_CERT="$1" REQUESTS_CA_BUNDLE="$1" SSL_CERT_FILE="$1")
	PIP_ENV+=(PIP_CONFIG_FILE=/dev/null PIP_CACHE_DIR="$2/pip-cache"
		PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_RETRIES=0 PIP_TIMEOUT=20
		PIP_INDEX_URL=https://pypi.org/simple PIP_ROOT_USER_ACTION=ignore)
}

# A leaf of the world's CA for every registry name
make_registry_cert() {
	local d=$WORLD_DIR san
	san=$(printf 'DNS:%s,' "${REGISTRY_NAMES[@]}")
	openssl req -newkey rsa:2048 -nodes -subj "/CN=registry.npmjs.org" \
		-keyout "$d/registry.key" -out "$d/registry.csr" 2>/dev/null &&
		printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${san%,}" >"$d/registry.ext" &&
		openssl x509 -req -in "$d/registry.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/registry.ext" -out "$d/registry.pem" 2>/dev/null
}

# make_npm_registry DIR N: N packages (N >= 60; see registry.py for the
# tree), packed by `npm pack` (offline), laid out in DIR as the registry
# serves them; NPM_PROJECT gets their project's package.json
make_npm_registry() {
	local dir=$1 n=$2 src=$WORLD_DIR/npm-src
	python3 "$HERE/registry.py" npm-sources "$src" "$n" || return 1
	mkdir -p "$src/.tgz" "$src/.npm" "$dir"
	(cd "$src" && npm_config_cache="$src/.npm" npm_config_userconfig=/dev/null \
		npm_config_update_notifier=false npm pack --json --pack-destination "$src/.tgz" ./*@*) \
		>"$src/pack.json" 2>"$src/pack.err" || { cat "$src/pack.err" >&2; return 1; }
	python3 "$HERE/registry.py" npm-registry "$dir" "$src" "$src/pack.json" "$src/.tgz" >"$src/counts" || return 1
	rm -rf "$NPM_PROJECT" && cp -r "$src/project" "$NPM_PROJECT"
}

# The project's package-lock.json, made by npm against the world's registry
# (so start_registry_nginx first); sets NPM_LOCK_COUNT
make_npm_lockfile() {
	local out
	npm_env "$WORLD_DIR/ca.pem" "$WORLD_DIR/npm-lock"
	out=$(cd "$NPM_PROJECT" && in_client env "${NPM_ENV[@]}" npm install --package-lock-only 2>&1) ||
		{ echo "$out" >&2; return 1; }
	jq -r '.packages | to_entries[] | select(.key != "") | "\(.value.name // (.key | sub(".*node_modules/"; "")))@\(.value.version)"' \
		"$NPM_PROJECT/package-lock.json" | sort >"$NPM_LOCK_TARBALLS"
	NPM_LOCK_COUNT=$(wc -l <"$NPM_LOCK_TARBALLS")
}

# npm_installed DIR: "<name>@<version>" of every package in DIR/node_modules
# (nested copies too), sorted: equal to NPM_LOCK_TARBALLS after a full install
npm_installed() {
	find "$1/node_modules" -name package.json 2>/dev/null | grep -E '/node_modules/(@[^/]+/)?[^/@][^/]*/package.json$' |
		xargs -r jq -r '"\(.name)@\(.version)"' | sort
}

# npm_project DIR: a fresh copy of the project (package.json and its lockfile)
npm_project() {
	rm -rf "$1" && mkdir -p "$1" && cp "$NPM_PROJECT/package.json" "$NPM_PROJECT/package-lock.json" "$1/"
}

# build_deb OUTDIR NAME VERSION ARCH DEPENDS [BLOB_BYTES]
build_deb() {
	local out=$1 name=$2 ver=$3 arch=$4 deps=$5 blob=${6:-0} b=$WORLD_DIR/deb-build/$2
	mkdir -p "$b/DEBIAN" "$b/usr/share/doc/$name" "$out/pool/main/s/$name"
	echo "$name $ver, a package of the sluice test world" >"$b/usr/share/doc/$name/README"
	[ "$blob" -gt 0 ] && head -c "$blob" /dev/urandom >"$b/usr/share/doc/$name/blob"
	{
		echo "Package: $name"
		echo "Version: $ver"
		echo "Architecture: $arch"
		echo "Maintainer: sluice tests <tests@sluice.test>"
		echo "Installed-Size: $(($(du -sk "$b/usr" | cut -f1)))"
		[ -n "$deps" ] && echo "Depends: $deps"
		echo "Section: misc"
		echo "Priority: optional"
		echo "Description: sluice cache test package"
		echo " A package served by the sluice test world's Debian mirror."
	} >"$b/DEBIAN/control"
	dpkg-deb --root-owner-group -Zgzip --build "$b" "$out/pool/main/s/$name/${name}_${ver}_$arch.deb" >/dev/null
}

# make_apt_repo DIR: a signed bookworm/main mirror in DIR (served as /debian/):
# sluice-test-hello (this machine's architecture), sluice-test-dep (depends on
# hello and big), sluice-test-big (2 MiB), sluice-test-other (not depended on)
make_apt_repo() {
	local dir=$1 arch g=$WORLD_DIR/gnupg bin f h rel
	arch=$(dpkg --print-architecture)
	bin=dists/bookworm/main/binary-$arch
	build_deb "$dir" sluice-test-hello 1.0-1 "$arch" "" &&
		build_deb "$dir" sluice-test-big 1.0-1 all "" $((2 * 1024 * 1024)) &&
		build_deb "$dir" sluice-test-dep 2.0-1 all "sluice-test-hello (>= 1.0), sluice-test-big" &&
		build_deb "$dir" sluice-test-other 1.0-1 all "" || return 1
	APT_DEBS="sluice-test-big_1.0-1_all.deb sluice-test-dep_2.0-1_all.deb sluice-test-hello_1.0-1_$arch.deb"
	mkdir -p "$dir/$bin/by-hash/SHA256"
	# like Debian's: MD5 and SHA256 only, so apt asks by-hash/SHA256/
	local hashes=(-o APT::FTPArchive::SHA1=false -o APT::FTPArchive::SHA512=false)
	(cd "$dir" && apt-ftparchive "${hashes[@]}" packages pool/main >"$bin/Packages") || return 1
	gzip -9nk "$dir/$bin/Packages"
	for f in Packages Packages.gz; do
		h=$(sha256sum "$dir/$bin/$f" | cut -d' ' -f1)
		cp "$dir/$bin/$f" "$dir/$bin/by-hash/SHA256/$h"
	done
	rel=APT::FTPArchive::Release
	(cd "$dir/dists/bookworm" && apt-ftparchive "${hashes[@]}" -o $rel::Origin=Debian -o $rel::Label=Debian \
		-o $rel::Suite=stable -o $rel::Codename=bookworm -o $rel::Version=12.99 \
		-o $rel::Architectures="$arch" -o $rel::Components=main -o $rel::Acquire-By-Hash=yes \
		-o $rel::Description="sluice test world mirror" release . >../Release.new) &&
		mv "$dir/dists/Release.new" "$dir/dists/bookworm/Release" || return 1
	# a throwaway signing key; its agent is ended before returning
	mkdir -p "$g" && chmod 700 "$g"
	gpg --batch --quiet --homedir "$g" --pinentry-mode loopback --passphrase '' \
		--quick-gen-key "sluice test archive <archive@sluice.test>" ed25519 sign 1d 2>/dev/null &&
		gpg --batch --quiet --homedir "$g" --export >"$APT_KEY" &&
		gpg --batch --quiet --homedir "$g" --clearsign -o "$dir/dists/bookworm/InRelease" "$dir/dists/bookworm/Release" &&
		gpg --batch --quiet --homedir "$g" -abs -o "$dir/dists/bookworm/Release.gpg" "$dir/dists/bookworm/Release"
	local rc=$?
	gpgconf --homedir "$g" --kill all 2>/dev/null
	return $rc
}

# make_apt_config DIR: DIR/apt.conf, for APT_CONFIG= or apt-get -c: the test
# mirror as the only source (signed-by APT_KEY), state, cache, lists and
# logs under DIR; the host's /etc/apt and /var/lib/apt are never read or
# written. Downloads land in DIR/cache/archives.
make_apt_config() {
	local d=$1 arch
	arch=$(dpkg --print-architecture)
	mkdir -p "$d"/{state/lists/partial,cache/archives/partial,log,parts,prefs,sources.d,trusted.d}
	: >"$d/state/status"
	echo "deb [signed-by=$APT_KEY] http://deb.debian.org/debian bookworm main" >"$d/sources.list"
	cat >"$d/apt.conf" <<APT
Dir::State "$d/state";
Dir::State::status "$d/state/status";
Dir::Cache "$d/cache";
Dir::Log "$d/log";
Dir::Etc::main "/dev/null";
Dir::Etc::Parts "$d/parts";
Dir::Etc::SourceList "$d/sources.list";
Dir::Etc::SourceParts "$d/sources.d";
Dir::Etc::Trusted "$d/trusted.gpg";
Dir::Etc::TrustedParts "$d/trusted.d";
Dir::Etc::Preferences "$d/preferences";
Dir::Etc::PreferencesParts "$d/prefs";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Sandbox::User "root";
APT::Get::AllowUnauthenticated "false";
Acquire::Languages "none";
Acquire::Retries "0";
Acquire::http::Timeout "20";
Acquire::https::Timeout "20";
Acquire::http::Pipeline-Depth "0";
Binary::apt::APT::Keep-Downloaded-Packages "true";
APT
}

# make_pypi_index DIR: two versions of sluice-test-hello and sluice-test-dep
# (requires hello) as wheels; sets PYPI_FILE and PYPI_SHA256 (hello 1.1.0)
make_pypi_index() {
	python3 "$HERE/registry.py" pypi "$1" >"$WORLD_DIR/pypi-files" || return 1
	read -r _ PYPI_FILE PYPI_SHA256 PYPI_URL < <(grep '^sluice-test-hello .*1\.1\.0' "$WORLD_DIR/pypi-files")
}

start_registry_nginx() {
	local d=$WORLD_DIR
	in_net ip addr replace "$REGISTRY_ADDR/24" dev "vi$WORLD_ID"
	in_net ip addr replace "$REGISTRY_ADDR6/64" dev "vi$WORLD_ID" nodad
	mkdir -p "$d/nginx-registry"
	local listen="listen $REGISTRY_ADDR:80; listen [$REGISTRY_ADDR6]:80;
		listen $REGISTRY_ADDR:443 ssl; listen [$REGISTRY_ADDR6]:443 ssl;"
	cat >"$d/registry-nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $d/registry-nginx.pid;
error_log $d/registry-error.log;
events { worker_connections 1024; }
http {
	log_format reg '\$host \$request_method \$request_uri \$status \$body_bytes_sent';
	access_log $REGISTRY_LOG reg;
	client_body_temp_path $d/nginx-registry;
	proxy_temp_path $d/nginx-registry;
	fastcgi_temp_path $d/nginx-registry;
	uwsgi_temp_path $d/nginx-registry;
	scgi_temp_path $d/nginx-registry;
	types { application/json json; text/html html; }
	default_type application/octet-stream;
	ssl_certificate $d/registry.pem;
	ssl_certificate_key $d/registry.key;
	server {
		$listen
		server_name registry.npmjs.org registry.yarnpkg.com;
		root $NPM_REG;
		# /@scope%2fname arrives decoded as /@scope/name: the packument is
		# <name>/index.json beside the <name>/-/ tarballs
		location / { try_files \$uri \$uri/index.json =404; }
	}
	server {
		$listen
		server_name deb.debian.org security.debian.org;
		root $(dirname "$APT_REPO");
	}
	server {
		$listen
		server_name pypi.org;
		root $PYPI_DIR/pypi.org;
	}
	server {
		$listen
		server_name files.pythonhosted.org;
		root $PYPI_DIR/files;
	}
}
NGINX
	world_bg "$NS_NET" nginx -c "$d/registry-nginx.conf" -p "$d"
	REGISTRY_PID=$!
	wait_port "$NS_NET" "$REGISTRY_ADDR" 443 && wait_port "$NS_NET" "$REGISTRY_ADDR" 80
}

# Stop the registries' nginx (by its PID), so only a cache can answer
stop_registry_nginx() {
	[ -n "$REGISTRY_PID" ] || return 0
	kill "$REGISTRY_PID" 2>/dev/null
	wait "$REGISTRY_PID" 2>/dev/null
	REGISTRY_PID=
	! in_net bash -c "exec 3<>/dev/tcp/$REGISTRY_ADDR/443" 2>/dev/null
}

# The whole registry world: world_up, every registry's contents, nginx and
# the npm project's lockfile. NPM_PACKAGES (default 64) sets the npm set's size.
cache_world_up() {
	world_up || return 1
	make_registry_cert &&
		make_npm_registry "$NPM_REG" "${NPM_PACKAGES:-64}" &&
		make_apt_repo "$APT_REPO" &&
		make_pypi_index "$PYPI_DIR" &&
		start_registry_nginx &&
		make_npm_lockfile
}
