#!/usr/bin/env bash
# dns_test.sh SLUICE: `sluice dns` between dig and a real upstream (dnsmasq)
# in a private namespace world. dnsmasq logs every query it receives, which
# proves what the stub forwarded and what it never did.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
world_up || { echo "could not build the test world"; exit 1; }

D=$WORLD_DIR
LOG=$D/dns-audit.log
UPLOG=$D/dnsmasq.log
cat >"$D/dns.yaml" <<'YAML'
version: 1
name: dnstest
allow:
  - allowed.test
  - "*.wild.test"
  - rebind.test
  - private.test
  - mixed.test
  - alias.test
  - sneaky.test
  - txt.test
  - big.test
  - mail.test
  - v6only.test
  - github.com:22
  - gone.test
deny: [secret.wild.test]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML

world_bg "$NS_HOST" "$SLUICE" dns --listen 127.0.0.1:53 --listen '[::1]:53' --policy "$D/dns.yaml" \
	--upstream 198.51.100.53 --log "$LOG" 2>>"$D/sluice.err"
STUB_PID=$!
wait_port "$NS_HOST" 127.0.0.1 53

DIG=(in_host dig +time=2 +tries=1 @127.0.0.1)
# "<rcode> <answers sorted, one line>"
ask() {
	local out
	out=$("${DIG[@]}" +noall +comments +answer "$@")
	printf '%s %s' "$(printf '%s\n' "$out" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')" \
		"$(printf '%s\n' "$out" | grep -v '^;' | grep . | awk '{print $4, $5}' | sort | tr '\n' ' ' | sed 's/ $//')"
}
# How many times dnsmasq was asked about a name (exact, any type).
upstream_count() { grep -c "query\[[A-Z0-9]*\] $1 from" "$UPLOG"; }
# dnsmasq logs through a pipe: give it a moment.
settle() { sleep 0.3; }
# The stub's record for a host and type: "decision reason rcode"
rec() { jq -r --arg h "$1" --arg t "$2" 'select(.host==$h and .qtype==$t) | "\(.decision) \(.reason) \(.rcode)"' "$LOG" | tail -1; }

# ---- allowed names ----------------------------------------------------------
check "A over UDP: the upstream's answer" eq "$(ask allowed.test A)" "NOERROR A 198.51.100.10"
check "AAAA over TCP" eq "$(ask +tcp allowed.test AAAA)" "NOERROR AAAA 2001:db8::10"
check "over IPv6 to [::1]" eq "$(in_host dig +short @::1 allowed.test A)" "198.51.100.10"
check "  record: event dns with host, qtype, decision, reason, rcode, dns_ms" \
	eq "$(jq -c 'select(.host=="allowed.test" and .qtype=="A") | [.event, .phase, .server, .decision, .reason, .rcode, .rule, (.dns_ms >= 0), .addrs]' "$LOG" | head -1)" \
	'["dns","decision","dnstest","allow","allowed","NOERROR","allowed.test",true,["198.51.100.10"]]'
check "wildcard subdomain" eq "$(ask a.b.wild.test A)" "NOERROR A 198.51.100.10"
check "a name allowed only on port 22 still resolves" eq "$(ask github.com A | cut -d' ' -f1)" "SERVFAIL"
check "  (forwarded: the world's upstream refuses it)" test "$(settle; upstream_count github.com)" -ge 1
check "  record: resolve_failed" eq "$(rec github.com A)" "deny resolve_failed SERVFAIL"
check "CNAME chain passes through" \
	eq "$(ask alias.test A)" "NOERROR A 198.51.100.10 CNAME target.test."
check "TXT passes through" eq "$(in_host dig +short @127.0.0.1 txt.test TXT)" '"hello sluice"'
check "MX passes through" eq "$(ask mail.test MX)" "NOERROR MX 10"
check "  with its exchange name" eq "$(in_host dig +short @127.0.0.1 mail.test MX)" "10 target.test."

# ---- the query sent upstream is rebuilt, and answers are cached --------------
"${DIG[@]}" +short +nsid +cookie +subnet=198.51.100.0/24 CaSe.WILD.test A >"$D/case.out"
check "mixed-case query with EDNS options gets the answer" eq "$(cat "$D/case.out")" "198.51.100.10"
check "  the question is echoed as the client spelled it" \
	eq "$("${DIG[@]}" +noall +question CaSe.WILD.test A | awk '{print $1}')" ";CaSe.WILD.test."
settle
check "  upstream saw the canonical name, once (the second query was cached)" \
	eq "$(grep -c 'query\[A\] case.wild.test from' "$UPLOG"):$(grep -c 'CaSe' "$UPLOG")" "1:0"
check "  upstream never saw the client's EDNS options (no ECS or cookie)" \
	eq "$(grep -ci 'subnet\|cookie\|nsid' "$UPLOG")" "0"
check "allowed.test A was asked upstream once for three client queries" eq "$(upstream_count allowed.test)" "2"

# ---- blocked addresses ----------------------------------------------------------
check "an allowed name answering a private address: NXDOMAIN" eq "$(ask private.test A)" "NXDOMAIN "
check "  record: deny blocked_address" eq "$(rec private.test A)" "deny blocked_address NXDOMAIN"
check "rebinding to 127.0.0.1: NXDOMAIN" eq "$(ask rebind.test A)" "NXDOMAIN "
check "public and private answers: only the usable one comes back" \
	eq "$(ask mixed.test A)" "NOERROR A 198.51.100.10"
check "  and the record lists only it" \
	eq "$(jq -c 'select(.host=="mixed.test") | .addrs' "$LOG" | tail -1)" '["198.51.100.10"]'
check "CNAME to a private address: NXDOMAIN, no CNAME leaked" eq "$(ask sneaky.test A)" "NXDOMAIN "
check "an allowed name with no A record: empty NOERROR, not a denial" eq "$(ask txt.test A)" "NOERROR "
check "  record: allow" eq "$(rec txt.test A)" "allow allowed NOERROR"
check "the upstream's NXDOMAIN for an allowed name passes through" eq "$(ask gone.test A)" "NXDOMAIN "
check "  record: allow, rcode NXDOMAIN" eq "$(rec gone.test A)" "allow allowed NXDOMAIN"
check "  and is cached (SOA TTL, floor 5 s): asked upstream once for two queries" \
	eq "$(ask gone.test A >/dev/null; settle; upstream_count gone.test)" "1"

# ---- denied names: answered locally, never forwarded -------------------------------
check "a name not in the policy: NXDOMAIN" eq "$(ask denied.test A)" "NXDOMAIN "
check "  record: deny not_allowed" eq "$(rec denied.test A)" "deny not_allowed NXDOMAIN"
check "exfiltration-style subdomain: NXDOMAIN" \
	eq "$(ask c2VjcmV0.denied.test TXT | cut -d' ' -f1)" "NXDOMAIN"
check "denied by rule (deny wins over *.wild.test)" eq "$(ask secret.wild.test A)" "NXDOMAIN "
check "  record: deny denied_by_rule" eq "$(rec secret.wild.test A)" "deny denied_by_rule NXDOMAIN"
check "cloud metadata name: NXDOMAIN" eq "$(ask metadata.google.internal A)" "NXDOMAIN "
check "  record: deny metadata_host" eq "$(rec metadata.google.internal A)" "deny metadata_host NXDOMAIN"
check "PTR for a private address is answered locally" eq "$(ask -x 10.1.2.3 | cut -d' ' -f1)" "NXDOMAIN"
check "  record: deny blocked_address" eq "$(rec 3.2.1.10.in-addr.arpa PTR)" "deny blocked_address NXDOMAIN"
check "a name with a byte outside LDH: NXDOMAIN, bad_request" \
	eq "$(ask 'a\032b.allowed.test' A)" "NXDOMAIN "
check "TCP: denied name NXDOMAIN too" eq "$(ask +tcp denied.test AAAA)" "NXDOMAIN "
settle
check "upstream never saw a denied name, or any name under one" \
	eq "$(grep -c 'denied\.test\|secret\.wild\|metadata\|in-addr\.arpa\|a\\\\032b\|a b' "$UPLOG")" "0"
check "  while it did see the allowed ones" eq "$(upstream_count sneaky.test)" "1"
check "denials also reach stderr with the policy hint" \
	grep -q 'dns: denied A denied.test (not_allowed): add "denied.test"' "$D/sluice.err"

# ---- ANY: the stub's own RFC 8482 answer, never forwarded ------------------------
check "ANY for an allowed name: the stub's HINFO \"RFC8482\"" \
	eq "$(ask anyonly.wild.test ANY)" 'NOERROR HINFO "RFC8482"'
check "  over TCP too" eq "$(ask +tcp anyonly.wild.test ANY)" 'NOERROR HINFO "RFC8482"'
check "  record: allow, qtype ANY, NOERROR" eq "$(rec anyonly.wild.test ANY)" "allow allowed NOERROR"
check "ANY for a denied name: NXDOMAIN" eq "$(ask denied.test ANY)" "NXDOMAIN "
settle
check "  upstream was asked neither about the name nor for ANY at all" \
	eq "$(upstream_count anyonly.wild.test):$(grep -c 'query\[ANY\]' "$UPLOG")" "0:0"
check "  (while an A query for the name is forwarded: the count can move)" \
	eq "$(ask anyonly.wild.test A >/dev/null; settle; upstream_count anyonly.wild.test)" "1"

# ---- SVCB/HTTPS: hints in blocked ranges are removed --------------------------------
# A second dnsmasq (port 5353) serves hand-built records through --dns-rr, and a
# second stub asks it.
svcb() { python3 "$HERE/dnsraw.py" svcb_hex "$@"; }
UPLOG2=$D/dnsmasq-svcb.log
MIXED="alpn=h2 ipv4hint=198.51.100.10,10.1.2.3,127.0.0.1 ipv6hint=2001:db8::10,fd00::1,::ffff:0:a9fe:a9fe,::ffff:127.0.0.1"
# shellcheck disable=SC2086 # MIXED is a list of parameters
world_bg "$NS_NET" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=198.51.100.53 --port=5353 --log-queries --log-facility="$UPLOG2" \
	--pid-file="$D/dnsmasq-svcb.pid" --local=/test/ \
	--dns-rr=hints.wild.test,65,"$(svcb 1 $MIXED)" --dns-rr=svcb.wild.test,64,"$(svcb 1 $MIXED)" \
	--dns-rr=allblocked.wild.test,65,"$(svcb 1 alpn=h2 ipv4hint=10.1.2.3 ipv6hint=::1)" \
	--dns-rr=mandatory.wild.test,65,"$(svcb 1 mandatory=ipv4hint ipv4hint=169.254.169.254)" \
	--dns-rr=badorder.wild.test,65,"$(svcb 1 ipv4hint=198.51.100.10 alpn=h2)" \
	--address=/xlat.wild.test/::ffff:0:808:808 --address=/outside.wild.test/4000::1 \
	--address=/xlatmix.wild.test/::ffff:0:a9fe:a9fe --address=/xlatmix.wild.test/2001:db8::10
world_bg "$NS_HOST" "$SLUICE" dns --listen 127.0.0.1:5301 --policy "$D/dns.yaml" \
	--upstream 198.51.100.53:5353 --log "$D/dns-audit-svcb.log" 2>>"$D/sluice.err"
wait_port "$NS_HOST" 127.0.0.1 5301
SVC_DIG=(in_host dig +time=2 +tries=1 -p 5301 @127.0.0.1)
# "<rcode> <answer records>" from the second stub
svc_ask() {
	"${SVC_DIG[@]}" +noall +comments +answer "$@" | sed -n '/status:/{s/.*status: \([A-Z]*\),.*/\1/p;d};/^[^;]/p' |
		tr '\n' ' ' | sed 's/ $//'
}
check "the upstream's HTTPS record carries blocked hints (the control)" \
	eq "$(in_host dig +time=2 +tries=1 -p 5353 @198.51.100.53 +short hints.wild.test HTTPS)" \
	'1 . alpn="h2" ipv4hint=198.51.100.10,10.1.2.3,127.0.0.1 ipv6hint=2001:db8::10,fd00::1,::ffff:0:a9fe:a9fe,::ffff:127.0.0.1'
check "HTTPS through the stub: only the usable ipv4hint and ipv6hint addresses are left" \
	eq "$("${SVC_DIG[@]}" +short hints.wild.test HTTPS)" '1 . alpn="h2" ipv4hint=198.51.100.10 ipv6hint=2001:db8::10'
check "  over TCP too" \
	eq "$("${SVC_DIG[@]}" +tcp +short hints.wild.test HTTPS)" '1 . alpn="h2" ipv4hint=198.51.100.10 ipv6hint=2001:db8::10'
check "SVCB: the same" eq "$("${SVC_DIG[@]}" +short svcb.wild.test SVCB)" '1 . alpn="h2" ipv4hint=198.51.100.10 ipv6hint=2001:db8::10'
check "only blocked hints: both keys go, alpn stays" eq "$("${SVC_DIG[@]}" +short allblocked.wild.test HTTPS)" '1 . alpn="h2"'
check "a mandatory ipv4hint left empty: the record goes" eq "$(svc_ask mandatory.wild.test HTTPS)" "NOERROR"
check "malformed SvcParams (keys out of order): the record goes, the answer is NOERROR" \
	eq "$(svc_ask badorder.wild.test HTTPS)" "NOERROR"
settle
check "  (both were asked upstream)" \
	eq "$(grep -c 'query\[HTTPS\] mandatory.wild.test\|query\[HTTPS\] badorder.wild.test' "$UPLOG2")" "2"
check "  records: allow, no addresses bound from hints" \
	eq "$(jq -c 'select(.host=="hints.wild.test") | [.qtype, .decision, .rcode, .addrs]' "$D/dns-audit-svcb.log" | sort -u)" \
	'["HTTPS","allow","NOERROR",null]'


# ---- IPv6 outside 2000::/3 is blocked, whatever it embeds ---------------------------
check "AAAA in ::ffff:0:0:0/96 (IPv4-translated, a public IPv4 inside): NXDOMAIN" \
	eq "$(svc_ask xlat.wild.test AAAA)" "NXDOMAIN"
check "  record: deny blocked_address" \
	eq "$(jq -r 'select(.host=="xlat.wild.test") | "\(.decision) \(.reason) \(.rcode)"' "$D/dns-audit-svcb.log")" \
	"deny blocked_address NXDOMAIN"
check "AAAA in 4000::/2: NXDOMAIN" eq "$(svc_ask outside.wild.test AAAA)" "NXDOMAIN"
check "translated and allowed addresses: only the allowed one comes back" \
	eq "$("${SVC_DIG[@]}" +short xlatmix.wild.test AAAA)" "2001:db8::10"

# ---- size limits ------------------------------------------------------------------
check "an answer over 512 bytes without EDNS comes back truncated (TC)" \
	grep -q 'flags: qr tc' <("${DIG[@]}" +noedns +ignore big.test TXT)
check "  dig's TCP retry gets the whole answer" \
	eq "$(in_host dig +short +noedns @127.0.0.1 big.test TXT | wc -c)" "759"
check "  with EDNS 1232 it fits in one datagram" \
	eq "$("${DIG[@]}" +bufsize=1232 +ignore big.test TXT | grep -c 'flags: qr tc')" "0"

# ---- malformed queries ----------------------------------------------------------------
in_host python3 "$HERE/dnsraw.py" 127.0.0.1 53 malformed >"$D/malformed.out"
while read -r name want; do
	check "malformed: $name → $want" eq "$(awk -v n="$name" '$1==n{print $2}' "$D/malformed.out")" "$want"
done <<'EOF'
truncated_header noanswer
qdcount_0 FORMERR
qdcount_2 FORMERR
label_over_63 FORMERR
name_over_255 FORMERR
pointer_loop FORMERR
pointer_out_of_range FORMERR
trailing_garbage FORMERR
wrong_class NOTIMP
opcode_update NOTIMP
answer_in_query FORMERR
second_additional FORMERR
edns_version_1 FORMERR
axfr NOTIMP
response_bit noanswer
tc_set FORMERR
tc_set_edns FORMERR
opt_option_overrun FORMERR
opt_option_partial FORMERR
ecs_bad_family FORMERR
ecs_prefix_too_long FORMERR
ecs_address_bytes FORMERR
ecs_valid NOERROR
EOF
check "malformed queries are logged as bad_request" \
	eq "$(jq -r 'select(.reason=="bad_request") | .rcode' "$LOG" | sort | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')" \
	"FORMERR:17 NOTIMP:3 NXDOMAIN:1 "
check "the stub still answers after them" eq "$(ask allowed.test A)" "NOERROR A 198.51.100.10"
check "TCP pipelining: three queries in one write, three answers" \
	eq "$(in_host python3 "$HERE/dnsraw.py" 127.0.0.1 53 pipeline | tr '\n' ' ')" "1 2 3 "
check "a burst read as one batch: each answer its own datagram, echoing its question" \
	eq "$(ask allowed.test A >/dev/null; in_host python3 "$HERE/dnsraw.py" 127.0.0.1 53 burst "$STUB_PID")" \
	"replies 24/24 matched 24"
check "EDNS query gets an OPT back over UDP" \
	eq "$("${DIG[@]}" +edns=0 allowed.test A | grep -c 'OPT PSEUDOSECTION')" "1"

in_host python3 "$HERE/dnsraw.py" 127.0.0.1 53 tcp_limits 256 10 >"$D/tcp.out"
check "TCP: a connection over the cap of 256 is closed at once" grep -qx 'over_cap closed' "$D/tcp.out"
check "TCP: an idle connection is closed after 10 s" grep -qx 'idle closed' "$D/tcp.out"
check "  and the stub serves TCP again" eq "$(ask +tcp allowed.test A)" "NOERROR A 198.51.100.10"

# ---- fails closed, and a clean exit ------------------------------------------------
world_bg "$NS_HOST" "$SLUICE" dns --listen 127.0.0.1:5300 --policy "$D/dns.yaml" \
	--upstream 198.51.100.53 --log /dev/full 2>"$D/full.err"
sleep 0.5
FULL_DIG=(in_host dig +time=2 +tries=1 -p 5300 @127.0.0.1 +noall +comments)
"${FULL_DIG[@]}" denied.test A >/dev/null # its record is the first that cannot be written
check "with an unwritable log: REFUSED, nothing forwarded" \
	eq "$("${FULL_DIG[@]}" never.wild.test A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'):$(settle; upstream_count never.wild.test)" "REFUSED:0"
check "  and the failure was loud" grep -q 'audit log write failed' "$D/full.err"
# ---- a reload: decisions follow the new policy at once ---------------------------
ask txt.test TXT >/dev/null # decided (and remembered) under the old policy
ask denied.test A >/dev/null
sed -i 's/^  - txt.test$/  - denied.test/' "$D/dns.yaml"
kill -HUP "$STUB_PID"
sleep 0.5
check "after SIGHUP a name the new policy drops is denied" eq "$(ask txt.test TXT)" "NXDOMAIN "
check "  record: deny not_allowed" eq "$(rec txt.test TXT)" "deny not_allowed NXDOMAIN"
ask denied.test A >/dev/null
check "  and a name it adds is allowed" eq "$(rec denied.test A | cut -d' ' -f1-2)" "allow allowed"
kill -TERM "$STUB_PID"
wait "$STUB_PID"
check "SIGTERM: exits 0" eq "$?" "0"
check "no sanitizer report" eq "$(grep -c 'ERROR: AddressSanitizer\|runtime error' "$D/sluice.err" "$D/full.err" | awk -F: '{s+=$2} END{print s}')" "0"
finish
