#!/usr/bin/env bash
# cache_stall_test.sh SLUICE: the package cache and clients that stall, and
# the store's usage lock held by another process, against fault_origin.py:
#   1. N clients (STALL_N, default 100) that each ask for a stored 64 MiB
#      tarball over TLS and never read: sluice's RSS grows by little per
#      client (printed, and bounded: STALL_RSS_MAX KiB, default 1024: 2.2 MiB
#      before 128 KiB queues, about 360 KiB after, 500 under ASan); each
#      is cut, reason limit, once it has taken no byte for 30 s, with one
#      stderr line and its close records; a slow but live client of a
#      12 MiB one (about 40 s) is not cut
#   2. while another process holds the flock on DIR/usage and a commit
#      waits for it, a hit on another connection is answered at once;
#      once the lock is let go the commit stores its entry
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"
source "$HERE/fault_world.sh"
N=${STALL_N:-100}
RSS_MAX=${STALL_RSS_MAX:-1024}

PIDS=()
stall_down() {
	[ "${#PIDS[@]}" -gt 0 ] && { kill "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null; }
	world_down
}
world_up || { echo "could not build the world"; exit 1; }
trap stall_down EXIT
fault_world_up stall || exit 1
rss() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
# reasons LOG MARK PHASE PACKAGE EVENT: the reason of each PHASE record of
# EVENT (http: for PACKAGE) after line MARK of LOG, one a line
reasons() {
	tail -n +$(($2 + 1)) "$1" | jq -r --arg ph "$3" --arg p "$4" --arg ev "$5" \
		'select(.event==$ev and .phase==$ph and ($ev != "http" or .package==$p)) | .reason // "-"'
}

LOG=$D/stall.log
ERR=$D/stall.err
STORE=$D/store
touch "$LOG" "$ERR"
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3128 --policy "$D/stall.yaml" --resolver 198.51.100.53 \
	--cache "$STORE" --upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$LOG" 2>>"$ERR"
PID=$!
PIDS+=("$PID")
wait_port "$NS_HOST" 127.0.0.1 3128
check "sluice proxy --cache starts" kill -0 "$PID"
c() { in_client curl -sS --max-time 60 -x http://127.0.0.1:3128 --cacert "$SCA" "$@"; }

# ---- 1. clients that never read a stored blob ------------------------------------------
BIG=/fullbig/-/fullbig-1.0.0.tgz GOOD=/fullgood/-/fullgood-1.0.0.tgz
sts=$(for p in /fullbig $BIG /fullgood $GOOD; do c -o /dev/null -w '%{http_code} ' "$NPM$p"; done)
st=$(c -D "$D/h0" -o "$D/big0" -w '%{http_code}' "$NPM$BIG")
check "stall: a 64 MiB and a 12 MiB tarball are stored; the 64 MiB one is a hit, every byte" \
	eq "$sts$st:$(hdr X-Sluice-Cache "$D/h0"):$(sha "$D/big0")" "200 200 200 200 200:hit:$(osha "$BIG")"
rm -f "$D/big0"
sleep 1
r0=$(rss "$PID")
mark=$(lines "$LOG") emark=$(lines "$ERR")
mkdir -p "$D/nr"
t0=$(date +%s)
world_bg "$NS_HOST" python3 "$HERE/stall.py" 3128 "$SCA" registry.npmjs.org "$BIG" "$N" "$D/nr" 2>"$D/nr/err"
NRPID=$!
PIDS+=("$NRPID")
wait_for "$D/nr/sent" 600
# what each holds is there once its kernel buffers are full: RSS stops growing
r1=$(rss "$PID")
for i in $(seq 40); do
	sleep 0.5
	r=$(rss "$PID")
	[ "$r" -le "$r1" ] && break
	r1=$r
done
per=$(((r1 - r0) / N))
echo "  sluice VmRSS: $r0 KiB before, $r1 KiB with $N stalled clients: $per KiB a client"
check "  $N clients that ask for it over TLS and never read: sluice's RSS grows by at most $RSS_MAX KiB a client ($per)" \
	test "$per" -le "$RSS_MAX"
# a slow but live client: 12 MiB at 300 KiB/s, about 40 s, past the 30 s bound
world_bg "$NS_HOST" curl -sS --max-time 120 --limit-rate 300k -x http://127.0.0.1:3128 --cacert "$SCA" \
	-o "$D/slowgood" -w '%{http_code}' "$NPM$GOOD" >"$D/slowgood.st" 2>"$D/slowgood.err"
SLOWPID=$!
PIDS+=("$SLOWPID")
for i in $(seq 90); do
	[ "$(reasons "$LOG" "$mark" close npm:fullbig@1.0.0 http | grep -c '^limit$')" -ge "$N" ] && break
	sleep 1
done
t1=$(date +%s)
check "  each is cut, reason limit, 30 s after it last took a byte ($((t1 - t0)) s)" \
	eq "$(reasons "$LOG" "$mark" close npm:fullbig@1.0.0 http | sort | uniq -c | tr -s ' '):$((t1 - t0 >= 28 && t1 - t0 <= 75))" \
	" $N limit:1"
check "  and its connection's close record says limit too" \
	eq "$(reasons "$LOG" "$mark" close - connect | grep -c '^limit$')" "$N"
check "  one stderr line each, naming what happened" \
	eq "$(tail -n +$((emark + 1)) "$ERR" | grep -c 'a client took no byte of its answer for 30 s: cut')" "$N"
r2=$(rss "$PID")
echo "  sluice VmRSS after the cut: $r2 KiB"
touch "$D/nr/go"
wait_for "$D/nr/result" 6000
check "  the clients see their connection end before the body's end" eq "$(cat "$D/nr/result")" "cut=$N alive=0"
wait "$SLOWPID"
check "  the slow but live client was not cut: 200, every byte, after $(($(date +%s) - t0)) s" \
	eq "$(cat "$D/slowgood.st"):$(sha "$D/slowgood"):$(reasons "$LOG" "$mark" close npm:fullgood@1.0.0 http)" \
	"200:$(osha "$GOOD"):-"

# ---- 2. the usage lock held by another process ----------------------------------------------
DEB=/debian/pool/main/b/big/big_1_all.deb
c -o /dev/null "$NPM/goodint"
st=$(c -o /dev/null -w '%{http_code}' "$NPM/goodint/-/goodint-1.0.0.tgz")
check "lock: a small tarball is stored ($st)" eq "$st" "200"
e0=$(entries "$STORE") mark=$(lines "$LOG")
# a miss of 64 MiB: its head and 1 MiB, 2 s of nothing, then the rest
world_bg "$NS_HOST" curl -sS --max-time 60 -x http://127.0.0.1:3128 -o "$D/deb" -w '%{http_code}' "$POOL/b/big/big_1_all.deb" \
	>"$D/deb.st" 2>"$D/deb.err"
DEBPID=$!
PIDS+=("$DEBPID")
for i in $(seq 50); do [ -s "$D/deb" ] && break; sleep 0.1; done
# another process (as `sluice cache gc` would) holds the lock on DIR/usage for 10 s
world_bg "$NS_HOST" flock "$STORE/usage" sleep 10
FLPID=$!
PIDS+=("$FLPID")
for i in $(seq 50); do in_host flock -n "$STORE/usage" true || break; sleep 0.1; done
check "  another process holds the lock on DIR/usage" bash -c "! ip netns exec $NS_HOST flock -n $STORE/usage true"
wait "$DEBPID"
check "  the miss's client has every byte while its commit waits for the lock" \
	eq "$(cat "$D/deb.st"):$(sha "$D/deb")" "200:$(osha "$DEB")"
sleep 0.5
tm=$(c -o "$D/gi" -D "$D/hgi" -w '%{time_total}' "$NPM/goodint/-/goodint-1.0.0.tgz")
ms=$(awk -v t="$tm" 'BEGIN {printf "%d", t * 1000}')
check "  meanwhile a hit on another connection is answered at once ($ms ms, the lock is held 10 s)" \
	eq "$(hdr X-Sluice-Cache "$D/hgi"):$((ms < 1000))" "hit:1"
sleep 0.3
tm=$(c -o /dev/null -w '%{time_total}' "$NPM/goodint/-/goodint-1.0.0.tgz")
ms=$(awk -v t="$tm" 'BEGIN {printf "%d", t * 1000}')
check "  and the one after it, past the counts' write a second after the first ($ms ms)" test "$ms" -lt 1000
wait "$FLPID"
for i in $(seq 50); do [ "$(entries "$STORE")" -gt "$e0" ] && break; sleep 0.1; done
st=$(c -D "$D/hdeb" -o "$D/deb2" -w '%{http_code}' "$POOL/b/big/big_1_all.deb")
check "  once the lock is let go the commit stores its entry: the next client's is a hit, every byte, upstream asked once" \
	eq "$st:$(hdr X-Sluice-Cache "$D/hdeb"):$(sha "$D/deb2"):$(ocount "$DEB")" "200:hit:$(osha "$DEB"):1"
for i in $(seq 30); do
	h=$(in_host "$SLUICE" cache stats --cache "$STORE" 2>>"$D/sluice.err" | awk '$1 == "hits:" {print $2}')
	[ "${h:-0}" -ge 4 ] && break
	sleep 0.1
done
check "  and the hits counted while it was held reach the shared counters (hits: ${h:-none})" test "${h:-0}" -ge 4
kill "$PID"
wait "$PID" 2>/dev/null
check "  sluice stops on SIGTERM with status 0" eq "$?" "0"

check "no sanitizer report" eq "$(cat "$D/sluice.err" "$ERR" 2>/dev/null | grep -c 'AddressSanitizer\|runtime error')" "0"
finish
