#!/usr/bin/env bash
# bench.sh [--quick] [--reps N] [--idle N] [--proxies "direct sluice"] [--no-dns]:
# sluice beside squid and tinyproxy (and, through dns-bench.sh, dnsmasq and
# unbound), from one run, as ratios. --proxies and --no-dns narrow a run while
# working on one path; the figures to report come from a full run.
#
# Runs inside a network namespace it creates (loopback only), so it may widen
# the port range and reuse TIME_WAIT sockets for the set-up test without
# touching the host. Targets: bench/loadgen.c's echo and sink, nginx for HTTP.
# Each figure is the median of --reps runs, proxies interleaved. CPU is the
# proxy's utime+stime from /proc around each run. bench/floor.c, a CONNECT
# proxy that does nothing but the syscalls a tunnel needs, is measured beside
# them for set-up: the yardstick of what any proxy can reach on the machine
# (twice: closing at the first EOF, and passing EOF on as sluice does).
# Needs (root): apt-get install squid tinyproxy nginx-light wrk dnsmasq-base unbound dnsperf bind9-dnsutils
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE=${SLUICE:-$HERE/../build/sluice}
REPS=3 DUR=3 IDLE=5000 QUICK= NODNS= ONLY="direct squid tinyproxy sluice"
while [ $# -gt 0 ]; do
	case $1 in
	--quick) REPS=1 DUR=2 IDLE=1000 QUICK=--quick; shift ;;
	--reps) REPS=$2; shift 2 ;;
	--idle) IDLE=$2; shift 2 ;;
	--proxies) ONLY=$2; shift 2 ;;
	--no-dns) NODNS=1; shift ;;
	--in-netns) INNS=1; shift ;;
	*) echo "usage: $0 [--quick] [--reps N] [--idle N] [--proxies LIST] [--no-dns]" >&2; exit 2 ;;
	esac
done
for t in squid tinyproxy nginx wrk cc; do
	command -v "$t" >/dev/null || { echo "missing $t (see the header of $0)" >&2; exit 2; }
done
[ -x "$SLUICE" ] || { echo "build sluice first: $SLUICE is missing" >&2; exit 2; }

if [ -z "${INNS:-}" ]; then
	LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
	NS=sluicebench$$
	ip netns add "$NS"
	trap 'ip netns del "$NS" 2>/dev/null' EXIT
	ip netns exec "$NS" ip link set lo up
	# the servers' ports are kept out of the clients' widened ephemeral range
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_reserved_ports="13128-13160,18080,18888,19001-19002"
	MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	echo "# sluice bench: $(nproc) CPUs (${MODEL:-unknown model}), kernel $(uname -r), load before start $LOAD, $(date -u +%FT%TZ)"
	# DNS first: the proxy runs leave the namespace full of TIME_WAIT sockets
	if [ -z "$NODNS" ]; then
		ip netns exec "$NS" env SLUICE="$SLUICE" "$HERE/dns-bench.sh" $QUICK --reps "$REPS" || echo "dns-bench.sh failed: $?"
		echo
	fi
	ip netns exec "$NS" env SLUICE="$SLUICE" "$0" --in-netns $QUICK --reps "$REPS" --idle "$IDLE" --proxies "$ONLY"
	exit 0
fi

RUN=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 755 "$RUN"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$RUN"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

cc -O2 -pthread -o "$RUN/loadgen" "$HERE/loadgen.c"
cc -O2 -o "$RUN/floor" "$HERE/floor.c"
LG=$RUN/loadgen
ECHO=127.0.0.1:19001 SINK=127.0.0.1:19002

mkdir -p "$RUN/www" "$RUN/nginx"
head -c 1024 /dev/zero >"$RUN/www/small"
cat >"$RUN/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $RUN/nginx.pid;
error_log $RUN/nginx/error.log;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $RUN/nginx;
	proxy_temp_path $RUN/nginx;
	fastcgi_temp_path $RUN/nginx;
	uwsgi_temp_path $RUN/nginx;
	scgi_temp_path $RUN/nginx;
	server { listen 127.0.0.1:18080; root $RUN/www; }
}
EOF
mkdir -p "$RUN/squid"
chown proxy "$RUN/squid" 2>/dev/null || true
cat >"$RUN/squid.conf" <<EOF
http_port 127.0.0.1:13128
visible_hostname bench
acl lo src 127.0.0.0/8
http_access allow lo
http_access deny all
cache deny all
cache_mem 0 MB
access_log none
cache_log /dev/null
pid_filename $RUN/squid/squid.pid
coredump_dir $RUN/squid
max_filedescriptors 65536
workers 1
pinger_enable off
shutdown_lifetime 1 seconds
EOF
cat >"$RUN/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 18888
Listen 127.0.0.1
Timeout 600
MaxClients 8000
Allow 127.0.0.1
LogLevel Critical
EOF
cat >"$RUN/sluice.yaml" <<EOF
version: 1
name: bench
allow: ["127.0.0.1:19001", "127.0.0.1:19002", "127.0.0.1:18080"]
allow_private: ["127.0.0.1/32"]
EOF
cat >"$RUN/abs.lua" <<'EOF'
-- absolute-form requests, as a client configured with a proxy sends them
wrk.path = "http://127.0.0.1:18080/small"
wrk.headers["Host"] = "127.0.0.1:18080"
EOF

start() { # name cmd...
	local name=$1
	shift
	"$@" >"$RUN/$name.out" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on $1; the servers said:" >&2
	tail -n 3 "$RUN"/*.out >&2
	exit 1
}
start targets "$LG" serve 19001 19002
start nginx nginx -c "$RUN/nginx.conf" -p "$RUN"
start squid squid -N -f "$RUN/squid.conf"
start tinyproxy tinyproxy -d -c "$RUN/tinyproxy.conf"
start sluice "$SLUICE" proxy --listen 127.0.0.1:13130 --policy "$RUN/sluice.yaml" --log "$RUN/sluice-audit.log"
start floor "$RUN/floor" 13139
start floorhc "$RUN/floor" 13140 half-close
for p in 19001 19002 18080 13128 18888 13130 13139 13140; do wait_port $p; done

read -ra PROXIES <<<"$ONLY"
declare -A ADDR=([direct]=- [squid]=127.0.0.1:13128 [tinyproxy]=127.0.0.1:18888 [sluice]=127.0.0.1:13130)
declare -A V
ticks() { # CPU ticks of a proxy (0 for direct)
	local pid
	pid=$(eval "echo \${PID_$1:-}")
	[ -n "$pid" ] && awk '{print $14 + $15}' "/proc/$pid/stat" || echo 0
}
kv() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
add() { V[$1.$2]+="$3 "; }
cpu_per() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN{ if (n > 0) printf "%.3f", (b - a) / hz / n; }'; }

for r in $(seq "$REPS"); do
	for p in "${PROXIES[@]}"; do
		for c in 1 8; do
			t0=$(ticks "$p")
			out=$("$LG" bulk "${ADDR[$p]}" "$SINK" "$c" "$DUR") || true
			t1=$(ticks "$p")
			add "$p" "bulk$c" "$(kv "$out" gbps)"
			add "$p" "bulk${c}_cpu" "$(cpu_per "$t0" "$t1" "$(awk -v b="$(kv "$out" bytes)" 'BEGIN{print b / 2^30}')")"
		done
		for c in 1 64; do
			t0=$(ticks "$p")
			out=$("$LG" setup "${ADDR[$p]}" "$ECHO" "$c" "$DUR") || true
			t1=$(ticks "$p")
			add "$p" "setup$c" "$(kv "$out" conns_per_s)"
			add "$p" "setup${c}_p50" "$(kv "$out" p50_us)"
			add "$p" "setup${c}_p99" "$(kv "$out" p99_us)"
			add "$p" "setup${c}_err" "$(kv "$out" errors)"
			add "$p" "setup${c}_cpu" "$(cpu_per "$t0" "$t1" "$(awk -v r="$(kv "$out" conns_per_s)" -v d="$DUR" 'BEGIN{print r * d / 1e6}')")"
		done
		if [ "$p" = direct ]; then
			url=http://127.0.0.1:18080/small
			lua=()
		else
			url=http://${ADDR[$p]}/
			lua=(-s "$RUN/abs.lua")
		fi
		t0=$(ticks "$p")
		out=$(wrk -t1 -c64 -d"${DUR}s" --latency "${lua[@]}" "$url")
		t1=$(ticks "$p")
		rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
		add "$p" http "$rps"
		add "$p" http_p99 "$(awk '$1=="99%"{v=$2; if (v ~ /ms$/) {sub("ms","",v); v*=1000} else if (v ~ /us$/) sub("us","",v); else if (v ~ /s$/) {sub("s","",v); v*=1e6}; print v}' <<<"$out")"
		add "$p" http_non2xx "$(awk '/Non-2xx/{print $NF}' <<<"$out" | grep . || echo 0)"
		add "$p" http_cpu "$(cpu_per "$t0" "$t1" "$(awk -v r="$rps" -v d="$DUR" 'BEGIN{print r * d / 1e6}')")"
	done
	# the yardsticks (floor.c, closing at the first EOF or passing it on): set-up only
	for f in floor:13139 floorhc:13140; do
		for c in 1 64; do
			t0=$(ticks "${f%:*}")
			out=$("$LG" setup "127.0.0.1:${f#*:}" "$ECHO" "$c" "$DUR") || true
			t1=$(ticks "${f%:*}")
			add "${f%:*}" "setup$c" "$(kv "$out" conns_per_s)"
			add "${f%:*}" "setup${c}_cpu" "$(cpu_per "$t0" "$t1" "$(awk -v r="$(kv "$out" conns_per_s)" -v d="$DUR" 'BEGIN{print r * d / 1e6}')")"
		done
	done
done
for p in "${PROXIES[@]}"; do
	[ "$p" = direct ] && continue
	out=$("$LG" idle "${ADDR[$p]}" "$ECHO" "$IDLE" "$(eval "echo \$PID_$p")") || out=""
	add "$p" idle "$(kv "$out" kib_per_tunnel)"
done

# 10,000 tunnels need more descriptors than one process may have on a machine
# whose hard RLIMIT_NOFILE is 20,000: there, sluice --workers 2 holds them.
BIG=
if [[ " ${PROXIES[*]} " == *" sluice "* ]] && [ "$IDLE" -lt 10000 ] && [ -z "$QUICK" ]; then
	start sluicew "$SLUICE" proxy --listen 127.0.0.1:13131 --policy "$RUN/sluice.yaml" --log "$RUN/sluicew-audit.log" --workers 2
	wait_port 13131
	kids=$(tr ' ' ',' <"/proc/$PID_sluicew/task/$PID_sluicew/children" | sed 's/,$//')
	out=$("$LG" idle 127.0.0.1:13131 "$ECHO" 10000 "$kids") || out=""
	BIG="$(kv "$out" tunnels) tunnels held by sluice --workers 2, $(kv "$out" kib_per_tunnel) KiB each"
	[ -n "$out" ] || BIG="sluice --workers 2 did not hold 10000 tunnels"
fi

# sluice by worker count (--workers 1, 2 and, on bigger machines, nproc):
# set-up and HTTP forward, so scaling shows where there are CPUs for it
WORKERS=
if [[ " ${PROXIES[*]} " == *" sluice "* ]] && [ -z "$QUICK" ]; then
	WORKERS="1 2"
	[ "$(nproc)" -gt 2 ] && WORKERS+=" $(nproc)"
	port=13140
	for w in $WORKERS; do
		port=$((port + 1))
		start "sluicew$w" "$SLUICE" proxy --listen 127.0.0.1:$port --policy "$RUN/sluice.yaml" --log "$RUN/sluicew$w-audit.log" --workers "$w"
		wait_port $port
		for r in $(seq "$REPS"); do
			for c in 1 64; do
				out=$("$LG" setup 127.0.0.1:$port "$ECHO" "$c" "$DUR") || true
				add "w$w" "setup$c" "$(kv "$out" conns_per_s)"
			done
			out=$(wrk -t1 -c64 -d"${DUR}s" -s "$RUN/abs.lua" "http://127.0.0.1:$port/")
			add "w$w" http "$(awk '/Requests\/sec/{print $2}' <<<"$out")"
		done
		kill "$(eval "echo \$PID_sluicew$w")" 2>/dev/null || true
	done
fi

med() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END{ if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
get() { med <<<"${V[$1.$2]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else printf "-" }'; }
row() { # label key [low: lower is better]
	local d s t x b
	d=$(get direct "$2") s=$(get squid "$2") t=$(get tinyproxy "$2") x=$(get sluice "$2")
	b=$(awk -v s="$s" -v t="$t" -v low="${3:-}" 'BEGIN{
		if (s == "-") print t; else if (t == "-") print s;
		else if (low != "") print (s + 0 < t + 0 ? s : t); else print (s + 0 > t + 0 ? s : t) }')
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$d" "$s" "$t" "$x" "$(ratio "$x" "$d")" \
		"$(ratio "$x" "$s")" "$(ratio "$x" "$b")"
}
echo "## Proxies: ${DUR}s per figure, median of $REPS, idle: $IDLE tunnels"
echo "squid $(squid -v | sed -n 's/.*Version \([^ ]*\).*/\1/p' | head -1), tinyproxy $(tinyproxy -v 2>&1 | awk '{print $2}'), sluice $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?'), sluice logs to a file"
echo
echo "| metric | direct | squid | tinyproxy | sluice | sluice/direct | sluice/squid | sluice/best peer |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row "CONNECT bulk, 1 stream (Gbit/s)" bulk1
row "CONNECT bulk, 8 streams (Gbit/s)" bulk8
row "CPU per GiB, 1 stream (s)" bulk1_cpu low
row "CPU per GiB, 8 streams (s)" bulk8_cpu low
row "tunnel set-up, sequential (conn/s)" setup1
row "  p50 (µs)" setup1_p50 low
row "  p99 (µs)" setup1_p99 low
row "tunnel set-up, 64 concurrent (conn/s)" setup64
row "  p50 (µs)" setup64_p50 low
row "  p99 (µs)" setup64_p99 low
row "  errors" setup64_err low
row "CPU per connection, 64 concurrent (µs)" setup64_cpu low
row "HTTP forward, wrk 64 conns (req/s)" http
row "  p99 (µs)" http_p99 low
row "  non-2xx answers" http_non2xx low
row "CPU per request (µs)" http_cpu low
row "idle tunnel, RSS per tunnel (KiB)" idle low
[ -z "$BIG" ] || printf '\n%s\n' "$BIG"
printf '\n## The floor: the least a CONNECT proxy does per tunnel\n'
echo "bench/floor.c: accept, one recv, connect, the 200, one send per side, close; no policy, no log, no DNS."
echo "floor closes both sides at the first EOF; floor, half-close passes an EOF on (shutdown) and closes once both sides have ended, as sluice does"
echo
echo "| metric | direct | floor | floor, half-close | sluice | floor/direct | half-close/direct | sluice/half-close |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for k in "tunnel set-up, sequential (conn/s):setup1" "tunnel set-up, 64 concurrent (conn/s):setup64" \
	"CPU per connection, 64 concurrent (µs):setup64_cpu"; do
	d=$(get direct "${k##*:}") f=$(get floor "${k##*:}") h=$(get floorhc "${k##*:}") x=$(get sluice "${k##*:}")
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${k%:*}" "$d" "$f" "$h" "$x" "$(ratio "$f" "$d")" "$(ratio "$h" "$d")" "$(ratio "$x" "$h")"
done
if [ -n "$WORKERS" ]; then
	printf '\n## sluice by worker count (median of %s, %ss each)\n\n' "$REPS" "$DUR"
	echo "| --workers | set-up, sequential (conn/s) | set-up, 64 concurrent (conn/s) | HTTP forward (req/s) |"
	echo "|---:|---:|---:|---:|"
	for w in $WORKERS; do
		printf '| %s | %s | %s | %s |\n' "$w" "$(get "w$w" setup1)" "$(get "w$w" setup64)" "$(get "w$w" http)"
	done
fi
