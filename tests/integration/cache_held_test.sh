#!/usr/bin/env bash
# cache_held_test.sh SLUICE SLOWFSYNC: the package cache around its commits
# and its held bodies, against fault_origin.py (as cache_fault_test.sh):
#   1. a client that asks for an object whose body is complete and checked
#      while its commit has not returned (the commit's fsync held back by
#      slowfsync.so, LD_PRELOADed into sluice) is served at once from the
#      complete file, a hit: a tarball with a published integrity, a
#      chunked one, a HEAD; nothing is stored until the commit returns;
#      a commit that then fails (EIO) stores nothing, the next client
#      fetches again
#   2. on a full store, held bodies (checked in memory): 4 clients that
#      never read a 60 MiB tarball and one slow but live client of a 12 MiB
#      one hold 252 MiB: another 60 MiB one gets 502; the clients that do
#      not read are cut (reason limit, one stderr line each) once they have
#      taken nothing for 30 s, the slow one gets every byte, and the 60 MiB
#      tarball is served again
set -u
SLUICE=$(realpath "$1")
SLOWFSYNC=$(realpath "$2")
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_free_fill_size=4096:free_fill_byte=255
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"
source "$HERE/fault_world.sh"

TMPFS=$D/tmpfs
PIDS=()
held_down() {
	[ "${#PIDS[@]}" -gt 0 ] && { kill "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null; }
	mountpoint -q "$TMPFS" 2>/dev/null && { umount "$TMPFS" || umount -l "$TMPFS"; }
	world_down
}
world_up || { echo "could not build the world"; exit 1; }
trap held_down EXIT
fault_world_up held || exit 1

# ---- 1. joining a body whose commit has not returned ---------------------------------
GATE=$D/gate
LOG=$D/commit.log
touch "$LOG"
world_bg "$NS_HOST" env LD_PRELOAD="$SLOWFSYNC" SLOWFSYNC_GATE="$GATE" "$SLUICE" proxy \
	--listen 127.0.0.1:3128 --policy "$D/held.yaml" --resolver 198.51.100.53 --cache "$D/store" \
	--upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$LOG" 2>>"$D/sluice.err"
PID=$!
PIDS+=("$PID")
wait_port "$NS_HOST" 127.0.0.1 3128
check "sluice proxy --cache starts (fsync of bodies held back on demand)" kill -0 "$PID"
c() { in_client curl -sS --max-time 60 -x http://127.0.0.1:3128 --cacert "$SCA" "$@"; }
# cj: a client that must not wait for the commit
cj() { in_client curl -sS --max-time 5 -x http://127.0.0.1:3128 --cacert "$SCA" "$@"; }

T=/goodint/-/goodint-1.0.0.tgz
c -o /dev/null "$NPM/goodint"
mark=$(lines "$LOG") e0=$(entries "$D/store")
touch "$GATE"
st=$(c -o "$D/g1" -w '%{http_code}' "$NPM$T")
check "commit: a tarball with a published integrity is served before its commit returns (200, every byte)" \
	eq "$st:$(sha "$D/g1")" "200:$(osha "$T")"
check "  its commit waits in fsync" wait_for "$GATE.waiting"
st=$(cj -D "$D/hj" -o "$D/g2" -w '%{http_code}' "$NPM$T" 2>"$D/cj.err")
check "  a second client meanwhile is served at once from the checked file: 200, every byte, Content-Length" \
	eq "$st:$(sha "$D/g2"):$(hdr Content-Length "$D/hj")" "200:$(osha "$T"):$(osize "$T")" || cat "$D/cj.err"
check "  X-Sluice-Cache: hit, its records say hit, upstream asked once" \
	eq "$(hdr X-Sluice-Cache "$D/hj"):$(records "$LOG" "$mark" decision npm:goodint@1.0.0 2):$(ocount "$T")" "hit:miss hit:1"
st=$(cj -I -o /dev/null -D "$D/hh" -w '%{http_code}' "$NPM$T" 2>>"$D/cj.err")
check "  a HEAD meanwhile: 200 with the length, at once" eq "$st:$(hdr Content-Length "$D/hh")" "200:$(osize "$T")"
T2=/chunky/-/chunky-1.0.0.tgz
st=$(c -o "$D/k1" -w '%{http_code}' "$NPM$T2")
st2=$(cj -D "$D/hk" -o "$D/k2" -w '%{http_code}' "$NPM$T2" 2>>"$D/cj.err")
check "  a chunked tarball (its commit queued behind): its first client and a second one get it at once, with a Content-Length" \
	eq "$st:$st2:$(sha "$D/k1"):$(sha "$D/k2"):$(hdr Content-Length "$D/hk"):$(hdr X-Sluice-Cache "$D/hk")" \
	"200:200:$(osha "$T2"):$(osha "$T2"):$(osize "$T2"):hit"
check "  nothing is stored while the commit waits" eq "$(entries "$D/store")" "$e0"
rm -f "$GATE"
for i in $(seq 50); do [ "$(entries "$D/store")" = "$((e0 + 2))" ] && break; sleep 0.1; done
check "  once it returns both are stored" eq "$(entries "$D/store")" "$((e0 + 2))"
st=$(c -D "$D/h3" -o "$D/g3" -w '%{http_code}' "$NPM$T")
check "  and served from the store: hit, upstream still asked once" \
	eq "$st:$(sha "$D/g3"):$(hdr X-Sluice-Cache "$D/h3"):$(ocount "$T")" "200:$(osha "$T"):hit:1"

# a commit that fails: what its joiners got was the checked body; nothing is stored
T=/debian/pool/main/t/tiny1/tiny1_1_all.deb
mark=$(lines "$LOG") e0=$(entries "$D/store") emark=$(lines "$D/sluice.err")
touch "$GATE" "$GATE.fail"
st=$(c -o "$D/t1" -w '%{http_code}' "$POOL/t/tiny1/tiny1_1_all.deb")
wait_for "$GATE.waiting"
st2=$(cj -o "$D/t2" -w '%{http_code}' "$POOL/t/tiny1/tiny1_1_all.deb" 2>>"$D/cj.err")
check "fail: a commit that will fail: both clients got every byte (the second at once)" \
	eq "$st:$st2:$(sha "$D/t1"):$(sha "$D/t2")" "200:200:$(osha "$T"):$(osha "$T")"
rm -f "$GATE"
for i in $(seq 50); do grep -q 'not stored (Input/output error)' <(tail -n +$((emark + 1)) "$D/sluice.err") && break; sleep 0.1; done
check "  the commit fails: its stderr line says not stored" \
	grep -q 'deb.debian.org:80: not stored (Input/output error)' <(tail -n +$((emark + 1)) "$D/sluice.err")
rm -f "$GATE.fail"
check "  nothing stored, nothing left in tmp/" eq "$(entries "$D/store"):$(ls -A "$D/store/tmp" | wc -l)" "$e0:0"
st=$(c -o "$D/t3" -w '%{http_code}' "$POOL/t/tiny1/tiny1_1_all.deb")
check "  the next client fetches again (origin count 2): a miss, every byte" \
	eq "$st:$(sha "$D/t3"):$(ocount "$T"):$(records "$LOG" "$mark" decision debian:tiny1_1_all 3)" \
	"200:$(osha "$T"):2:miss hit miss"
kill "$PID"
wait "$PID" 2>/dev/null
check "  sluice stops on SIGTERM with status 0" eq "$?" "0"

# ---- 2. held bodies and clients that do not read -----------------------------------
mkdir -p "$TMPFS" && mount -t tmpfs -o size=8m sluice-held "$TMPFS" || { echo "cannot mount a tmpfs"; exit 1; }
FLOG=$D/full.log
FERR=$D/full.err
touch "$FLOG" "$FERR"
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3130 --policy "$D/held.yaml" --resolver 198.51.100.53 \
	--cache "$TMPFS/store" --upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$FLOG" 2>>"$FERR"
FPID=$!
PIDS+=("$FPID")
wait_port "$NS_HOST" 127.0.0.1 3130
cf() { in_client curl -sS --max-time 60 -x http://127.0.0.1:3130 --cacert "$SCA" "$@"; }
sts=$(for n in fullbig fullgood; do cf -o /dev/null -w '%{http_code} ' "$NPM/$n"; done)
check "held: the packuments of a 64 MiB and a 12 MiB tarball are served (the store is an 8 MiB disk)" eq "$sts" "200 200 "
BIG=/fullbig/-/fullbig-1.0.0.tgz GOOD=/fullgood/-/fullgood-1.0.0.tgz
fmark=$(lines "$FLOG") femark=$(lines "$FERR") e0=$(entries "$TMPFS/store")
# a slow but live client: 12 MiB at 300 KiB/s, about 40 s, past the 30 s bound
world_bg "$NS_HOST" curl -sS --max-time 120 --limit-rate 300k -x http://127.0.0.1:3130 --cacert "$SCA" \
	-o "$D/slowgood" -w '%{http_code}' "$NPM$GOOD" >"$D/slowgood.st" 2>"$D/slowgood.err"
SLOWPID=$!
PIDS+=("$SLOWPID")
records "$FLOG" "$fmark" decision npm:fullgood@1.0.0 >/dev/null
t0=$(date +%s)
# three that ask for the 64 MiB one and never read, one after another (each its own fetch)
for i in 1 2 3; do
	mkdir -p "$D/nr$i"
	world_bg "$NS_HOST" python3 "$HERE/stall.py" 3130 "$SCA" registry.npmjs.org "$BIG" 1 "$D/nr$i" 2>"$D/nr$i/err"
	PIDS+=($!)
	wait_for "$D/nr$i/sent"
	records "$FLOG" "$fmark" decision npm:fullbig@1.0.0 "$i" >/dev/null
done
check "  3 clients that do not read hold a 64 MiB tarball each (decision records: miss miss miss)" \
	eq "$(records "$FLOG" "$fmark" decision npm:fullbig@1.0.0 3)" "miss miss miss"
st=$(cf -D "$D/hf" -o /dev/null -w '%{http_code}' "$NPM$BIG")
check "  with the slow client's 12 MiB that is 204 MiB held: a 4th client for the 64 MiB one gets 502 verify_failed" \
	eq "$st:$(hdr X-Sluice-Reason "$D/hf")" "502:verify_failed"
for i in $(seq 600); do
	[ "$(records "$FLOG" "$fmark" close npm:fullbig@1.0.0 1 reason | grep -o limit | wc -l)" -ge 3 ] && break
	sleep 0.1
done
t1=$(date +%s)
check "  the clients that do not read are cut, reason limit, 30 s after they last took a piece ($((t1 - t0)) s)" \
	eq "$(records "$FLOG" "$fmark" close npm:fullbig@1.0.0 4 reason):$((t1 - t0 >= 28 && t1 - t0 <= 50))" \
	"verify_failed limit limit limit:1"
check "  one stderr line each, naming the fix" \
	eq "$(tail -n +$((femark + 1)) "$FERR" | grep -c 'a client took none of a body held in memory (the store is full) for 30 s: cut.*free space on the store.s disk or raise --cache-max')" "3"
for i in 1 2 3; do touch "$D/nr$i/go"; done
for i in 1 2 3; do wait_for "$D/nr$i/result" 150; done
check "  the clients see their connection end before the body's end" \
	eq "$(for i in 1 2 3; do cat "$D/nr$i/result" 2>/dev/null; echo -n ' '; done)" "cut=1 alive=0 cut=1 alive=0 cut=1 alive=0 "
st=$(cf -o "$D/big" -w '%{http_code}' "$NPM$BIG")
check "  then the 64 MiB tarball is held and served again: 200, every byte" eq "$st:$(sha "$D/big")" "200:$(osha "$BIG")"
wait "$SLOWPID"
check "  the slow but live client was not cut: 200, every byte, after $(($(date +%s) - t0)) s" \
	eq "$(cat "$D/slowgood.st"):$(sha "$D/slowgood"):$(records "$FLOG" "$fmark" close npm:fullgood@1.0.0 1 reason)" \
	"200:$(osha "$GOOD"):-"
check "  not stored, nothing left in tmp/" eq "$(entries "$TMPFS/store"):$(ls -A "$TMPFS/store/tmp" | wc -l)" "$e0:0"
kill "$FPID"
wait "$FPID" 2>/dev/null
check "  sluice stops on SIGTERM with status 0" eq "$?" "0"
umount "$TMPFS"

check "no sanitizer report" eq "$(cat "$D/sluice.err" "$FERR" 2>/dev/null | grep -c 'AddressSanitizer\|runtime error')" "0"
finish
