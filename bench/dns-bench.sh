#!/usr/bin/env bash
# dns-bench.sh [--quick] [--reps N]: the DNS stub's queries per second and CPU
# per query beside dnsmasq and unbound, in one run, on loopback only.
#
# Every server gets the same job: forward up.test to a local authoritative
# stand-in (so after the first query every answer is a cache hit: class
# "cached") and answer NXDOMAIN for x.blocked.test without forwarding (class
# "denied"). dnsperf (one client thread, 100 queries in flight) drives each
# server in turn, classes and repetitions interleaved; CPU is the server's
# utime+stime from /proc around each run. sluice writes its audit log to a
# file, as it does in use; the peers log nothing.
# Needs: apt-get install dnsmasq-base unbound dnsperf bind9-dnsutils (not part of CI).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE=${SLUICE:-$HERE/../build/sluice}
REPS=3 DUR=5
while [ $# -gt 0 ]; do
	case $1 in
	--quick) REPS=1 DUR=2; shift ;;
	--reps) REPS=$2; shift 2 ;;
	*) echo "usage: $0 [--quick] [--reps N]" >&2; exit 2 ;;
	esac
done
for t in dnsmasq unbound dnsperf dig; do
	command -v "$t" >/dev/null || { echo "missing $t: apt-get install dnsmasq-base unbound dnsperf bind9-dnsutils" >&2; exit 2; }
done
[ -x "$SLUICE" ] || { echo "build sluice first: $SLUICE is missing" >&2; exit 2; }

UP=15313 PORT_DNSMASQ=15311 PORT_UNBOUND=15312 PORT_SLUICE=15314
RUN=$(mktemp -d /tmp/sluice-dns-bench.XXXXXX)
chmod 755 "$RUN"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$RUN"
}
trap cleanup EXIT

cat >"$RUN/upstream.conf" <<EOF
port=$UP
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
address=/up.test/198.51.100.9
local-ttl=3600
EOF
cat >"$RUN/dnsmasq.conf" <<EOF
port=$PORT_DNSMASQ
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
server=127.0.0.1#9
server=/up.test/127.0.0.1#$UP
address=/blocked.test/
cache-size=10000
EOF
cat >"$RUN/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$PORT_UNBOUND
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$RUN"
    pidfile: "$RUN/unbound.pid"
    use-syslog: no
    verbosity: 0
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    do-not-query-localhost: no
    local-zone: "test." nodefault
    local-zone: "blocked.test." always_nxdomain
forward-zone:
    name: "up.test."
    forward-addr: 127.0.0.1@$UP
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@9
remote-control:
    control-enable: no
EOF
cat >"$RUN/policy.yaml" <<EOF
version: 1
name: dns-bench
allow: [up.test]
allow_private: ["198.51.100.9"]
EOF

start() { # name cmd...
	local name=$1
	shift
	"$@" >"$RUN/$name.out" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
start upstream dnsmasq -k -C "$RUN/upstream.conf" --user=root
start dnsmasq dnsmasq -k -C "$RUN/dnsmasq.conf" --user=root
start unbound unbound -d -c "$RUN/unbound.conf"
start sluice "$SLUICE" dns --listen 127.0.0.1:$PORT_SLUICE --policy "$RUN/policy.yaml" \
	--upstream 127.0.0.1:$UP --log "$RUN/sluice-audit.log" --ttl-ceiling 86400
# wait until each server answers (up to 10 s)
for port in $UP $PORT_DNSMASQ $PORT_UNBOUND $PORT_SLUICE; do
	for _ in $(seq 50); do
		dig +tries=1 +time=1 -p "$port" @127.0.0.1 up.test A >/dev/null 2>&1 && break
		sleep 0.2
	done
done

SERVERS=(dnsmasq unbound sluice)
declare -A PORT=([dnsmasq]=$PORT_DNSMASQ [unbound]=$PORT_UNBOUND [sluice]=$PORT_SLUICE)
declare -A QNAME=([cached]=up.test [denied]=x.blocked.test)
declare -A WANT=([cached]="NOERROR 198.51.100.9" [denied]="NXDOMAIN")
CLASSES=(cached denied)

# correctness first (and it primes the caches)
for s in "${SERVERS[@]}"; do
	for c in "${CLASSES[@]}"; do
		got=$( (dig +tries=2 +time=2 -p "${PORT[$s]}" @127.0.0.1 "${QNAME[$c]}" A || true) |
			awk '/status:/{v=$6; sub(",", "", v)} /^[^;].*IN[ \t]+A[ \t]/{a=$NF} END{print v, a}' | sed 's/ $//')
		[ "$got" = "${WANT[$c]}" ] || { echo "$s answered '$got' for ${QNAME[$c]}, want '${WANT[$c]}'" >&2; exit 1; }
	done
	echo "${QNAME[cached]} A" >"$RUN/q-cached.txt"
	echo "${QNAME[denied]} A" >"$RUN/q-denied.txt"
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pid_of() { eval "echo \$PID_$1"; }
declare -A QPS CPU
for r in $(seq "$REPS"); do
	for c in "${CLASSES[@]}"; do
		for s in "${SERVERS[@]}"; do
			pid=$(pid_of "$s")
			t0=$(cpu_ticks "$pid")
			out=$(dnsperf -s 127.0.0.1 -p "${PORT[$s]}" -d "$RUN/q-$c.txt" -l "$DUR" -c 1 -T 1 -q 100 2>&1)
			t1=$(cpu_ticks "$pid")
			n=$(awk '/Queries completed:/{print $3}' <<<"$out")
			qps=$(awk '/Queries per second:/{printf "%.0f", $4}' <<<"$out")
			us=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b - a) / hz * 1e6 / n}')
			QPS[$s.$c]+="$qps "
			CPU[$s.$c]+="$us "
		done
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR + 1) / 2)]}'; }
echo "## DNS stub: dnsperf -c 1 -T 1 -q 100, ${DUR}s x $REPS (median), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "dnsmasq $(dnsmasq -v | sed -n '1s/Dnsmasq version \([^ ]*\).*/\1/p'), unbound $(unbound -V | sed -n '1s/Version //p'), sluice $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
echo "| class | server | queries/s | CPU µs/query | qps vs unbound | CPU vs unbound |"
echo "|---|---|---:|---:|---:|---:|"
for c in "${CLASSES[@]}"; do
	uq=$(median <<<"${QPS[unbound.$c]}")
	uc=$(median <<<"${CPU[unbound.$c]}")
	for s in "${SERVERS[@]}"; do
		q=$(median <<<"${QPS[$s.$c]}")
		u=$(median <<<"${CPU[$s.$c]}")
		awk -v c="$c" -v s="$s" -v q="$q" -v u="$u" -v uq="$uq" -v uc="$uc" \
			'BEGIN{printf "| %s (%s) | %s | %d | %.2f | %.2f | %.2f |\n", c, (c == "cached" ? "up.test" : "x.blocked.test"), s, q, u, q / uq, (uc > 0 ? u / uc : 0)}'
	done
done
echo
echo "sluice audit records written: $(wc -l <"$RUN/sluice-audit.log")"
