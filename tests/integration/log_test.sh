#!/usr/bin/env bash
# log_test.sh SLUICE: `sluice log` on logs that sluice itself wrote in the test
# world (proxy in enforce and report mode, the DNS stub, sluice run with
# transparent and rejected packets), plus generated logs for size, the
# table's bound, junk and truncation. The proposed policy is loaded into a
# proxy and the log's requests are replayed against it.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
world_up || { echo "could not build the test world"; exit 1; }

D=$WORLD_DIR
chmod 755 "$D"
mkdir -p "$D/logs" && chmod 1777 "$D/logs"
L=$D/logs
PRIV='allow_private: ["198.51.100.0/24", "2001:db8::/32"]'
cat >"$D/enforce.yaml" <<YAML
version: 1
name: ptest
allow: [allowed.test, "*.wild.test", "198.51.100.10:8081"]
deny: [bad.wild.test]
$PRIV
YAML
cat >"$D/report.yaml" <<YAML
version: 1
name: rtest
mode: report
allow: [allowed.test, "198.51.100.10:8081"]
deny: [bad.wild.test]
$PRIV
YAML
cat >"$D/dns.yaml" <<YAML
version: 1
name: dtest
allow: [allowed.test, "*.wild.test"]
$PRIV
YAML
cat >"$D/run.yaml" <<YAML
version: 1
name: runtest
allow: [allowed.test]
$PRIV
YAML
chmod 644 "$D"/*.yaml "$D/ca.pem"

PIDS=()
proxy() { # port policy log
	world_bg "$NS_HOST" "$SLUICE" proxy --listen "127.0.0.1:$1" --policy "$2" --log "$3" \
		--resolver 198.51.100.53 2>>"$D/sluice.err"
	PIDS+=($!)
	wait_port "$NS_HOST" 127.0.0.1 "$1"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# curl through a proxy port; prints the HTTP (or CONNECT) status
via() {
	local port=$1 url=$2 code
	code=$(in_host curl -s -o /dev/null --max-time 10 --cacert "$D/ca.pem" -x "http://127.0.0.1:$port" \
		-w '%{http_code} %{http_connect}' "$url")
	case $url in https*) echo "${code#* }" ;; *) echo "${code% *}" ;; esac
}
REQS=(https://allowed.test/ http://allowed.test/ http://a.wild.test/ http://b.wild.test/ http://other.test/
	https://bad.wild.test/ http://metadata.google.internal/ http://198.51.100.10:8081/ http://allowed.test:8080/
	https://c.wild.test/)

# ---- logs written by sluice ---------------------------------------------------
proxy 3128 "$D/enforce.yaml" "$L/enforce.log"
proxy 3130 "$D/report.yaml" "$L/report.log"
for u in "${REQS[@]}"; do via 3128 "$u" >/dev/null; via 3130 "$u" >/dev/null; done
world_bg "$NS_HOST" "$SLUICE" dns --listen 127.0.0.1:5353 --policy "$D/dns.yaml" --upstream 198.51.100.53 \
	--log "$L/dns.log" 2>>"$D/sluice.err"
wait_port "$NS_HOST" 127.0.0.1 5353 2>/dev/null || sleep 1
for n in allowed.test x.wild.test denied.test metadata.google.internal; do
	in_host dig +time=2 +tries=1 -p 5353 @127.0.0.1 "$n" A >/dev/null
done
CURL="curl -sS --max-time 5 --cacert $D/ca.pem"
in_host "$SLUICE" run --policy "$D/run.yaml" --log "$L/run.log" --resolver 198.51.100.53 -- sh -c \
	"$CURL https://allowed.test/; $CURL --noproxy '*' https://allowed.test/; $CURL http://other.test/;
	 python3 $HERE/nftprobe.py tcp 198.51.100.10 8080; python3 $HERE/nftprobe.py udp 203.0.113.9 123" \
	>/dev/null 2>>"$D/run.err"
sleep 1 # close records follow the clients' exit
LOGS=("$L/enforce.log" "$L/report.log" "$L/dns.log" "$L/run.log")

check "the other commands wrote all four kinds of log" \
	eq "$(cat "${LOGS[@]}" | jq -r .event | sort -u | tr '\n' ' ')" "connect dns http packet transparent "
"$SLUICE" log summary "${LOGS[@]}" >"$D/all.txt" 2>"$D/all.err"
check "every record the writer emitted is read back (no invalid line)" \
	eq "$(cat "$D/all.err")$(grep -c . "$D/all.txt" | sed 's/^[0-9]*$//')" ""
"$SLUICE" log summary --format json "${LOGS[@]}" >"$D/all.json"
check "  and the counts add up to the lines: requests+dns+packets = decision records" \
	eq "$(jq '[.servers[] | .requests + .dns + .kernel_rejects] | add' "$D/all.json")" \
	"$(cat "${LOGS[@]}" | jq -s '[.[] | select(.phase=="decision")] | length')"

# ---- summary ------------------------------------------------------------------------
check "summary: one row per server, busiest first" \
	eq "$(jq -r '.servers[].server' "$D/all.json" | sort | tr '\n' ' ')" "dtest ptest rtest runtest "
check "  ptest's requests by decision match the log" \
	eq "$(jq -r '.servers[] | select(.server=="ptest") | "\(.requests) \(.allow) \(.deny) \(.would_deny)"' "$D/all.json")" \
	"$(jq -s -r '[.[] | select(.phase=="decision")] | "\(length) \([.[]|select(.decision=="allow")]|length) \([.[]|select(.decision=="deny")]|length) 0"' "$L/enforce.log")"
check "  reasons: denied_by_rule, metadata_host, not_allowed, port_not_allowed for ptest" \
	eq "$(jq -r '.reasons[] | select(.server=="ptest" and .decision=="deny") | .reason' "$D/all.json" | sort | tr '\n' ' ')" \
	"denied_by_rule metadata_host not_allowed port_not_allowed "
check "  report mode shows would_deny for rtest" \
	test "$(jq -r '.servers[] | select(.server=="rtest") | .would_deny' "$D/all.json")" -ge 3
check "  kernel rejects by protocol and port (runtest)" \
	eq "$(jq -r '.kernel_rejects[] | "\(.server) \(.protocol) \(.port)"' "$D/all.json" | sort | tr '\n' ';')" \
	"runtest tcp 8080;runtest udp 123;"
check "  DNS queries and denials (dtest)" \
	eq "$(jq -r '.servers[] | select(.server=="dtest") | "\(.dns) \(.dns_denied)"' "$D/all.json")" "4 2"
check "  bytes up and down are the close records' sums" \
	eq "$(jq -r '.servers[] | select(.server=="ptest") | .bytes_down' "$D/all.json")" \
	"$(jq -s '[.[] | .bytes_down // 0] | add' "$L/enforce.log")"
check "  text: aligned columns, bytes with units" \
	eq "$(awk 'NR==2' "$D/all.txt" | grep -cE '^server +requests +allow')$(grep -cE ' [0-9.]+ (B|KiB|MiB) ' "$D/all.txt" | sed 's/^[1-9][0-9]*$/y/')" "1y"

# ---- hosts and the filters -------------------------------------------------------------
"$SLUICE" log hosts --format csv --server ptest "${LOGS[@]}" >"$D/hosts.csv"
check "hosts csv: header and one row per host and port" \
	eq "$(head -1 "$D/hosts.csv" | tr -d '\r')" "server,host,port,count,allow,deny,would_deny,dns,bytes_up,bytes_down,first,last,rule,note"
check "  allowed.test:443 allowed once by its rule" \
	eq "$(grep '^ptest,allowed.test,443,' "$D/hosts.csv" | cut -d, -f4-7,13 | tr -d '\r')" "1,1,0,0,allowed.test"
check "  the IP literal and the metadata name are rows too" \
	eq "$(cut -d, -f2,3 "$D/hosts.csv" | grep -cE '^(198.51.100.10,8081|metadata.google.internal,80)$')" "2"
check "--server: only that server's rows" eq "$(cut -d, -f1 "$D/hosts.csv" | sort -u | tr -d '\r' | tr '\n' ' ')" "ptest server "
j() { "$SLUICE" log hosts --format json "$@" "${LOGS[@]}"; }
check "--decision deny: no allowed row" \
	eq "$(j --decision deny | jq '[.hosts[] | select(.allow>0)] | length'):$(j --decision deny | jq '.hosts | length > 3')" "0:true"
check "--decision would_deny: rtest only" eq "$(j --decision would_deny | jq -r '[.hosts[].server] | unique | join(",")')" "rtest"
check "--event dns: DNS-only names, no port" \
	eq "$(j --event dns --server dtest | jq -r '.hosts[] | "\(.host) \(.port) \(.note)"' | sort | tr '\n' ';')" \
	"allowed.test null dns_only;denied.test null dns_only;metadata.google.internal null dns_only;x.wild.test null dns_only;"
check "--event transparent: run's transparent connection" \
	eq "$(j --event transparent | jq -r '.hosts[] | "\(.server) \(.host) \(.port)"')" "runtest allowed.test 443"
check "--event packet --event http: both kinds" \
	eq "$(j --event packet --event http | jq -r '[.hosts[].host] | map(select(. == "203.0.113.9" or . == "other.test")) | unique | join(",")')" "203.0.113.9,other.test"
check "--host *.wild.test: names below it only" \
	eq "$(j --host '*.wild.test' | jq -r '[.hosts[].host] | unique | join(",")')" "a.wild.test,b.wild.test,bad.wild.test,c.wild.test,x.wild.test"
check "--host exact" eq "$(j --host other.test | jq -r '[.hosts[].host] | unique | join(",")')" "other.test"
check "--since 1h: everything (written just now)" eq "$(j --since 1h | jq '.hosts|length')" "$(j | jq '.hosts|length')"
check "--since in the future: nothing" eq "$(j --since 2999-01-01T00:00:00Z | jq '.hosts|length')" "0"
check "--until 2000-01-01 (RFC 3339 with offset): nothing" eq "$(j --until 2000-01-01T00:00:00+02:00 | jq '.hosts|length')" "0"
check "--until 7d ago: nothing; --since 7d: everything" \
	eq "$(j --until 7d | jq '.hosts|length') $(j --since 7d | jq '.hosts|length')" "0 $(j | jq '.hosts|length')"
check "text hosts sorted by count" \
	eq "$("$SLUICE" log hosts "${LOGS[@]}" | awk 'NR>1{print $4}' | sort -c -n -r 2>&1 && echo sorted)" "sorted"
"$SLUICE" log hosts --decision maybe "${LOGS[@]}" >/dev/null 2>"$D/bad.err"
check "a bad filter value is a usage error (2) naming it" \
	eq "$?:$(grep -c "decision 'maybe'" "$D/bad.err")" "2:1"

# ---- invalid lines, .gz, stdin --------------------------------------------------------------
{ cat "$L/enforce.log"; echo 'not json at all'; echo '{"ts":"2025-01-01T00:00:00Z","event":"http","future":{"k":[1,2]},"phase":"decision","server":"ptest","host":"new.test","port":80,"decision":"deny","reason":"not_allowed"}'; head -1 "$L/enforce.log" | head -c 40; } >"$D/junk.log"
"$SLUICE" log summary --format json "$D/junk.log" >"$D/junk.json" 2>"$D/junk.err"
check "junk and a truncated last line: counted, not fatal" \
	eq "$?:$(grep -c 'log: 2 of .* lines were not valid records' "$D/junk.err")" "0:1"
check "  the first bad line is named with its number" \
	grep -q "junk.log:$(($(wc -l <"$L/enforce.log") + 1)), byte 0" "$D/junk.err"
check "  a record with an unknown key is still counted" \
	eq "$(jq '.servers[0].requests' "$D/junk.json")" "$(($(jq '.servers[] | select(.server=="ptest") | .requests' "$D/all.json") + 1))"
gzip -c "$L/enforce.log" >"$D/enforce.log.gz"
check ".gz reads the same as the plain file" \
	eq "$("$SLUICE" log hosts --format csv "$D/enforce.log.gz")" "$("$SLUICE" log hosts --format csv "$L/enforce.log")"
check "stdin with no file and with -" \
	eq "$("$SLUICE" log hosts --format csv <"$L/enforce.log" | md5sum)$("$SLUICE" log hosts --format csv - <"$D/enforce.log.gz" | md5sum)" \
	"$("$SLUICE" log hosts --format csv "$L/enforce.log" | md5sum)$("$SLUICE" log hosts --format csv "$L/enforce.log" | md5sum)"
"$SLUICE" log summary "$D/nonexistent.log" >/dev/null 2>"$D/nx.err"
check "a missing file: exit 1, named" eq "$?:$(grep -c 'nonexistent.log' "$D/nx.err")" "1:1"

# ---- policy: proposed from the report-mode log, loaded, replayed -----------------------------
"$SLUICE" log policy --server rtest --name proposed "${LOGS[@]}" >"$D/prop.yaml" 2>"$D/prop.err"
check "policy: proposed without error" eq "$?:$(cat "$D/prop.err")" "0:"
check "  sluice policy check accepts it" "$SLUICE" policy check "$D/prop.yaml" >/dev/null
# c.wild.test:443 stays exact: bad.wild.test:443 was refused by a deny entry
check "  exact names with ports (8080 too), *.wild.test:80 from two names, named --name" \
	eq "$(grep -E '^  - ' "$D/prop.yaml" | tr -d ' "' | sed 's/^-//' | sort | tr '\n' ' ')$(grep -c '^name: proposed$' "$D/prop.yaml")" \
	"*.wild.test:80 allowed.test:443 allowed.test:80 allowed.test:8080 c.wild.test:443 other.test:80 1"
check "  each entry commented with counts and first/last seen" \
	eq "$(grep -cE '^  # [0-9]+ requests .*first .*last ' "$D/prop.yaml")" "$(grep -cE '^  - ' "$D/prop.yaml")"
check "  metadata name, IP literal, deny-rule host listed for the reviewer, not proposed" \
	eq "$(grep -cE '^#   (metadata.google.internal:80  cloud metadata|198.51.100.10:8081  IP literal|bad.wild.test:443  denied by a deny entry)' "$D/prop.yaml")" "3"
check "  the allow_private addresses are named for the reviewer" grep -q '^#   allowed.test:443 -> 198.51.100.10' "$D/prop.yaml"
# the test world's origins live in documentation ranges: re-allowed as every test does
{ cat "$D/prop.yaml"; echo "$PRIV"; } >"$D/prop-world.yaml"
proxy 3131 "$D/prop-world.yaml" "$L/replay.log"
# Every decision of the report-mode log, replayed: allowed and would_deny
# requests pass, except those never proposed by rule (IP literals, names a
# deny entry refused, metadata names), which are refused like the denials.
ok=0 bad=0 never=0
while read -r ev host port dec reason; do
	case $ev in connect) url="https://$host:$port/" ;; *) url="http://$host:$port/" ;; esac
	got=$(via 3131 "$url")
	want=403
	case $dec in allow|would_deny) want=200 ;; esac
	if [[ $host =~ ^[0-9.]+$ || $reason == denied_by_rule || $reason == metadata_host ]]; then
		want=403 never=$((never + 1))
	fi
	if [ "$got" == "$want" ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "    replay $url: $got, want $want"; fi
done < <(jq -r 'select(.phase=="decision") | "\(.event) \(.host) \(.port) \(.decision) \(.reason)"' "$L/report.log")
check "  replayed through a proxy with the proposal: allowed and would_deny pass, the rest is refused" \
	eq "$ok:$bad" "$(jq -s '[.[] | select(.phase=="decision")] | length' "$L/report.log"):0"
check "  (of which never proposed by rule: the IP literal, the deny-rule name, the metadata name)" eq "$never" "3"
check "  and nothing else: another port of an allowed name is refused" eq "$(via 3131 https://other.test/)" "403"
check "log policy over several servers asks for --server (2)" \
	eq "$("$SLUICE" log policy "${LOGS[@]}" >/dev/null 2>&1; echo $?)" "2"
"$SLUICE" log policy --server ptest --since 2999-01-01T00:00:00Z "${LOGS[@]}" >/dev/null 2>"$D/empty.err"
check "  an empty window says so once and exits 1" eq "$?:$(grep -c . "$D/empty.err"):$(grep -c 'no records in the window' "$D/empty.err")" "1:1:1"

# ---- diff: a planted unused entry and planted never-matching ones ----------------------------
cat >"$D/diff.yaml" <<'YAML'
version: 1
name: ptest
allow: [allowed.test, "*.wild.test", unused.test, "10.9.9.9", gone.test, "198.51.100.10:8081"]
deny: [bad.wild.test, gone.test]
allow_private: ["198.51.100.0/24", "2001:db8::/32", "10.1.0.0/16:5432"]
YAML
"$SLUICE" log diff "$D/diff.yaml" --format json "${LOGS[@]}" >"$D/diff.json"
check "diff: the planted unused entry is found" \
	eq "$(jq -r '.unused[] | select(.list=="allow") | .entry' "$D/diff.json" | sort | tr '\n' ' ')" "10.9.9.9 gone.test unused.test "
check "  never matching: private address, host also in deny, a port nothing admits" \
	eq "$(jq -r '.never_matching[] | "\(.entry): \(.why)"' "$D/diff.json" | sort | tr '\n' ';')" \
	"10.1.0.0/16:5432: its port is not in ports and no allow entry names it;10.9.9.9: a private address without allow_private;gone.test: the host is also in deny;"
check "  denied hosts with the entry that would admit them" \
	eq "$(jq -r '.denied[] | select(.host=="other.test") | "\(.this_policy) \(.would_admit)"' "$D/diff.json")" \
	'not_allowed add "other.test" (or "other.test:80") to allow'
check "  text format prints the three tables" \
	eq "$("$SLUICE" log diff "$D/diff.yaml" "${LOGS[@]}" | grep -cE '^(unused|denied|never_matching):$')" "3"

# ---- sluice run --learn: report mode for the run, the proposal beside the log ----------------
echo '{"ts":"2020-01-01T00:00:00.000Z","event":"http","phase":"decision","server":"runtest","host":"old.test","port":80,"decision":"allow"}' >"$L/learn.log"
chmod 666 "$L/learn.log"
in_host "$SLUICE" run --learn --policy "$D/run.yaml" --log "$L/learn.log" --resolver 198.51.100.53 -- sh -c \
	"for u in https://allowed.test/ http://other.test/ http://a.wild.test/; do $CURL -o /dev/null -w '%{http_code} ' \$u; done; exit 3" \
	>"$D/learn.out" 2>"$D/learn.err"
check "run --learn: the command's status is kept" eq "$?" "3"
check "  report mode for the run: what the policy denies is let through (would_deny)" \
	eq "$(cat "$D/learn.out"):$(jq -r 'select(.phase=="decision" and .event=="http") | "\(.host) \(.decision)"' "$L/learn.log" | sort | tr '\n' ' ')" \
	"200 200 200 :a.wild.test would_deny old.test allow other.test would_deny "
check "  the proposed policy is written beside the log and named on stderr" \
	grep -qF "the proposed policy is $L/learn.log.policy.yaml" "$D/learn.err"
check "  it passes policy check and holds this run's hosts only (not the older record's)" \
	eq "$("$SLUICE" policy check "$L/learn.log.policy.yaml" >/dev/null && grep -E '^  - ' "$L/learn.log.policy.yaml" | tr -d ' "' | sort | tr '\n' ' ')" \
	"-a.wild.test:80 -allowed.test:443 -other.test:80 "
check "  --learn without --log is a usage error (2)" \
	eq "$(in_host "$SLUICE" run --learn -- true 2>/dev/null; echo $?)" "2"

# ---- report --html: one self-contained file, checked in headless Chromium --------------------
"$SLUICE" log report --html "$D/report.html" "${LOGS[@]}" 2>"$D/report.err"
check "report: written, no message" eq "$?:$(cat "$D/report.err"):$(test -s "$D/report.html" && echo y)" "0::y"
check "  self-contained: no URL, src, href, @import or url() in it" \
	eq "$(grep -ciE '://|src=|href=|@import|url\(' "$D/report.html")" "0"
check "  one section per server, with its charts (time, hosts, bytes, reasons)" \
	eq "$(grep -c '<section class="server">' "$D/report.html"):$(grep -oE '<svg class="chart [a-z]+' "$D/report.html" | sort -u | wc -l)" "4:4"
CHR=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync --window-size=1000,2400)
chr() { # a fresh profile each time
	local prof
	prof=$(mktemp -d "$D/chr.XXXXXX")
	in_host timeout 90 "${CHR[@]}" --user-data-dir="$prof" "$@" 2>>"$D/chromium.err"
}
if ! command -v chromium >/dev/null || ! chr --dump-dom about:blank 2>/dev/null | grep -q '<body'; then
	echo "# SKIP: headless chromium cannot run here ($(command -v chromium || echo 'not installed')); the browser checks are skipped"
else
	chr --log-net-log="$D/net-report.json" --screenshot="$D/shot.png" "file://$D/report.html" >/dev/null
	read -r green red orange blue ink < <(python3 "$HERE/pngstat.py" "$D/shot.png" 2e7d32 c62828 ef6c00 1565c0)
	check "  screenshot: the charts are drawn (allow $green, deny $red, would_deny $orange, bars $blue px)" \
		test "$green" -gt 1000 -a "$red" -gt 500 -a "$orange" -gt 300 -a "$blue" -gt 3000
	chr --log-net-log="$D/net-blank.json" --dump-dom about:blank >/dev/null
	printf '<html><body><img src="http://198.51.100.10/pixel.png"></body></html>' >"$D/control.html"
	chr --log-net-log="$D/net-control.json" --dump-dom "file://$D/control.html" >/dev/null
	# the browser's own service hosts (update, time, sign-in) show up whatever the page; the
	# report itself holds no URL (checked above), so only other hosts would be its requests
	urls() { grep -o '"url":"[a-z]*://[^/":]*' "$1" | cut -d'"' -f4 | grep -vE '\.(google|googleapis|gstatic)\.com$' | sort -u; }
	check "  opened from disk it asks the network for nothing" eq "$(urls "$D/net-report.json")" ""
	check "  (the network log shows a page's own request: the control page's image)" \
		eq "$(urls "$D/net-control.json")" "http://198.51.100.10"
	chr --dump-dom "file://$D/report.html" >"$D/dom.html"
	python3 "$HERE/domrows.py" "$D/dom.html" >"$D/dom.rows"
	"$SLUICE" log hosts --format csv "${LOGS[@]}" | tr -d '\r' | awk -F, 'NR>1{print $1","$2","$3","$4}' | sort >"$D/csv.rows"
	check "  DOM: the host tables hold exactly the rows of sluice log hosts" \
		eq "$(grep -v '^first' "$D/dom.rows" | md5sum)" "$(md5sum <"$D/csv.rows")" ||
		diff "$D/csv.rows" <(grep -v '^first' "$D/dom.rows") | head -5
	first=$(grep '^first:' "$D/dom.rows" | cut -d: -f2)
	check "  the host table comes sorted by requests, busiest first" \
		eq "$(tr ' ' '\n' <<<"$first" | sort -rn | tr '\n' ' ')" "$first "
	ports=$(grep '^firstports:' "$D/dom.rows" | cut -d: -f2)
	chr --dump-dom "file://$D/report.html#sort=1" >"$D/dom-sorted.html"
	sorted=$(python3 "$HERE/domrows.py" "$D/dom-sorted.html" | grep '^firstports:' | cut -d: -f2)
	check "  its script sorts a column (#sort=1: by port, as numbers, so the order changed)" \
		eq "$(tr ' ' '\n' <<<"$sorted" | sort -n | tr '\n' ' ')$([ "$sorted" != "$ports" ] && echo changed)" "$sorted changed"
	chr --print-to-pdf="$D/report.pdf" --no-pdf-header-footer "file://$D/report.html" >/dev/null
	check "  prints to PDF" test "$(pdfinfo "$D/report.pdf" 2>/dev/null | awk '/^Pages:/{print $2}')" -ge 1
	pdftoppm -r 50 -f 1 -l 1 "$D/report.pdf" "$D/page"
	read -r green blue ink < <(python3 "$HERE/pngstat.py" "$D"/page*.ppm 2e7d32 1565c0)
	check "  and pdftoppm renders its first page with the charts (allow $green, bars $blue px)" \
		test "$green" -gt 100 -a "$blue" -gt 200
fi

# ---- generated logs: size and the table's bound -----------------------------------------------
python3 "$HERE/loggen.py" 200 "$D/big.log"
/usr/bin/time -f '%M' -o "$D/rss" "$SLUICE" log summary --format json "$D/big.log" >"$D/big.json" 2>"$D/big.err"
check "200 MiB generated log: read whole, no invalid line" eq "$?:$(cat "$D/big.err")" "0:"
check "  requests counted = connect/http/transparent decision lines" \
	eq "$(jq '[.servers[].requests] | add' "$D/big.json")" \
	"$(grep '"phase":"decision"' "$D/big.log" | grep -cE '"event":"(connect|http|transparent)"')"
check "  in bounded memory (peak RSS $(cat "$D/rss") KiB < 64 MiB)" test "$(cat "$D/rss")" -lt 65536
python3 - "$D/wide.log" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(210000):
        f.write('{"ts":"2025-01-01T00:00:00.000Z","event":"dns","phase":"decision","server":"w","host":"n%d.wide.test","decision":"allow"}\n' % i)
PY
"$SLUICE" log hosts --format csv "$D/wide.log" >"$D/wide.csv" 2>"$D/wide.err"
check "more keys than the table holds: a clear message, not fatal" \
	eq "$?:$(grep -c 'the table is full (200000 rows' "$D/wide.err")" "0:1"
check "  the rows that fit are still reported" eq "$(($(wc -l <"$D/wide.csv") - 1))" "200000"

for p in "${PIDS[@]}"; do stop "$p"; done
finish
