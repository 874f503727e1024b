#!/usr/bin/env bash
# cache_fault_test.sh SLUICE: the package cache against a misbehaving origin.
# fault_origin.py answers registry.npmjs.org and deb.debian.org (the world's
# dnsmasq names them at cache_world.sh's REGISTRY_ADDR; its nginx is not
# started) and each test drives curl through `sluice proxy --cache`:
#   1. a tarball that does not match the dist.integrity of the packument
#      sluice served: 502 verify_failed, nothing stored, fetched again next
#      time (a small packument, one that arrives in pieces, and under
#      `sluice run --cache`); a matching one is stored and then a hit
#   2. a body cut halfway: the client sees an error, nothing is stored, the
#      next request fetches again; once the origin behaves, a miss, then a
#      hit; a Range of the stored object is a 206 hit with the right bytes;
#      a hit for a client that asks the connection to close arrives whole
#      a chunked answer is stored without its framing
#   3. Authorization: bypass, never stored, the secret nowhere on disk
#   4. kill -9 of sluice mid-download: after a restart on the same store,
#      no temporary file, no partial entry served, `sluice cache verify` passes
#   5. 32 concurrent clients for one uncached 64 MiB object: one upstream
#      request, 32 identical correct bodies, 32 decision records, all miss
#   6. a store on a full (8 MiB tmpfs) disk: a 20 MiB answer passes through
#      whole and uncached (with and without Content-Length), one stderr
#      line; small objects are still stored; a 12 MiB tarball with a
#      published integrity is held in memory and served once it matches
#      (with and without Content-Length), a mismatching one and an 80 MiB
#      one (over the bound) get 502 verify_failed; held bodies count
#      against their bound until their clients have them (a client that
#      takes none of one for 30 s is cut: cache_held_test.sh)
set -u
SLUICE=$(realpath "$1")
# under ASan, freed memory is filled: a read of it inside libevent (not
# instrumented, so not reported) then fails loudly instead of finding the
# old bytes
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_free_fill_size=4096:free_fill_byte=255
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
source "$HERE/cache_world.sh"
source "$HERE/fault_world.sh"

TMPFS=$D/tmpfs
FULL_PID=
fault_down() {
	if [ -n "$FULL_PID" ]; then
		kill "$FULL_PID" 2>/dev/null
		wait "$FULL_PID" 2>/dev/null
	fi
	mountpoint -q "$TMPFS" 2>/dev/null && { umount "$TMPFS" || umount -l "$TMPFS"; }
	world_down
}
world_up || { echo "could not build the world"; exit 1; }
trap fault_down EXIT
fault_world_up faults || exit 1

# start_proxy PORT STORE LOG ERR: sluice proxy --cache in the host ns; sets PID
start_proxy() {
	world_bg "$NS_HOST" "$SLUICE" proxy --listen "127.0.0.1:$1" --policy "$D/faults.yaml" \
		--resolver 198.51.100.53 --cache "$2" --upstream-ca "$D/ca.pem" --ca "$CADIR" --log "$3" 2>>"$4"
	PID=$!
	wait_port "$NS_HOST" 127.0.0.1 "$1"
}
LOG=$D/proxy.log
CACHE=$D/store
touch "$LOG"
start_proxy 3128 "$CACHE" "$LOG" "$D/sluice.err"
PROXY_PID=$PID
check "sluice proxy --cache starts" kill -0 "$PROXY_PID"
# c [curl args]: curl through the proxy (in_client: the world's dnsmasq),
# trusting sluice's CA; -w prints the status
c() { in_client curl -sS --max-time 60 -x http://127.0.0.1:3128 --cacert "$SCA" "$@"; }

# ---- 1. integrity mismatch -------------------------------------------------------
T=/badint/-/badint-1.0.0.tgz
mark=$(lines "$LOG") emark=$(lines "$D/sluice.err")
c -o "$D/badint.json" "$NPM/badint"
check "integrity: the packument is served" jq -e '.versions["1.0.0"].dist.integrity' "$D/badint.json" >/dev/null
e0=$(entries "$CACHE")
st=$(c -D "$D/h1" -o "$D/b1" -w '%{http_code}' "$NPM$T")
check "integrity: a tarball not matching the integrity the packument published gets 502" eq "$st" "502"
check "  with X-Sluice-Reason: verify_failed" grep -qi '^X-Sluice-Reason: verify_failed' "$D/h1"
check "  its decision record says cache verify_failed" \
	eq "$(records "$LOG" "$mark" decision npm:badint@1.0.0)" "verify_failed"
check "  nothing stored (entries unchanged)" eq "$(entries "$CACHE")" "$e0"
st=$(c -o /dev/null -w '%{http_code}' "$NPM$T")
check "  asked again: 502 again, fetched again at the origin (count 2)" eq "$st:$(ocount "$T")" "502:2"
check "  verify_failed twice" eq "$(records "$LOG" "$mark" decision npm:badint@1.0.0 2)" "verify_failed verify_failed"
check "  each failure has its stderr line: the body does not match its published hash" \
	eq "$(tail -n +$((emark + 1)) "$D/sluice.err" | grep -c '^sluice: cache: registry.npmjs.org:443: the body does not match its published hash')" "2"
# a tarball with a published integrity is served only once checked: sent with
# Cache-Control: no-store it is not written, so it cannot be checked: 502
T=/nostore/-/nostore-1.0.0.tgz
mark=$(lines "$LOG")
c -o /dev/null "$NPM/nostore"
st=$(c -D "$D/h2" -o "$D/ns1" -w '%{http_code}' "$NPM$T")
check "integrity: a mismatching tarball sent with Cache-Control: no-store gets 502, not its bytes" \
	eq "$st:$(grep -ci '^X-Sluice-Reason: verify_failed' "$D/h2")" "502:1"
check "  its decision record says cache verify_failed" \
	eq "$(records "$LOG" "$mark" decision npm:nostore@1.0.0)" "verify_failed"
check "  its stderr line says why" grep -q 'registry.npmjs.org:443: upstream sent a body with a published hash as no-store' "$D/sluice.err"

# another success status (203, 206) is no way around the check: its body
# is the tarball's all the same
T=/badint/-/badint-1.0.0.tgz
for code in 203 206; do
	mark=$(lines "$LOG")
	ctl "set?status=$code" >/dev/null
	st=$(c -D "$D/h3" -o "$D/b3" -w '%{http_code}' "$NPM$T")
	check "integrity: a mismatching tarball sent as $code gets 502 verify_failed, not its bytes" \
		eq "$st:$(grep -ci '^X-Sluice-Reason: verify_failed' "$D/h3"):$(records "$LOG" "$mark" decision npm:badint@1.0.0)" \
		"502:1:verify_failed"
done
ctl "set?status=200" >/dev/null
T=/goodint/-/goodint-1.0.0.tgz
mark=$(lines "$LOG")
c -o /dev/null "$NPM/goodint"
st=$(c -o "$D/good.tgz" -w '%{http_code}' "$NPM$T")
c -o /dev/null "$NPM$T"
check "integrity: a matching tarball is served whole (200, the right bytes), miss then hit" \
	eq "$st:$(sha "$D/good.tgz"):$(records "$LOG" "$mark" decision npm:goodint@1.0.0 2):$(ocount "$T")" \
	"200:$(osha "$T"):miss hit:1"

# a packument large enough to arrive in pieces: sluice streams it to the
# client as it comes, and must still learn the integrity it publishes
T=/bigpack/-/bigpack-1.0.0.tgz
mark=$(lines "$LOG")
c -o "$D/bigpack.json" "$NPM/bigpack"
check "integrity: a 2 MiB packument that arrives in pieces is served whole" \
	eq "$(sha "$D/bigpack.json")" "$(osha /bigpack)"
e0=$(entries "$CACHE")
st=$(c -D "$D/h2" -o /dev/null -w '%{http_code}' "$NPM$T")
check "  the tarball it publishes a wrong integrity for gets 502 verify_failed" \
	eq "$st:$(records "$LOG" "$mark" decision npm:bigpack@1.0.0)" "502:verify_failed"
check "  nothing stored" eq "$(entries "$CACHE")" "$e0"

# the same under sluice run --cache (the sandbox trusts sluice's CA by itself)
RLOG=$D/run.log
touch "$RLOG"
mark=$(lines "$RLOG")
out=$(cd "$D" && in_host timeout -k 5 60 "$SLUICE" run --policy "$D/faults.yaml" --log "$RLOG" \
	--resolver 198.51.100.53 --cache "$D/store-run" --upstream-ca "$D/ca.pem" --ca "$CADIR" -- \
	sh -c "curl -sS -o /dev/null -w '%{http_code} ' $NPM/badint &&
		curl -sS -o /dev/null -w '%{http_code}' $NPM/badint/-/badint-1.0.0.tgz" 2>>"$D/run.err")
check "run --cache: the packument 200, the mismatching tarball 502" eq "$out" "200 502"
check "  recorded verify_failed" eq "$(records "$RLOG" "$mark" decision npm:badint@1.0.0)" "verify_failed"

# ---- 2. a body cut halfway ---------------------------------------------------------
T=/cut/-/cut-1.0.0.tgz
ctl "set?cut=1" >/dev/null
mark=$(lines "$LOG")
e0=$(entries "$CACHE")
c -o "$D/cut1" "$NPM$T" 2>/dev/null
rc=$?
check "cut: a body cut halfway is an error for the client (curl exit $rc)" test "$rc" -ne 0
check "  fewer bytes than the whole" test "$(stat -c %s "$D/cut1" 2>/dev/null || echo 0)" -lt "$(osize "$T")"
check "  a miss, its close record says why" \
	eq "$(records "$LOG" "$mark" decision npm:cut@1.0.0):$(tail -n +$((mark + 1)) "$LOG" |
		jq -r 'select(.phase=="close" and .package=="npm:cut@1.0.0") | .reason')" "miss:connect_failed"
check "  nothing stored" eq "$(entries "$CACHE")" "$e0"
c -o /dev/null "$NPM$T" 2>/dev/null
rc=$?
check "  the next request fetches again (origin count 2), and is cut again (curl exit $rc)" eq "$(ocount "$T"):$((rc != 0))" "2:1"
ctl "set?cut=0" >/dev/null
mark=$(lines "$LOG")
st=$(c -o "$D/cut3" -w '%{http_code}' "$NPM$T")
check "  the origin behaves: 200, the whole body, a miss (origin count 3)" \
	eq "$st:$(sha "$D/cut3"):$(records "$LOG" "$mark" decision npm:cut@1.0.0):$(ocount "$T")" "200:$(osha "$T"):miss:3"
check "  stored" eq "$(entries "$CACHE")" "$((e0 + 1))"
st=$(c -o "$D/cut4" -w '%{http_code}' "$NPM$T")
check "  then a hit (origin count still 3)" \
	eq "$st:$(sha "$D/cut4"):$(records "$LOG" "$mark" decision npm:cut@1.0.0 2):$(ocount "$T")" \
	"200:$(osha "$T"):miss hit:3"
st=$(c -r 1000-1999 -D "$D/h3" -o "$D/range" -w '%{http_code}' "$NPM$T")
check "range: bytes=1000-1999 of the stored tarball is 206 with those bytes, a hit" \
	eq "$st:$(cmp -s "$D/range" <(tail -c +1001 "$D/cut3" | head -c 1000) && echo same):$(records "$LOG" "$mark" decision npm:cut@1.0.0 3)" \
	"206:same:miss hit hit"
check "  Content-Range: bytes 1000-1999/$(osize "$T")" grep -qi "^Content-Range: bytes 1000-1999/$(osize "$T")" "$D/h3"
st=$(c -H 'Connection: close' -o "$D/close1" -w '%{http_code}' "$NPM$T")
st2=$(c --http1.0 -o "$D/close2" -w '%{http_code}' "$NPM$T")
check "close: a hit asked with Connection: close (TLS) gets every byte before the close" \
	eq "$st:$(sha "$D/close1")" "200:$(osha "$T")"
check "  and asked with HTTP/1.0" eq "$st2:$(sha "$D/close2")" "200:$(osha "$T")"

# a chunked answer: only the chunks' data is stored
T=/chunky/-/chunky-1.0.0.tgz
mark=$(lines "$LOG")
c -o "$D/chunky1" "$NPM$T"
c -o "$D/chunky2" "$NPM$T"
check "chunked: a chunked tarball (chunks of 1 to 70000 bytes) is served right, miss then hit" \
	eq "$(sha "$D/chunky1"):$(sha "$D/chunky2"):$(records "$LOG" "$mark" decision npm:chunky@1.0.0 2):$(ocount "$T")" \
	"$(osha "$T"):$(osha "$T"):miss hit:1"

# ---- 3. Authorization ------------------------------------------------------------------
T=/auth/-/auth-1.0.0.tgz
mark=$(lines "$LOG")
e0=$(entries "$CACHE")
st=$(c -H 'Authorization: Bearer secret' -o "$D/auth1" -w '%{http_code}' "$NPM$T")
check "auth: a request with Authorization is answered (200, the right bytes), passed on upstream" \
	eq "$st:$(sha "$D/auth1"):$(ctl "auth?path=$T")" "200:$(osha "$T"):Bearer secret"
check "  cache bypass, in the decision and the close record" \
	eq "$(records "$LOG" "$mark" decision npm:auth@1.0.0):$(records "$LOG" "$mark" close npm:auth@1.0.0)" "bypass:bypass"
check "  nothing stored" eq "$(entries "$CACHE")" "$e0"
c -o /dev/null "$NPM$T"
c -o "$D/auth3" "$NPM$T"
check "  without it: a miss (origin count 2, no Authorization sent), then a hit" \
	eq "$(records "$LOG" "$mark" decision npm:auth@1.0.0 3):$(ocount "$T"):$(ctl "auth?path=$T"):$(sha "$D/auth3")" \
	"bypass miss hit:2:-:$(osha "$T")"
check "  \"secret\" appears nowhere in the store or the log" eq "$(grep -rl secret "$CACHE" "$LOG" | wc -l)" "0"

# ---- 4. kill -9 mid-download -----------------------------------------------------------
T=/debian/pool/main/s/slow/slow_1_all.deb
ctl "set?slow_rate=$((2 * 1024 * 1024))" >/dev/null
mark=$(lines "$LOG")
c -o "$D/slow1" "$POOL/s/slow/slow_1_all.deb" 2>/dev/null &
cpid=$!
for i in $(seq 100); do
	[ "$(ctl "sent?path=$T")" -ge $((3 * 1024 * 1024)) ] 2>/dev/null && break
	sleep 0.1
done
tmpbytes=$(du -sb "$CACHE/tmp" 2>/dev/null | cut -f1)
check "kill: mid-download (origin sent $(ctl "sent?path=$T") bytes), the body is in the store's tmp/" \
	test "${tmpbytes:-0}" -gt $((1024 * 1024))
kill -9 "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
wait "$cpid"
rc=$?
check "  kill -9 of sluice proxy: the client sees an error (curl exit $rc)" test "$rc" -ne 0
check "  the port is closed" bash -c "! ip netns exec $NS_HOST bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128' 2>/dev/null"
check "  the temporary file is still there before the restart" test -n "$(ls -A "$CACHE/tmp")"
start_proxy 3128 "$CACHE" "$LOG" "$D/sluice.err"
PROXY_PID=$PID
check "  restarted on the same --cache" kill -0 "$PROXY_PID"
check "  no temporary file left in tmp/ after the restart" eq "$(ls -A "$CACHE/tmp" | wc -l)" "0"
# a small fetch first leaves an idle upstream connection; the refetch takes
# it, and lasts longer than the 10 s connect timeout (16 MiB at 1.4 MiB/s)
c -o /dev/null "$POOL/t/tiny9/tiny9_1_all.deb"
ctl "set?slow_rate=$((1400 * 1024))" >/dev/null
mark=$(lines "$LOG")
t0=$(date +%s)
st=$(c -o "$D/slow2" -w '%{http_code}' "$POOL/s/slow/slow_1_all.deb")
check "  the next request is a miss, fetched again (origin count 2), the whole body" \
	eq "$st:$(records "$LOG" "$mark" decision debian:slow_1_all):$(ocount "$T"):$(sha "$D/slow2")" "200:miss:2:$(osha "$T")"
check "    on a kept upstream connection, for longer than the connect timeout ($(($(date +%s) - t0)) s)" \
	eq "$(ocount /debian/pool/main/t/tiny9/tiny9_1_all.deb):$(($(date +%s) - t0 > 10))" "1:1"
c -o /dev/null "$POOL/s/slow/slow_1_all.deb"
check "  then a hit" eq "$(records "$LOG" "$mark" decision debian:slow_1_all 2):$(ocount "$T")" "miss hit:2"
c -H 'Connection: close' -o "$D/slow3" "$POOL/s/slow/slow_1_all.deb"
check "close: a 16 MiB hit asked with Connection: close (plain HTTP) gets every byte" eq "$(sha "$D/slow3")" "$(osha "$T")"
check "  sluice cache verify passes" in_host "$SLUICE" cache verify --cache "$CACHE" >/dev/null
check "  and tmp/ is empty" eq "$(ls -A "$CACHE/tmp" | wc -l)" "0"

# ---- 5. 32 concurrent clients for one uncached 64 MiB object ---------------------------
T=/debian/pool/main/b/big/big_1_all.deb
mark=$(lines "$LOG")
pids=()
for i in $(seq 32); do
	(c "$POOL/b/big/big_1_all.deb" | sha256sum | cut -d' ' -f1 >"$D/big.$i") &
	pids+=($!)
done
wait "${pids[@]}"
check "concurrent: the origin saw exactly one request for the 64 MiB object" eq "$(ocount "$T")" "1"
check "  all 32 clients got the same, right bytes" \
	eq "$(cat "$D"/big.* | sort | uniq -c | awk '{print $1, $2}')" "32 $(osha "$T")"
recs=$(records "$LOG" "$mark" decision debian:big_1_all 32)
check "  32 decision records, every one a miss (the followers too)" \
	eq "$(tr ' ' '\n' <<<"$recs" | sort | uniq -c | awk '{print $1, $2}')" "32 miss"
check "  32 close records, none with a failure" \
	eq "$(tail -n +$((mark + 1)) "$LOG" | jq -r 'select(.phase=="close" and .package=="debian:big_1_all") | "\(.cache) \(.reason // "-") \(.bytes_down)"' | sort | uniq -c | awk '{print $1, $2, $3, $4}')" \
	"32 miss - $(osize "$T")"
c -o /dev/null "$POOL/b/big/big_1_all.deb"
check "  stored: the next request is a hit" \
	eq "$(records "$LOG" "$mark" decision debian:big_1_all 33 | tr ' ' '\n' | tail -1):$(ocount "$T")" "hit:1"

# ---- 6. a full disk ----------------------------------------------------------------------
mkdir -p "$TMPFS" && mount -t tmpfs -o size=8m sluice-faults "$TMPFS" || { echo "cannot mount a tmpfs"; exit 1; }
FLOG=$D/full.log
FERR=$D/full.err
touch "$FLOG" "$FERR"
start_proxy 3130 "$TMPFS/store" "$FLOG" "$FERR"
FULL_PID=$PID
cf() { in_client curl -sS --max-time 60 -x http://127.0.0.1:3130 "$@"; }
T=/debian/pool/main/h/huge/huge_1_all.deb
st=$(cf -o "$D/huge" -w '%{http_code}' "$POOL/h/huge/huge_1_all.deb")
check "full: a 20 MiB answer (Content-Length) with the store on an 8 MiB disk: 200, every byte" \
	eq "$st:$(sha "$D/huge")" "200:$(osha "$T")"
check "  one stderr line: the store is full" eq "$(grep -c 'store is full' "$FERR")" "1" || sed 's/^/    /' "$FERR"
check "  not stored" eq "$(entries "$TMPFS/store")" "0"
check "  a miss" eq "$(records "$FLOG" 0 decision debian:huge_1_all)" "miss"
hwm() { awk '/VmHWM/{print $2}' "/proc/$FULL_PID/status"; }
h0=$(hwm)
st=$(cf --limit-rate 4M -o "$D/huge2" -w '%{http_code}' "$POOL/h/huge/huge_1_all.deb")
h1=$(hwm)
# (under ASan the RSS is its quarantine's: the bytes are checked, not the RSS)
asan=0
grep -qa __asan_init "$SLUICE" && asan=1
check "  again to a client at 4 MiB/s: every byte, sluice's peak RSS grew by $((h1 - h0)) KiB (< 8 MiB unless ASan: upstream waits for the client)" \
	eq "$st:$(sha "$D/huge2"):$((asan || h1 - h0 < 8192))" "200:$(osha "$T"):1"
T=/debian/pool/main/h/hugec/hugec_1_all.deb
st=$(cf -o "$D/hugec" -w '%{http_code}' "$POOL/h/hugec/hugec_1_all.deb")
check "  a 20 MiB chunked answer (no Content-Length): 200, every byte" eq "$st:$(sha "$D/hugec")" "200:$(osha "$T")"
check "  not stored, still one stderr line" eq "$(entries "$TMPFS/store"):$(grep -c 'store is full' "$FERR")" "0:1"
check "  nothing left in tmp/" eq "$(ls -A "$TMPFS/store/tmp" | wc -l)" "0"
T=/debian/pool/main/h/hugelate/hugelate_1_all.deb
pids=()
for i in 1 2 3 4; do
	(cf "$POOL/h/hugelate/hugelate_1_all.deb" | sha256sum | cut -d' ' -f1 >"$D/late.$i") &
	pids+=($!)
done
wait "${pids[@]}"
check "  4 concurrent clients for a 20 MiB answer that cannot be stored: each gets every byte" \
	eq "$(cat "$D"/late.* | sort | uniq -c | awk '{print $1, $2}')" "4 $(osha "$T")"
check "  not stored; the origin asked at most once per client ($(ocount "$T"))" \
	eq "$(entries "$TMPFS/store"):$(($(ocount "$T") <= 4))" "0:1"
for i in 0 1; do
	cf -o "$D/tiny$i" "$POOL/t/tiny$i/tiny${i}_1_all.deb"
	cf -o /dev/null "$POOL/t/tiny$i/tiny${i}_1_all.deb"
done
check "  small objects are still stored: miss then hit, the right bytes" \
	eq "$(records "$FLOG" 0 decision debian:tiny0_1_all 2):$(records "$FLOG" 0 decision debian:tiny1_1_all 2):$(entries "$TMPFS/store"):$(sha "$D/tiny1")" \
	"miss hit:miss hit:2:$(osha /debian/pool/main/t/tiny1/tiny1_1_all.deb)"
# tarballs with a published integrity, larger than the disk has room for:
# held in memory, checked, and served only when they match (not stored)
cfs() { cf --cacert "$SCA" "$@"; }
sts=$(for n in fullgood fullbad fullchunk fullhuge; do cfs -o /dev/null -w '%{http_code} ' "$NPM/$n"; done)
check "full: the packuments that publish their integrity are served" eq "$sts" "200 200 200 200 "
e0=$(entries "$TMPFS/store") fmark=$(lines "$FLOG") femark=$(lines "$FERR")
T=/fullgood/-/fullgood-1.0.0.tgz
st=$(cfs -D "$D/hg" -o "$D/fullgood" -w '%{http_code}' "$NPM$T")
check "  a 12 MiB tarball whose integrity matches: 200, every byte, Content-Length, a miss" \
	eq "$st:$(sha "$D/fullgood"):$(grep -i '^Content-Length:' "$D/hg" | tr -d '\r' | cut -d' ' -f2):$(records "$FLOG" "$fmark" decision npm:fullgood@1.0.0)" \
	"200:$(osha "$T"):$(osize "$T"):miss"
check "  not stored, nothing left in tmp/" eq "$(entries "$TMPFS/store"):$(ls -A "$TMPFS/store/tmp" | wc -l)" "$e0:0"
pids=()
for i in 1 2 3; do
	(cfs "$NPM$T" | sha256sum | cut -d' ' -f1 >"$D/fullgood.$i") &
	pids+=($!)
done
wait "${pids[@]}"
check "  3 concurrent clients for it: each gets every byte" \
	eq "$(cat "$D"/fullgood.? | sort | uniq -c | awk '{print $1, $2}')" "3 $(osha "$T")"
T=/fullchunk/-/fullchunk-1.0.0.tgz
st=$(cfs -o "$D/fullchunk" -w '%{http_code}' "$NPM$T")
check "  the same sent chunked (the disk fills under it): 200, every byte, a miss" \
	eq "$st:$(sha "$D/fullchunk"):$(records "$FLOG" "$fmark" decision npm:fullchunk@1.0.0)" "200:$(osha "$T"):miss"
check "  not stored, nothing left in tmp/" eq "$(entries "$TMPFS/store"):$(ls -A "$TMPFS/store/tmp" | wc -l)" "$e0:0"
T=/fullbad/-/fullbad-1.0.0.tgz
st=$(cfs -D "$D/hb" -o "$D/fullbad" -w '%{http_code}' "$NPM$T")
check "  a 12 MiB tarball not matching its integrity: 502 verify_failed, none of its bytes" \
	eq "$st:$(grep -ci '^X-Sluice-Reason: verify_failed' "$D/hb"):$(records "$FLOG" "$fmark" decision npm:fullbad@1.0.0):$(($(stat -c %s "$D/fullbad" 2>/dev/null || echo 0) < 4096))" \
	"502:1:verify_failed:1"
check "  its stderr line: the body does not match its published hash" \
	grep -q 'registry.npmjs.org:443: the body does not match its published hash: not served' <(tail -n +$((femark + 1)) "$FERR")
T=/fullhuge/-/fullhuge-1.0.0.tgz
st=$(cfs -D "$D/hh" -o /dev/null -w '%{http_code}' "$NPM$T")
check "  an 80 MiB one (over the 64 MiB held in memory): 502 verify_failed" \
	eq "$st:$(grep -ci '^X-Sluice-Reason: verify_failed' "$D/hh"):$(records "$FLOG" "$fmark" decision npm:fullhuge@1.0.0)" \
	"502:1:verify_failed"
check "  its stderr line says it cannot be checked while the store is full, and the fix" \
	grep -q 'cannot be checked while the store is full: not served (free space on its disk or raise --cache-max)' \
	<(tail -n +$((femark + 1)) "$FERR")
check "  nothing stored" eq "$(entries "$TMPFS/store"):$(ls -A "$TMPFS/store/tmp" | wc -l)" "$e0:0"
# held bodies count against the 256 MiB of them all until their clients
# have them: 21 clients that do not read each keep a 12 MiB one (one after
# another, so each has its own fetch); the 22nd cannot be held; once they
# are gone, the next one is
T=/fullgood/-/fullgood-1.0.0.tgz
smark=$(lines "$FLOG")
slow=()
for i in $(seq 21); do
	world_bg "$NS_HOST" curl -sS --max-time 120 --limit-rate 1k -x http://127.0.0.1:3130 --cacert "$SCA" \
		-o /dev/null "$NPM$T" 2>/dev/null
	slow+=($!)
	records "$FLOG" "$smark" decision npm:fullgood@1.0.0 "$i" >/dev/null
done
st=$(cfs -D "$D/hs" -o /dev/null -w '%{http_code}' "$NPM$T")
check "  21 clients that do not read hold 252 MiB of a 12 MiB tarball: a 22nd gets 502 verify_failed" \
	eq "$st:$(grep -ci '^X-Sluice-Reason: verify_failed' "$D/hs")" "502:1"
kill "${slow[@]}" 2>/dev/null
wait "${slow[@]}" 2>/dev/null
sleep 0.5
st=$(cfs -o "$D/fullgood2" -w '%{http_code}' "$NPM$T")
check "  once they are gone, a new client for it: 200, every byte" eq "$st:$(sha "$D/fullgood2")" "200:$(osha "$T")"
kill "$FULL_PID"
wait "$FULL_PID" 2>/dev/null
FULL_PID=
umount "$TMPFS"
check "the tmpfs is unmounted" bash -c "! mountpoint -q '$TMPFS'"

# ---- an upstream whose certificate sluice cannot verify ---------------------------
# no --upstream-ca: the world's CA is not in the system's trust store
UST=$D/store-untrusted ULOG=$D/untrusted.log
world_bg "$NS_HOST" "$SLUICE" proxy --listen 127.0.0.1:3143 --policy "$D/faults.yaml" \
	--resolver 198.51.100.53 --cache "$UST" --ca "$CADIR" --log "$ULOG" 2>>"$D/untrusted.err"
UPID=$!
wait_port "$NS_HOST" 127.0.0.1 3143
T=/auth/-/auth-1.0.0.tgz
st=$(in_client curl -sS --max-time 20 -x http://127.0.0.1:3143 --cacert "$SCA" -o /dev/null -w '%{http_code}' "$NPM$T" 2>/dev/null)
check "untrusted upstream certificate: the client gets 502" eq "$st" "502"
check "  the request's records say tls_failed (not connect_failed)" \
	eq "$(jq -r 'select(.event=="http" and .package=="npm:auth@1.0.0") | "\(.phase) \(.cache) \(.reason)"' "$ULOG" | tr '\n' ' ')" \
	"decision miss tls_failed close miss tls_failed "
check "  one stderr line says the TLS with upstream failed" eq "$(grep -c 'TLS with upstream failed' "$D/untrusted.err")" "1"
check "  nothing stored" eq "$(entries "$UST")" "0"
kill "$UPID"
wait "$UPID" 2>/dev/null

check "sluice proxy is still running" kill -0 "$PROXY_PID"
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
check "  and stops on SIGTERM with status 0" eq "$?" "0"
check "sluice cache verify: the store is sound at the end" in_host "$SLUICE" cache verify --cache "$CACHE" >/dev/null
check "no sanitizer report" \
	eq "$(cat "$D/sluice.err" "$FERR" "$D/run.err" "$D/untrusted.err" 2>/dev/null | grep -c 'AddressSanitizer\|runtime error')" "0"
finish
