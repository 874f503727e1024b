#!/usr/bin/env bash
# cache_early_test.sh SLUICE SLOWFSYNC: answers the package cache gives at
# once, from inside the request that asked (a stored object, or one whose
# body is complete and checked while its commit has not returned:
# slowfsync.so, LD_PRELOADed, holds the commit's fsync back), against
# fault_origin.py:
#   1, 2. 20000 HEADs pipelined on one keep-alive connection wait in
#      sluice's input behind a slow GET; once it ends all are answered and
#      sluice stays up (each answered request started the next from inside
#      its own answer: the stack overflowed)
#   3. a client revalidating its copy (If-None-Match) of metadata that
#      upstream has changed gets the new body, 200, not a 304 for the
#      ETag it sent (it was matched against the stored entry's, not the
#      one served)
set -u
SLUICE=$(realpath "$1")
SLOWFSYNC=$(realpath "$2")
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_free_fill_size=4096:free_fill_byte=255
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"
source "$HERE/fault_world.sh"

PID=
pipe_down() {
	[ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	world_down
}
world_up || { echo "could not build the world"; exit 1; }
trap pipe_down EXIT
fault_world_up pipe || exit 1
GATE=$D/gate
N=20000
SLOW=$POOL/s/slow/slow_1_all.deb
ctl "set?slow_rate=$((8 << 20))" >/dev/null # 16 MiB in 2 s

# start_sluice STORE: sluice proxy on 127.0.0.1:3128 (fsync held back while $GATE exists)
start_sluice() {
	world_bg "$NS_HOST" env LD_PRELOAD="$SLOWFSYNC" SLOWFSYNC_GATE="$GATE" "$SLUICE" proxy \
		--listen 127.0.0.1:3128 --policy "$D/pipe.yaml" --resolver 198.51.100.53 --cache "$1" \
		--upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$D/pipe.log" 2>>"$D/sluice.err"
	PID=$!
	wait_port "$NS_HOST" 127.0.0.1 3128
}
stop_sluice() {
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	local rc=$?
	PID=
	return $rc
}
c() { in_client curl -sS --max-time 30 -x http://127.0.0.1:3128 "$@"; }

# ---- 1. HEADs of a stored object -------------------------------------------------
start_sluice "$D/store1"
T=$POOL/t/tiny2/tiny2_1_all.deb
check "a tiny .deb is stored" eq "$(c -o /dev/null -w '%{http_code}' "$T")" "200"
world_bg "$NS_HOST" python3 "$HERE/pipeline.py" 3128 "$SLOW" "$N" "$T" "$D/p1" 2>"$D/p1.err"
wait $!
check "stored: $N HEADs pipelined behind a 2 s GET are all answered 200" eq "$(cat "$D/p1" 2>/dev/null)" "$N all" ||
	cat "$D/p1.err"
check "  sluice is still up" kill -0 "$PID"
stop_sluice
check "  and stops on SIGTERM with status 0" eq "$?" "0"

# ---- 2. HEADs of an object whose commit has not returned ----------------------------
start_sluice "$D/store2"
T=$POOL/t/tiny3/tiny3_1_all.deb
touch "$GATE"
check "commit: a tiny .deb is served while its commit waits" eq "$(c -o /dev/null -w '%{http_code}' "$T")" "200"
wait_file() { for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
check "  its commit waits in fsync" wait_file "$GATE.waiting"
world_bg "$NS_HOST" python3 "$HERE/pipeline.py" 3128 "$SLOW" "$N" "$T" "$D/p2" 2>"$D/p2.err"
wait $!
check "  $N HEADs of it pipelined behind a 2 s GET are all answered 200, from the complete file" \
	eq "$(cat "$D/p2" 2>/dev/null)" "$N all" || cat "$D/p2.err"
check "  sluice is still up" kill -0 "$PID"
check "  their decision records say hit (the first client's: miss)" \
	eq "$(jq -r 'select(.event=="http" and .phase=="decision" and .package=="debian:tiny3_1_all") | .cache' \
		"$D/pipe.log" | sort | uniq -c | awk '{printf "%s %s ", $1, $2}')" "$N hit 1 miss "
rm -f "$GATE"
stop_sluice
check "  and stops on SIGTERM with status 0" eq "$?" "0"

# ---- 3. If-None-Match, when upstream's answer to the revalidation is a new body ------
start_sluice "$D/store3"
M=$NPM/etagged
ci() { in_client curl -sS --max-time 30 -x http://127.0.0.1:3128 --cacert "$SCA" "$@"; }
mark=$(lines "$D/pipe.log")
st=$(ci -D "$D/m1.h" -o "$D/m1" -w '%{http_code}' "$M")
for _ in $(seq 50); do [ "$(entries "$D/store3")" = 1 ] && break; sleep 0.1; done
check "etag: a packument is stored with its ETag \"v1\"" eq "$st:$(hdr ETag "$D/m1.h"):$(entries "$D/store3")" '200:"v1":1'
st=$(ci -D "$D/m2.h" -o "$D/m2" -w '%{http_code}' -H 'If-None-Match: "v1"' -H 'Cache-Control: max-age=0' "$M")
check "  the client's copy still current upstream: 304" eq "$st:$(hdr ETag "$D/m2.h")" '304:"v1"'
ctl "set?etag_v=2" >/dev/null
st=$(ci -D "$D/m3.h" -o "$D/m3" -w '%{http_code}' -H 'If-None-Match: "v1"' -H 'Cache-Control: max-age=0' "$M")
check "  changed upstream: a client with \"v1\" gets 200, the new body and its ETag \"v2\"" \
	eq "$st:$(hdr ETag "$D/m3.h"):$(grep -o '"readme": "v[0-9]*"' "$D/m3")" '200:"v2":"readme": "v2"'
st=$(ci -D "$D/m4.h" -o "$D/m4" -w '%{http_code}' -H 'If-None-Match: "v2"' "$M")
check "  and a client with \"v2\" then gets 304 from the store" eq "$st:$(hdr ETag "$D/m4.h")" '304:"v2"'
check "  records: miss revalidated miss hit" eq "$(records "$D/pipe.log" "$mark" decision npm:etagged 4)" \
	"miss revalidated miss hit"
stop_sluice
check "  sluice stops on SIGTERM with status 0" eq "$?" "0"

check "no sanitizer report" eq "$(grep -c 'AddressSanitizer\|runtime error' "$D/sluice.err")" "0" ||
	grep -m4 'AddressSanitizer\|runtime error\|    #[0-9] ' "$D/sluice.err"
finish
