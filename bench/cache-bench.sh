#!/usr/bin/env bash
# cache-bench.sh [--quick] [--runs N] [--blob-mib N] [--shaped RATE] [--only "npm apt blob"]:
# sluice's package cache beside the caches people run instead (verdaccio,
# squid with ssl-bump, apt-cacher-ng) and beside the registry itself, from
# one run, as ratios. --only narrows a run while working on one path; the
# figures to report come from a full run.
#
# The registries are the integration tests' world (tests/integration/world.sh
# and cache_world.sh): a "host" network namespace (sluice, the anchors, the
# clients) joined by a veth pair to an "internet" namespace where nginx serves
# registry.npmjs.org, deb.debian.org (a signed bookworm mirror) over HTTP and
# TLS with a test CA, and dnsmasq answers those names with 198.51.100.20.
# Everything is made locally; nothing leaves the two namespaces, which are
# removed at exit with every process started here.
#
#   npm   `npm ci` of the fixture project's lockfile (76 packages pinned at
#         https://registry.npmjs.org/), a fresh node_modules and a fresh npm
#         cache each run: direct (nginx), sluice proxy --cache (HTTPS_PROXY,
#         trusting sluice's CA), verdaccio (registry=verdaccio, uplink nginx;
#         npm's replace-registry-host rewrites the lockfile's resolved URLs),
#         squid ssl-bump + cache_dir. Every cache is warmed by one run first.
#   apt   `apt-get update` then `apt-get install --download-only sluice-test-dep`
#         (3 .debs), a fresh apt state and archives dir each run: direct,
#         sluice (Acquire::http::Proxy), apt-cacher-ng, squid; warmed.
#   blob  a 256 MiB incompressible file under an immutable npm tarball path,
#         over TLS: warm hits through sluice vs nginx serving it directly
#         (MB/s with curl -o /dev/null; CPU per GiB of sluice vs nginx, from
#         /proc/PID/stat); cold misses (a name never fetched, so an empty
#         entry) through sluice vs direct: the time ratio, on loopback (CPU-
#         bound: nginx, sluice and curl share the machine's cores) and again
#         over a link shaped to --shaped RATE (tc tbf, default 800mbit, on the
#         origins' side of the veth), as a build server's misses come.
# Each figure is the median of --runs runs (5; --quick: 2), variants
# interleaved. Targets (reported, not asserted): warm blob >= 0.9 x nginx's
# throughput; warm npm ci and apt within 1.1 x direct and ahead of every
# anchor; cold miss overhead <= 10 %.
#
# Needs (root): apt-get install squid-openssl apt-cacher-ng nginx-light dnsmasq-base
#   nodejs npm jq curl apt-utils gpg openssl; npm ci --prefix bench/verdaccio
# (apt-cacher-ng's package starts a service on 3142 where systemd runs: stop it;
# this script runs its own instance inside the namespace).
set -u -o pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
SLUICE=$(realpath "${SLUICE:-$BENCH/../build/sluice}")
RUNS=5 BLOB_MIB=256 ONLY="npm apt blob" SHAPED=800mbit
while [ $# -gt 0 ]; do
	case $1 in
	--quick) RUNS=2; shift ;;
	--runs) RUNS=$2; shift 2 ;;
	--blob-mib) BLOB_MIB=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--shaped) SHAPED=$2; shift 2 ;;
	*) echo "usage: $0 [--quick] [--runs N] [--blob-mib N] [--shaped RATE] [--only \"npm apt blob\"]" >&2; exit 2 ;;
	esac
done
VERDACCIO=$BENCH/verdaccio/node_modules/.bin/verdaccio
for t in squid apt-cacher-ng nginx dnsmasq npm node jq curl apt-ftparchive gpg openssl; do
	command -v "$t" >/dev/null || { echo "missing $t (see the header of $0)" >&2; exit 2; }
done
[ -x /usr/lib/squid/security_file_certgen ] || { echo "squid has no ssl-bump: install squid-openssl" >&2; exit 2; }
[ -x "$VERDACCIO" ] || { echo "missing verdaccio: (cd $BENCH/verdaccio && npm ci)" >&2; exit 2; }
[ -x "$SLUICE" ] || { echo "build sluice first: $SLUICE is missing" >&2; exit 2; }
[ -f "$BENCH/../tests/integration/cache_world.sh" ] || { echo "missing tests/integration/cache_world.sh" >&2; exit 2; }
has() { [[ " $ONLY " == *" $1 "* ]]; }

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# sluice cache bench: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), kernel $(uname -r), load before start $LOAD, $(date -u +%FT%TZ)"

source "$BENCH/../tests/integration/world.sh"
source "$BENCH/../tests/integration/cache_world.sh"
T_SETUP=$(date +%s)
cache_world_up >"$WORLD_DIR/world-up.log" 2>&1 || { cat "$WORLD_DIR/world-up.log" >&2; echo "could not build the registry world" >&2; exit 1; }
# squid drops to the proxy user: its files live in a directory it can read
RUN=$(mktemp -d /var/lib/sluice-cachebench.XXXXXX)
chmod 755 "$RUN"
# CACHE_BENCH_LOGS=DIR keeps the peers' logs there
trap '[ -n "${CACHE_BENCH_LOGS:-}" ] && mkdir -p "$CACHE_BENCH_LOGS" && cp -r "$RUN"/*.log "$RUN"/*.err "$RUN"/*.out "$RUN/squid/access.log" "$RUN/squid/cache.log" "$RUN/acng/log" "$D/registry-access.log" "$CACHE_BENCH_LOGS/" 2>/dev/null
	world_down; rm -rf "$RUN"' EXIT
trap 'exit 130' INT TERM
D=$WORLD_DIR
CLIENT_TIMEOUT=300

# a daemon in the host namespace resolving through the world's dnsmasq, as
# in_client but without a time limit; world_down ends it by its PID (unshare
# and sh exec it)
bg_resolv() { # name cmd...
	local name=$1
	shift
	world_bg "$NS_HOST" unshare --mount --propagation private -- \
		sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$D/resolv.conf" "$@" >"$RUN/$name.out" 2>&1
	eval "PID_$name=$!"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
declare -A V
add() { V[$1]+="$2 "; }
med() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END{ if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
get() { med <<<"${V[$1]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else printf "-" }'; }
# (clients run in command substitutions: their failures go through a file)
fail() { echo "# $*" >&2; echo "$*" >>"$RUN/failures"; }

# ---- sluice ------------------------------------------------------------------
cat >"$D/bench.yaml" <<'YAML'
version: 1
name: cachebench
presets: [npm, debian]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
"$SLUICE" ca init --ca "$D/sluice-ca" 2>/dev/null
"$SLUICE" ca show --ca "$D/sluice-ca" >"$D/sluice-ca.pem"
start_sluice() { # name port store
	world_bg "$NS_HOST" "$SLUICE" proxy --listen "127.0.0.1:$2" --policy "$D/bench.yaml" --resolver 198.51.100.53 \
		--cache "$3" --upstream-ca "$D/ca.pem" --ca "$D/sluice-ca" --log "$RUN/$1.log" 2>"$RUN/$1.err"
	eval "PID_$1=$!"
	wait_port "$NS_HOST" 127.0.0.1 "$2"
}
start_sluice sluice 3128 "$RUN/store"

# ---- squid: ssl-bump with its own CA, a disk cache, caching tarballs and debs --
mkdir -p "$RUN/squid/cache"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=squid bench CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout "$RUN/squid/ca.key" -out "$RUN/squid/ca.pem" 2>/dev/null
cp "$D/ca.pem" "$RUN/squid/upstream-ca.pem"
/usr/lib/squid/security_file_certgen -c -s "$RUN/squid/ssl_db" -M 16MB >/dev/null
chown -R proxy:proxy "$RUN/squid"
cat >"$RUN/squid/squid.conf" <<EOF
http_port 127.0.0.1:3129 ssl-bump tls-cert=$RUN/squid/ca.pem tls-key=$RUN/squid/ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
sslcrtd_program /usr/lib/squid/security_file_certgen -s $RUN/squid/ssl_db -M 16MB
sslcrtd_children 4 startup=2 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$RUN/squid/upstream-ca.pem
visible_hostname bench
acl lo src 127.0.0.0/8
http_access allow lo
http_access deny all
dns_nameservers 198.51.100.53
cache_effective_user proxy
cache_dir ufs $RUN/squid/cache 4096 16 256
cache_mem 256 MB
maximum_object_size 1 GB
maximum_object_size_in_memory 8 MB
refresh_pattern -i \.tgz$ 10080 100% 43200 override-lastmod
refresh_pattern -i \.deb$ 129600 100% 129600 override-lastmod
refresh_pattern -i /by-hash/ 129600 100% 129600 override-lastmod
refresh_pattern /(InRelease|Release|Release\.gpg)$ 0 0% 0 refresh-ims
refresh_pattern . 0 20% 4320
access_log stdio:$RUN/squid/access.log
cache_log $RUN/squid/cache.log
pid_filename $RUN/squid/squid.pid
coredump_dir $RUN/squid
pinger_enable off
shutdown_lifetime 1 seconds
workers 1
EOF
in_host squid -z -N -f "$RUN/squid/squid.conf" >"$RUN/squid-z.out" 2>&1
world_bg "$NS_HOST" squid -N -f "$RUN/squid/squid.conf" >"$RUN/squid.out" 2>&1
PID_squid=$!

# ---- apt-cacher-ng: its own config, cache and logs, no remapping -------------
mkdir -p "$RUN/acng/conf" "$RUN/acng/cache" "$RUN/acng/log"
cat >"$RUN/acng/conf/acng.conf" <<EOF
CacheDir: $RUN/acng/cache
LogDir: $RUN/acng/log
SupportDir: /usr/lib/apt-cacher-ng
Port: 3142
BindAddress: 127.0.0.1
ForeGround: 1
PidFile: $RUN/acng/pid
SocketPath: $RUN/acng/socket
ExThreshold: 4
VerboseLog: 0
EOF
bg_resolv acng apt-cacher-ng -c "$RUN/acng/conf"

# ---- verdaccio: uplink to the world's registry.npmjs.org -----------------------
mkdir -p "$RUN/verdaccio/storage"
cat >"$RUN/verdaccio/config.yaml" <<EOF
storage: $RUN/verdaccio/storage
uplinks:
  npmjs:
    url: https://registry.npmjs.org/
    timeout: 30s
    max_fails: 100
packages:
  '@*/*':
    access: \$all
    proxy: npmjs
  '**':
    access: \$all
    proxy: npmjs
listen: 127.0.0.1:4873
log: { type: stdout, format: pretty, level: warn }
EOF
[ -f "$D/resolv.conf" ] || echo "nameserver 198.51.100.53" >"$D/resolv.conf"
bg_resolv verdaccio env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy NODE_EXTRA_CA_CERTS="$D/ca.pem" \
	"$VERDACCIO" --config "$RUN/verdaccio/config.yaml"

# (verdaccio takes seconds to start on a loaded machine)
for x in squid:3129 acng:3142 verdaccio:4873; do
	for i in $(seq 600); do
		in_host bash -c "exec 3<>/dev/tcp/127.0.0.1/${x#*:}" 2>/dev/null && break
		[ "$i" = 600 ] && { echo "${x%:*} did not start:" >&2; tail -n 5 "$RUN/${x%:*}.out" "$RUN/squid/cache.log" >&2; exit 1; }
		sleep 0.1
	done
done
echo "# setup (world, registries, lockfile, peers): $(($(date +%s) - T_SETUP)) s"

# ---- clients --------------------------------------------------------------------
proxy_env() { echo "HTTPS_PROXY=http://127.0.0.1:$1 HTTP_PROXY=http://127.0.0.1:$1 https_proxy=http://127.0.0.1:$1 http_proxy=http://127.0.0.1:$1 NO_PROXY= no_proxy="; }
NOPROXY=(-u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy -u NO_PROXY -u no_proxy)
# npm_run VARIANT: one npm ci of the project, fresh node_modules and npm cache;
# prints the seconds it took, or nothing when it failed
npm_run() {
	local v=$1 dir extra=() t0 t1 out
	mkdir -p "$RUN/npm"
	dir=$(mktemp -d "$RUN/npm/$v.XXXXXX")
	npm_project "$dir/p"
	case $v in
	direct) npm_env "$D/ca.pem" "$dir" ;;
	sluice) npm_env "$D/sluice-ca.pem" "$dir"; read -ra extra <<<"$(proxy_env 3128)" ;;
	squid) npm_env "$RUN/squid/ca.pem" "$dir"; read -ra extra <<<"$(proxy_env 3129)" ;;
	verdaccio) npm_env "" "$dir"; extra=(npm_config_registry=http://127.0.0.1:4873/) ;;
	esac
	t0=$(now)
	out=$(cd "$dir/p" && in_client env "${NOPROXY[@]}" "${NPM_ENV[@]}" "${extra[@]}" npm ci 2>&1)
	local rc=$?
	t1=$(now)
	if [ $rc -ne 0 ] || [ "$(npm_installed "$dir/p")" != "$(cat "$NPM_LOCK_TARBALLS")" ]; then
		fail "npm ci through $v failed (rc $rc): $(tail -3 <<<"$out" | tr '\n' ' ')"
		return
	fi
	rm -rf "$dir"
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}'
}
# apt_run VARIANT: apt-get update, then install --download-only, fresh state;
# prints "<update s> <install s>", or nothing when it failed
apt_run() {
	local v=$1 dir p=() t0 t1 t2 out
	mkdir -p "$RUN/apt"
	dir=$(mktemp -d "$RUN/apt/$v.XXXXXX")
	make_apt_config "$dir"
	case $v in
	sluice) p=(-o Acquire::http::Proxy=http://127.0.0.1:3128) ;;
	acng) p=(-o Acquire::http::Proxy=http://127.0.0.1:3142) ;;
	squid) p=(-o Acquire::http::Proxy=http://127.0.0.1:3129) ;;
	esac
	t0=$(now)
	out=$(in_client env "${NOPROXY[@]}" apt-get -c "$dir/apt.conf" "${p[@]}" -q update 2>&1)
	local rc=$?
	t1=$(now)
	[ $rc -eq 0 ] && out+=$(in_client env "${NOPROXY[@]}" apt-get -c "$dir/apt.conf" "${p[@]}" -q install --download-only -y sluice-test-dep 2>&1)
	rc=$?
	t2=$(now)
	if [ $rc -ne 0 ] || grep -q '^[WE]:' <<<"$out" || [ "$(cd "$dir/cache/archives" && ls ./*.deb 2>/dev/null | wc -l)" -ne 3 ]; then
		fail "apt-get through $v failed (rc $rc): $(grep '^[WE]:' <<<"$out" | head -2 | tr '\n' ' ')"
		return
	fi
	rm -rf "$dir"
	awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN{printf "%.3f %.3f", b - a, c - b}'
}
# blob_run VARIANT URLPATH PID: curl of https://registry.npmjs.org/URLPATH;
# prints "<seconds> <bytes> <ticks of PID>"
blob_run() {
	local v=$1 path=$2 pid=$3 x=() k0 k1 out
	case $v in
	direct) x=(--cacert "$D/ca.pem") ;;
	sluice*) x=(--cacert "$D/sluice-ca.pem" -x "http://127.0.0.1:${4:-3128}") ;;
	esac
	k0=$(ticks "$pid")
	out=$(in_client env "${NOPROXY[@]}" curl -sS --max-time 120 "${x[@]}" -o /dev/null \
		-w '%{http_code} %{time_total} %{size_download}' "https://registry.npmjs.org/$path" 2>&1)
	k1=$(ticks "$pid")
	read -r code secs bytes <<<"$out"
	if [ "$code" != 200 ] || [ "$bytes" != $((BLOB_MIB << 20)) ]; then
		fail "blob through $v: $out"
		return
	fi
	echo "$secs $bytes $((k1 - k0))"
}
HZ=$(getconf CLK_TCK)
# squid's answers to the URLs matching $1: "TCP_MEM_HIT 152, TCP_MISS 76"
squid_log() { awk -v re="$1" '$7 ~ re {sub("/.*", "", $4); print $4}' "$RUN/squid/access.log" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}'; }

# ---- npm --------------------------------------------------------------------------
NPMV=(direct sluice verdaccio squid)
if has npm; then
	for v in "${NPMV[@]}"; do # warm every cache (and the page cache for direct)
		t=$(npm_run "$v")
		add "npm_cold.$v" "$t"
	done
	for r in $(seq "$RUNS"); do
		for v in "${NPMV[@]}"; do
			add "npm.$v" "$(npm_run "$v")"
		done
	done
	SQUID_NPM=$(squid_log '\.tgz$')
	SLUICE_NPM=$(jq -r 'select(.event=="http" and .phase=="decision" and .host=="registry.npmjs.org") | .cache' "$RUN/sluice.log" | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}')
fi

# ---- apt --------------------------------------------------------------------------
APTV=(direct sluice acng squid)
if has apt; then
	for v in "${APTV[@]}"; do
		read -r u i <<<"$(apt_run "$v")"
	done
	for r in $(seq "$RUNS"); do
		for v in "${APTV[@]}"; do
			read -r u i <<<"$(apt_run "$v")"
			add "aptu.$v" "${u:-}"
			add "apti.$v" "${i:-}"
			[ -n "${u:-}" ] && add "apt.$v" "$(awk -v a="$u" -v b="$i" 'BEGIN{printf "%.3f", a + b}')"
		done
	done
	SLUICE_APT=$(jq -r 'select(.event=="http" and .phase=="decision" and .host=="deb.debian.org") | .cache' "$RUN/sluice.log" | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}')
	SQUID_APT=$(squid_log '^http://deb\.debian\.org/')
fi

# ---- the blob -----------------------------------------------------------------------
if has blob; then
	BD=$NPM_REG/sluice-bench-blob/-
	mkdir -p "$BD"
	head -c $((BLOB_MIB << 20)) /dev/urandom >"$BD/sluice-bench-blob-1.0.0.tgz"
	# the cold runs ask for names never asked before, each with bytes of its
	# own (the store keeps bodies by hash: equal bytes would be one blob)
	for r in $(seq $((2 * RUNS))); do
		cp "$BD/sluice-bench-blob-1.0.0.tgz" "$BD/sluice-bench-blob-1.0.$r.tgz"
		printf 'cold run %08d' "$r" | dd of="$BD/sluice-bench-blob-1.0.$r.tgz" conv=notrunc status=none
	done
	WARM=sluice-bench-blob/-/sluice-bench-blob-1.0.0.tgz
	blob_run direct "$WARM" "$REGISTRY_PID" >/dev/null # page cache
	blob_run sluice "$WARM" "$PID_sluice" >/dev/null   # the store
	[ "$(jq -r 'select(.event=="http" and .phase=="decision") | .package' "$RUN/sluice.log" | grep -c 'sluice-bench-blob@1.0.0')" -ge 1 ] ||
		fail "the blob's request has no record"
	declare -A BT BB BK
	# BENCH_PERF=FILE: a profile of sluice over the cold runs (perf record);
	# BENCH_PERF_PHASE=warm profiles the warm hits instead
	PERF_PID=
	perf_start() {
		[ -n "${BENCH_PERF:-}" ] && [ "${BENCH_PERF_PHASE:-cold}" = "$1" ] || return 0
		perf record -e cpu-clock --call-graph dwarf,16384 -p "$PID_sluice" -o "$BENCH_PERF" 2>/dev/null &
		PERF_PID=$!
		sleep 0.5
	}
	perf_stop() {
		[ -n "$PERF_PID" ] || return 0
		kill -INT "$PERF_PID" && wait "$PERF_PID" 2>/dev/null
		PERF_PID=
	}
	perf_start warm
	for r in $(seq "$RUNS"); do
		for v in direct sluice; do
			[ $v = direct ] && pid=$REGISTRY_PID || pid=$PID_sluice
			read -r s b k <<<"$(blob_run $v "$WARM" "$pid")"
			[ -n "${s:-}" ] || continue
			add "blob.$v" "$(awk -v s="$s" -v b="$b" 'BEGIN{printf "%.1f", b / s / 1e6}')"
			BT[$v]=$(awk -v a="${BT[$v]:-0}" -v s="$s" 'BEGIN{print a + s}')
			BB[$v]=$((${BB[$v]:-0} + b)) BK[$v]=$((${BK[$v]:-0} + k))
		done
	done
	HITS=$(jq -r 'select(.event=="http" and .phase=="decision") | "\(.package) \(.cache)"' "$RUN/sluice.log" | grep -c 'sluice-bench-blob@1.0.0 hit')
	cpu_gib() { awk -v k="${BK[$1]:-0}" -v b="${BB[$1]:-0}" -v hz="$HZ" 'BEGIN{ if (b > 0) printf "%.3f", k / hz / (b / 2^30); else printf "-" }'; }
	CPU_DIRECT=$(cpu_gib direct) CPU_SLUICE=$(cpu_gib sluice)
	# cold: direct, then sluice on a name it has never seen (each its own)
	NGINX_COLD_TICKS=0 SLUICE_COLD_TICKS=0 COLD_BYTES=0
	perf_stop
	perf_start cold
	for r in $(seq "$RUNS"); do
		read -r s b k <<<"$(blob_run direct "sluice-bench-blob/-/sluice-bench-blob-1.0.$r.tgz" "$REGISTRY_PID")"
		add "cold.direct" "${s:-}"
		k0=$(ticks "$REGISTRY_PID")
		read -r s b k <<<"$(blob_run sluice "sluice-bench-blob/-/sluice-bench-blob-1.0.$r.tgz" "$PID_sluice")"
		k1=$(ticks "$REGISTRY_PID")
		add "cold.sluice" "${s:-}"
		SLUICE_COLD_TICKS=$((SLUICE_COLD_TICKS + ${k:-0})) COLD_BYTES=$((COLD_BYTES + ${b:-0}))
		NGINX_COLD_TICKS=$((NGINX_COLD_TICKS + k1 - k0))
	done
	perf_stop
	# the same over a link as fast as a good registry's (tbf at $SHAPED on the
	# origins' side of the veth): what a build server's miss costs when the
	# network, not loopback memory bandwidth, sets the pace
	in_net tc qdisc add dev "vi$WORLD_ID" root tbf rate "$SHAPED" burst 1mb latency 100ms
	for r in $(seq $((RUNS + 1)) $((2 * RUNS))); do
		read -r s b k <<<"$(blob_run direct "sluice-bench-blob/-/sluice-bench-blob-1.0.$r.tgz" "$REGISTRY_PID")"
		add "shaped.direct" "${s:-}"
		read -r s b k <<<"$(blob_run sluice "sluice-bench-blob/-/sluice-bench-blob-1.0.$r.tgz" "$PID_sluice")"
		add "shaped.sluice" "${s:-}"
	done
	in_net tc qdisc del dev "vi$WORLD_ID" root
	MISSES=$(jq -r 'select(.event=="http" and .phase=="decision") | "\(.package) \(.cache)"' "$RUN/sluice.log" | grep -c 'sluice-bench-blob@1.0.[1-9][0-9]* miss')
	MISSES=$((MISSES / 2)) # the loopback ones and the shaped ones
	CPU_COLD=$(awk -v k="$SLUICE_COLD_TICKS" -v b="$COLD_BYTES" -v hz="$HZ" 'BEGIN{ if (b > 0) printf "%.3f", k / hz / (b / 2^30); else printf "-" }')
fi

# ---- report ---------------------------------------------------------------------------
met() { # value op bound
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN{ if (a == "-" || a == "") { print "no figure"; exit }
		ok = (op == "<=") ? a <= b : a >= b; print ok ? "met" : "NOT met" }'
}
SV=$(git -C "$BENCH/.." rev-parse --short HEAD 2>/dev/null || echo '?')
echo
echo "## Package cache: median of $RUNS runs, variants interleaved, every cache warmed first"
echo "sluice $SV (proxy --cache, audit log to a file), squid $(squid -v | sed -n 's/.*Version \([^ ]*\).*/\1/p' | head -1) (ssl-bump, ufs cache_dir), verdaccio $("$VERDACCIO" --version 2>/dev/null), apt-cacher-ng $(dpkg-query -W -f '${Version}' apt-cacher-ng 2>/dev/null), nginx $(nginx -v 2>&1 | sed 's/.*\///'), npm $(npm --version), node $(node --version); clients in one namespace, registries across a veth"
echo
if has npm; then
	d=$(get npm.direct)
	echo "| npm ci, $NPM_LOCK_COUNT packages (s) | direct | sluice | verdaccio | squid | sluice/direct |"
	echo "|---|---:|---:|---:|---:|---:|"
	printf '| warm | %s | %s | %s | %s | %s |\n' "$d" "$(get npm.sluice)" "$(get npm.verdaccio)" "$(get npm.squid)" "$(ratio "$(get npm.sluice)" "$d")"
	printf '| x direct | 1.00 | %s | %s | %s | |\n' "$(ratio "$(get npm.sluice)" "$d")" "$(ratio "$(get npm.verdaccio)" "$d")" "$(ratio "$(get npm.squid)" "$d")"
	printf '| first run (cold cache, 1 sample) | %s | %s | %s | %s | %s |\n' "$(get npm_cold.direct)" "$(get npm_cold.sluice)" "$(get npm_cold.verdaccio)" "$(get npm_cold.squid)" "$(ratio "$(get npm_cold.sluice)" "$(get npm_cold.direct)")"
	echo "sluice's registry.npmjs.org requests: ${SLUICE_NPM%, }; squid's .tgz requests: $SQUID_NPM"
	echo
fi
if has apt; then
	d=$(get apt.direct)
	echo "| apt-get, 3 .debs (s) | direct | sluice | apt-cacher-ng | squid | sluice/direct |"
	echo "|---|---:|---:|---:|---:|---:|"
	printf '| update | %s | %s | %s | %s | %s |\n' "$(get aptu.direct)" "$(get aptu.sluice)" "$(get aptu.acng)" "$(get aptu.squid)" "$(ratio "$(get aptu.sluice)" "$(get aptu.direct)")"
	printf '| install --download-only | %s | %s | %s | %s | %s |\n' "$(get apti.direct)" "$(get apti.sluice)" "$(get apti.acng)" "$(get apti.squid)" "$(ratio "$(get apti.sluice)" "$(get apti.direct)")"
	printf '| both, warm | %s | %s | %s | %s | %s |\n' "$d" "$(get apt.sluice)" "$(get apt.acng)" "$(get apt.squid)" "$(ratio "$(get apt.sluice)" "$d")"
	printf '| x direct | 1.00 | %s | %s | %s | |\n' "$(ratio "$(get apt.sluice)" "$d")" "$(ratio "$(get apt.acng)" "$d")" "$(ratio "$(get apt.squid)" "$d")"
	echo "sluice's deb.debian.org requests: ${SLUICE_APT%, }; squid: $SQUID_APT"
	echo
fi
if has blob; then
	echo "| $BLOB_MIB MiB blob over TLS | nginx direct | sluice | sluice/nginx |"
	echo "|---|---:|---:|---:|"
	printf '| warm hit (MB/s) | %s | %s | %s |\n' "$(get blob.direct)" "$(get blob.sluice)" "$(ratio "$(get blob.sluice)" "$(get blob.direct)")"
	printf '| CPU per GiB served (s) | %s | %s | %s |\n' "$CPU_DIRECT" "$CPU_SLUICE" "$(ratio "$CPU_SLUICE" "$CPU_DIRECT")"
	printf '| cold miss, empty entry (s) | %s | %s | %s |\n' "$(get cold.direct)" "$(get cold.sluice)" "$(ratio "$(get cold.sluice)" "$(get cold.direct)")"
	printf '| cold miss over a %s link (s) | %s | %s | %s |\n' "$SHAPED" "$(get shaped.direct)" "$(get shaped.sluice)" "$(ratio "$(get shaped.sluice)" "$(get shaped.direct)")"
	printf '| cold miss, CPU per GiB (s) | %s | %s (+ nginx %s) | |\n' "$CPU_DIRECT" "$CPU_COLD" \
		"$(awk -v k="$NGINX_COLD_TICKS" -v b="$COLD_BYTES" -v hz="$HZ" 'BEGIN{ if (b > 0) printf "%.3f", k / hz / (b / 2^30) }')"
	echo "sluice's blob requests: $HITS warm hits, $MISSES cold misses (of $RUNS each); CPU is utime+stime from /proc/PID/stat; sluice's peak RSS over the whole run: $(awk '/VmHWM/{printf "%.0f MiB", $2 / 1024}' "/proc/$PID_sluice/status")"
	echo
fi
echo "## Targets (reported, not asserted)"
if has blob; then
	x=$(ratio "$(get blob.sluice)" "$(get blob.direct)")
	echo "- warm hit >= 0.9 x nginx's own throughput: $x -> $(met "$x" '>=' 0.9)"
	x=$(ratio "$(get cold.sluice)" "$(get cold.direct)")
	echo "- cold miss overhead <= 10 %, loopback (CPU-bound): $x x direct -> $(met "$x" '<=' 1.10)"
	x=$(ratio "$(get shaped.sluice)" "$(get shaped.direct)")
	echo "- cold miss overhead <= 10 %, over a $SHAPED link: $x x direct -> $(met "$x" '<=' 1.10)"
fi
if has npm; then
	x=$(ratio "$(get npm.sluice)" "$(get npm.direct)")
	best=$(for v in verdaccio squid; do get "npm.$v"; done | sort -g | head -1)
	echo "- warm npm ci within 1.1 x direct: $x -> $(met "$x" '<=' 1.10); ahead of every anchor (fastest $best s): $(met "$(get npm.sluice)" '<=' "$best")"
fi
if has apt; then
	x=$(ratio "$(get apt.sluice)" "$(get apt.direct)")
	best=$(for v in acng squid; do get "apt.$v"; done | sort -g | head -1)
	echo "- warm apt within 1.1 x direct: $x -> $(met "$x" '<=' 1.10); ahead of every anchor (fastest $best s): $(met "$(get apt.sluice)" '<=' "$best")"
fi
if [ -s "$RUN/failures" ]; then
	echo
	echo "## Failures (their runs are left out of the medians)"
	sed 's/^/- /' "$RUN/failures"
fi
echo
echo "# done in $(($(date +%s) - T_SETUP)) s"
