#!/usr/bin/env bash
# run_test.sh SLUICE: `sluice run` inside the test world's host namespace: the
# command gets its own user, network and mount namespaces; only the
# supervisor's proxy and DNS stub lead out. Run as root and as nobody.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
world_up || { echo "could not build the test world"; exit 1; }

D=$WORLD_DIR
chmod 755 "$D"
mkdir -p "$D/logs" && chmod 1777 "$D/logs"
LOG=$D/logs/run.log
cat >"$D/run.yaml" <<'YAML'
version: 1
name: runtest
allow: [allowed.test, "allowed.test:7008"]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
env: [KEEP_ME]
YAML
chmod 644 "$D"/*.yaml "$D/ca.pem"

# sluice run in the world's host namespace; prints the command's stdout
run() { in_host "$SLUICE" run --policy "$D/run.yaml" --log "$LOG" --resolver 198.51.100.53 "$@" 2>>"$D/run.err"; }
as_nobody() { in_host setpriv --reuid=nobody --regid=nogroup --clear-groups "$SLUICE" run --policy "$D/run.yaml" \
	--log "$D/logs/nobody.log" --resolver 198.51.100.53 "$@" 2>>"$D/run.err"; }
CURL="curl -sS --max-time 5 --cacert $D/ca.pem"
# "<exit code> <seconds, one decimal>" of a command inside the sandbox
timed() { run sh -c 's=$(date +%s%N); "$@" >/dev/null 2>&1; r=$?; echo "$r $(( ($(date +%s%N) - s) / 100000000 ))"' sh "$@"; }

check "HTTPS through the proxy variables reaches an allowed origin" \
	eq "$(run $CURL https://allowed.test/)" "hello from allowed.test"
check "  logged with the policy's name" \
	eq "$(jq -r 'select(.event=="connect" and .phase=="decision") | "\(.server) \(.host) \(.decision)"' "$LOG" | head -1)" "runtest allowed.test allow"
check "a host outside the policy is refused by the proxy (curl exit 56)" \
	eq "$(run sh -c "$CURL https://other.test/ >/dev/null 2>&1; echo \$?")" "56"
check "  and logged as not_allowed" \
	eq "$(jq -r 'select(.host=="other.test") | "\(.decision) \(.reason)"' "$LOG" | head -1)" "deny not_allowed"
check "DNS to any resolver is answered by the stub" \
	eq "$(run dig +short +time=2 +tries=1 @203.0.113.53 allowed.test A)" "198.51.100.10"
check "  a denied name gets NXDOMAIN" \
	eq "$(run dig +time=2 +tries=1 @203.0.113.53 denied.test A | grep -o 'status: [A-Z]*')" "status: NXDOMAIN"
check "  both logged as dns records" \
	eq "$(jq -r 'select(.event=="dns") | "\(.host) \(.decision)"' "$LOG" | sort | tr '\n' ' ')" "allowed.test allow denied.test deny "

# the escape matrix: every attempt fails at once
read -r code t < <(timed python3 "$HERE/nftprobe.py" tcp 198.51.100.10 8080)
check "TCP straight to an address:port fails within a second" test "$t" -le 10
# the transparent port: clients that ignore the proxy variables
check "curl --noproxy '*' over HTTPS: named by its TLS SNI" \
	eq "$(run $CURL --noproxy '*' https://allowed.test/)" "hello from allowed.test"
check "  logged as event transparent" \
	eq "$(jq -r 'select(.event=="transparent" and .phase=="decision") | "\(.host) \(.port) \(.decision)"' "$LOG" | head -1)" "allowed.test 443 allow"
check "  with no method key (there is no HTTP request line to name)" \
	eq "$(jq -r 'select(.event=="transparent") | has("method")' "$LOG" | sort -u)" "false"
check "curl --noproxy '*' over HTTP: named by its Host" \
	eq "$(run $CURL --noproxy '*' http://allowed.test/)" "hello from allowed.test"
check "node 20 fetch (ignores proxy variables) over HTTP" \
	eq "$(run node -e 'fetch("http://allowed.test/").then(r => r.text()).then(t => process.stdout.write(t))')" "hello from allowed.test"
check "node 20 fetch over HTTPS" \
	eq "$(NODE_EXTRA_CA_CERTS=$D/ca.pem run --env NODE_EXTRA_CA_CERTS node -e 'fetch("https://allowed.test/").then(r => r.text()).then(t => process.stdout.write(t))')" "hello from allowed.test"
check "python3 urllib through the proxy variables" \
	eq "$(run python3 -c 'import ssl, urllib.request; print(urllib.request.urlopen("https://allowed.test/", context=ssl.create_default_context(cafile="'"$D"'/ca.pem")).read().decode().strip())')" "hello from allowed.test"
git init -q "$D/work" && echo "hello repo" >"$D/work/README" && git -C "$D/work" add README &&
	git -C "$D/work" -c user.name=t -c user.email=t@t commit -qm one &&
	git clone -q --bare "$D/work" "$D/www/repo.git" && git -C "$D/www/repo.git" update-server-info
check "git clone over HTTPS through the proxy" \
	eq "$(run sh -c "GIT_SSL_CAINFO=$D/ca.pem git clone -q https://allowed.test/repo.git /tmp/sluice-clone-\$\$ && cat /tmp/sluice-clone-\$\$/README; rm -rf /tmp/sluice-clone-\$\$")" "hello repo"
ECHO='import socket, sys
s = socket.create_connection(("allowed.test", int(sys.argv[1])), timeout=5)
s.sendall(b"ping\n")
print(s.recv(100).decode().strip())'
check "raw TCP to an allowed host:port (neither TLS nor HTTP), named by the DNS binding" \
	eq "$(run python3 -c "$ECHO" 7008)" "ping"
check "  logged as transparent allow on port 7008" \
	eq "$(jq -r 'select(.event=="transparent" and .port==7008 and .phase=="decision") | "\(.host) \(.decision)"' "$LOG" | head -1)" "allowed.test allow"
check "  another port of the same host is refused by the kernel at once" \
	eq "$(run sh -c 'python3 -c "$0" 8081 2>&1' "$ECHO" | grep -o 'ConnectionRefusedError' | head -1)" "ConnectionRefusedError"
read -r code t < <(timed $CURL --noproxy '*' --resolve other.test:443:198.51.100.10 https://other.test/)
check "a refused server name is reset within a second (curl $code)" test "$t" -le 10 -a "$code" -ne 0
check "  logged as transparent deny not_allowed" \
	eq "$(jq -r 'select(.event=="transparent" and .host=="other.test") | "\(.decision) \(.reason)"' "$LOG" | head -1)" "deny not_allowed"
check "UDP to an outside port fails at once" \
	eq "$(run python3 "$HERE/nftprobe.py" udp 203.0.113.9 123 | cut -c1-8)" "error 0."
check "IPv6 to an outside address fails at once" \
	eq "$(run python3 "$HERE/nftprobe.py" tcp 2001:db8::10 8080 | cut -c1-11)" "refused 0.0"
read -r code t < <(timed ping -c1 -W3 203.0.113.9)
check "ICMP echo fails at once (no raw or ping socket in the sandbox)" test "$t" -le 10 -a "$code" -ne 0
RAW='import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print("raw socket opened")
except OSError as e:
    print(type(e).__name__)'
check "a raw socket cannot be opened" eq "$(run python3 -c "$RAW")" "PermissionError"
# (8081 is from the bound-port check above: python tried both of allowed.test's addresses)
check "the kernel's rejects became packet records (address, port, protocol)" \
	eq "$(jq -r 'select(.event=="packet") | "\(.host) \(.port) \(.protocol) \(.decision) \(.server)"' "$LOG" | sort -u | tr '\n' ';')" \
	"198.51.100.10 8080 tcp deny runtest;198.51.100.10 8081 tcp deny runtest;2001:db8::10 8080 tcp deny runtest;2001:db8::10 8081 tcp deny runtest;203.0.113.9 123 udp deny runtest;"
check "nft flush ruleset is refused" \
	eq "$(run sh -c 'nft flush ruleset 2>&1 | grep -c "Operation not permitted"')" "1"
check "  and the rules are still there afterwards" \
	eq "$(run sh -c 'nft flush ruleset 2>/dev/null; python3 '"$HERE"'/nftprobe.py tcp 203.0.113.9 22' | cut -c1-7)" "refused"
check "ip link add is refused" \
	eq "$(run sh -c 'ip link add d0 type dummy 2>&1 | grep -c "Operation not permitted"')" "1"
check "no effective or bounding capabilities" \
	eq "$(run grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status | awk '{print $2}' | sort -u)" "0000000000000000"
check "no_new_privs is set" eq "$(run grep NoNewPrivs /proc/self/status | awk '{print $2}')" "1"

# environment, stdio and exit status
env_out=$(KEEP_ME=kept DROP_ME=secret run env)
check "proxy variables are set" eq "$(grep -c '^HTTPS_PROXY=http://127.0.0.1:3128$\|^NODE_USE_ENV_PROXY=1$\|^no_proxy=localhost,127.0.0.1,::1$' <<<"$env_out")" "3"
check "variables named by the policy pass; others do not" \
	eq "$(grep -c '^KEEP_ME=kept$' <<<"$env_out"):$(grep -c DROP_ME <<<"$env_out")" "1:0"
check "--env passes a variable too" eq "$(DROP_ME=x run --env DROP_ME printenv DROP_ME)" "x"
check "stdout carries only the command's output" eq "$(run echo hi | od -c | head -1)" "$(echo hi | od -c | head -1)"
run sh -c 'exit 7'
check "the command's exit status is sluice's" eq "$?" "7"
run sh -c 'kill -TERM $$'
check "a signal's death is 128+N" eq "$?" "143"
run /nonexistent/cmd
check "a missing command exits 127" eq "$?" "127"
run sh -c 'sleep 31.7 & exit 0'
sleep 0.3
check "what the command left running ends with it (PID namespace)" eq "$(pgrep -c -f 'sleep 31.7')" "0"
check "the command is not pid 1 (init passes signals on)" eq "$(run sh -c 'echo $$')" "2"
ip netns exec "$NS_HOST" "$SLUICE" run --policy "$D/run.yaml" --log "$LOG" -- sleep 30 2>>"$D/run.err" &
SL=$!
sleep 1
t0=${EPOCHREALTIME/./}
kill -TERM "$SL"
wait "$SL"
rc=$? ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
check "SIGTERM to sluice reaches the command: exit 143 within a second (${ms} ms)" eq "$rc:$((ms < 1000))" "143:1"

# masked host sockets: a stand-in listener at nscd's path (created only when
# the machine has none there, and removed at exit)
UNIX='import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
try:
    s.connect("/run/nscd/socket")
    print(s.recv(64).decode().strip())
except OSError as e:
    print(type(e).__name__)'
if [ ! -e /run/nscd/socket ]; then
	NSCD_DIR_MADE=
	[ -d /run/nscd ] || { mkdir -p /run/nscd && NSCD_DIR_MADE=1; }
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind("/run/nscd/socket")
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"host-socket\n")
    c.close()' &
	NSCD_PID=$!
	trap 'kill $NSCD_PID 2>/dev/null; wait $NSCD_PID 2>/dev/null; rm -f /run/nscd/socket; [ -n "$NSCD_DIR_MADE" ] && rmdir /run/nscd; world_down' EXIT
	for _ in $(seq 50); do [ -S /run/nscd/socket ] && break; sleep 0.1; done
	check "outside the sandbox the stand-in host socket answers" eq "$(python3 -c "$UNIX")" "host-socket"
fi
check "inside, a masked host socket cannot be reached" eq "$(run python3 -c "$UNIX")" "ConnectionRefusedError"
sed 's/^env: \[KEEP_ME\]$/env: [KEEP_ME]\nunmask: [nscd]/' "$D/run.yaml" >"$D/unmask.yaml"
check "a policy's unmask: [nscd] leaves it reachable" \
	eq "$(in_host "$SLUICE" run --policy "$D/unmask.yaml" --log "$LOG" -- python3 -c "$UNIX" 2>>"$D/run.err")" "host-socket"

# the kernel refusing user namespaces (inside a user namespace of our own,
# whose limit we set to 0; the host's limit is untouched)
out=$(unshare -U --map-root-user sh -c "echo 0 > /proc/sys/user/max_user_namespaces && exec $SLUICE run -- true" 2>&1)
rc=$?
check "when the kernel refuses user namespaces: exit 125 and one line saying so" \
	eq "$rc:$(grep -c '^sluice: run: the kernel refuses to create user and network namespaces' <<<"$out"):$(wc -l <<<"$out")" "125:1:1"

# rootless: the same, as nobody
check "as nobody: HTTPS through the proxy works" eq "$(as_nobody $CURL https://allowed.test/)" "hello from allowed.test"
check "as nobody: the command runs as nobody" eq "$(as_nobody id -un)" "nobody"
check "as nobody: nft flush ruleset is refused" \
	eq "$(as_nobody sh -c 'nft flush ruleset 2>&1 | grep -c "Operation not permitted"')" "1"
check "as nobody: DNS through the stub" \
	eq "$(as_nobody dig +short +time=2 +tries=1 @203.0.113.53 allowed.test A)" "198.51.100.10"
PROBE='import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if sys.argv[3] == "udp" else socket.SOCK_STREAM)
s.settimeout(5)
t = time.monotonic()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.send(b"x")
    s.recv(1)
    print("reached")
except OSError as e:
    print("failed %.1f" % (time.monotonic() - t))'
check "as nobody: TCP straight to an address fails at once" eq "$(as_nobody python3 -c "$PROBE" 198.51.100.10 8080 tcp)" "failed 0.0"
check "as nobody: UDP to an outside port fails at once" eq "$(as_nobody python3 -c "$PROBE" 203.0.113.9 123 udp)" "failed 0.0"
check "as nobody: IPv6 to an outside address fails at once" eq "$(as_nobody python3 -c "$PROBE" 2001:db8::10 8080 tcp)" "failed 0.0"
check "as nobody: a raw socket cannot be opened" eq "$(as_nobody python3 -c "$RAW")" "PermissionError"
check "as nobody: ip link add is refused" \
	eq "$(as_nobody sh -c 'ip link add d0 type dummy 2>&1 | grep -c "Operation not permitted"')" "1"
check "as nobody: no effective or bounding capabilities" \
	eq "$(as_nobody grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status | awk '{print $2}' | sort -u)" "0000000000000000"
check "as nobody: the transparent port serves curl --noproxy" \
	eq "$(as_nobody $CURL --noproxy '*' https://allowed.test/)" "hello from allowed.test"
check "as nobody: a masked host socket cannot be reached" eq "$(as_nobody python3 -c "$UNIX")" "ConnectionRefusedError"
check "no sanitizer report" eq "$(grep -c 'AddressSanitizer\|runtime error' "$D/run.err")" "0"
check "sluice's only complaint was the missing command" \
	eq "$(grep 'sluice: run:' "$D/run.err" | grep -v '^sluice: run: removed [0-9]* variables\? from the environment')" \
	"sluice: run: cannot run '/nonexistent/cmd': No such file or directory"

# ---- the transparent port, request by request ----------------------------------
# Plain HTTP to port 80, ignoring the proxy variables: every request on a
# kept-alive connection is decided on its own Host.
cat >"$D/keep.yaml" <<'YAML'
version: 1
name: keeptest
allow: [allowed.test, v6only.test, "allowed.test:7008", "allowed.test:8081"]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
chmod 644 "$D/keep.yaml"
KLOG=$D/logs/keep.log
krun() { in_host "$SLUICE" run --policy "$D/keep.yaml" --log "$KLOG" --resolver 198.51.100.53 "$@" 2>>"$D/run.err"; }
# "event phase method decision reason remote" of the records for host $1
krecords() {
	jq -r --arg h "$1" 'select(.host==$h and .event=="transparent") | "\(.event) \(.phase) \(.method // "-") \(.decision) \(.reason // "-") \(.remote // "-")"' "$KLOG"
}
# KEEP [pipe] HOST...: GET / on one connection to allowed.test:80, one request
# per HOST named in its Host header (all in one write with "pipe"); prints
# what each got, ";"-separated: the body, or "<n> bytes" past 100, then
# "reset" or "closed" if the connection ended.
KEEP='import socket, sys
hosts = sys.argv[1:]
pipe = hosts[0] == "pipe"
hosts = hosts[1:] if pipe else hosts
s = socket.create_connection(("allowed.test", 80), timeout=10)
f = s.makefile("rb")
req = lambda h: b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % ((b"/big", h[4:].encode()) if h.startswith("big:") else (b"/", h.encode()))
out = []
try:
    if pipe:
        s.sendall(b"".join(req(h) for h in hosts))
    for h in hosts:
        if not pipe:
            s.sendall(req(h))
        if not f.readline():
            out.append("closed")
            break
        length = 0
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        body = f.read(length)
        out.append(body.decode().strip() if length <= 100 else "%d bytes" % len(body))
except ConnectionResetError:
    out.append("reset")
print(";".join(out))'
check "transparent keep-alive: three requests, the third for another allowed host" \
	eq "$(krun python3 -c "$KEEP" allowed.test allowed.test v6only.test)" "hello from allowed.test;hello from allowed.test;hello from v6only.test"
check "  each request decided and closed on its own, the first two on one upstream connection" \
	eq "$(krecords allowed.test)" "$(printf '%s\n' 'transparent decision GET allow allowed -' 'transparent close GET allow - 198.51.100.10' \
		'transparent decision GET allow allowed -' 'transparent close GET allow - 198.51.100.10')"
check "  the third went to its own host's vetted address, not the first one's connection" \
	eq "$(krecords v6only.test)" "$(printf '%s\n' 'transparent decision GET allow allowed -' 'transparent close GET allow - 2001:db8::10')"
check "transparent keep-alive: a second request for a refused host is reset" \
	eq "$(krun python3 -c "$KEEP" allowed.test other.test)" "hello from allowed.test;reset"
check "  with its own deny record" eq "$(krecords other.test)" "transparent decision GET deny not_allowed -"
check "pipelined behind a 64 MiB answer, a refused request is reset only after that answer arrived whole" \
	eq "$(krun python3 -c "$KEEP" pipe big:allowed.test other.test)" "67108864 bytes;reset"
raw80() { printf "$1" | krun python3 "$HERE/rawreq.py" allowed.test 80; }
mark=$(wc -l <"$KLOG")
check "transparent HTTP/1.1 request without Host: 400 bad_request" eq "$(raw80 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n')" "400 bad_request"
check "  one deny record" \
	eq "$(tail -n +$((mark + 1)) "$KLOG" | jq -r 'select(.event=="transparent") | "\(.phase) \(.port) \(.decision) \(.reason)"')" "decision 80 deny bad_request"
check "transparent request with bare LF: 400 (not passed on for the address's name)" \
	eq "$(raw80 'GET / HTTP/1.1\nHost: allowed.test\n\n')" "400 bad_request"
check "transparent Host naming another port than the one connected to: 400" \
	eq "$(raw80 'GET / HTTP/1.1\r\nHost: allowed.test:8080\r\n\r\n')" "400 bad_request"
mark=$(wc -l <"$KLOG")
check "transparent request body with a 0x chunk size: 400 bad_request" \
	eq "$(raw80 'POST / HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n')" "400 bad_request"
check "  its close record says bad_request" \
	eq "$(tail -n +$((mark + 1)) "$KLOG" | jq -r 'select(.event=="transparent") | "\(.phase) \(.decision) \(.reason // "-")"')" \
	"$(printf 'decision allow allowed\nclose allow bad_request')"
LATE='import socket, time
s = socket.create_connection(("allowed.test", 80), timeout=10)
time.sleep(1)  # past the wait for a server that speaks first
s.sendall(b"GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")
try:
    print(s.recv(100).decode().split("\r\n")[0] or "closed")
except ConnectionResetError:
    print("reset")'
mark=$(wc -l <"$KLOG")
check "port 80, a request sent after a pause is still named by its Host: other.test is reset" \
	eq "$(krun python3 -c "$LATE")" "reset"
check "  and that request is the only thing logged" \
	eq "$(tail -n +$((mark + 1)) "$KLOG" | jq -r 'select(.event=="transparent") | "\(.host) \(.method) \(.decision) \(.reason)"')" \
	"other.test GET deny not_allowed"
check "empty lines before a request to a bound port make it HTTP too: 400, not relayed" \
	eq "$(printf '\r\nGET / HTTP/1.1\r\nHost: allowed.test:7008\r\n\r\n' | krun python3 "$HERE/rawreq.py" allowed.test 7008)" "400 bad_request"
check "transparent WebSocket upgrade: 101, then frames both ways" \
	eq "$(printf 'GET /ws HTTP/1.1\r\nHost: allowed.test:8081\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' |
		krun python3 "$HERE/rawreq.py" allowed.test 8081 ws)" "101 ws:ping"
check "  logged as a transparent request with its close record" \
	eq "$(jq -r 'select(.event=="transparent" and .port==8081) | "\(.phase) \(.method) \(.decision)"' "$KLOG")" \
	"$(printf 'decision GET allow\nclose GET allow')"
check "curl --noproxy over HTTP, two URLs on one connection" \
	eq "$(krun $CURL --noproxy '*' -w '%{num_connects}\n' http://allowed.test/ http://allowed.test/a)" \
	"$(printf 'hello from allowed.test\n1\nhello from allowed.test\n0')"

# ClientHellos the transparent port refuses: encrypted (ECH) unless the
# policy says ech: allow, and any that names two servers
HELLO="python3 $HERE/hello.py allowed.test 443"
check "an encrypted ClientHello is reset (ech: deny by default)" eq "$(krun $HELLO --sni allowed.test --ech)" "reset"
check "  logged deny no_name with ech: true" \
	eq "$(jq -r 'select(.event=="transparent" and .ech==true) | "\(.host) \(.decision) \(.reason)"' "$KLOG")" \
	"allowed.test deny no_name"
check "a ClientHello with two server_name extensions is reset" \
	eq "$(krun $HELLO --sni allowed.test --sni other.test)" "reset"
check "  logged deny bad_request" \
	eq "$(jq -r 'select(.event=="transparent" and .reason=="bad_request" and .port==443) | .decision' "$KLOG" | sort -u)" "deny"
check "the same hello without ECH reaches the origin (control)" \
	grep -q '^answered [1-9]' <<<"$(krun $HELLO --sni allowed.test)"
sed 's/^name: .*/&\nech: allow/' "$D/keep.yaml" >"$D/ech.yaml"
chmod 644 "$D/ech.yaml"
check "with ech: allow the encrypted hello goes through by its outer name" \
	grep -q '^answered [1-9]' <<<"$(in_host "$SLUICE" run --policy "$D/ech.yaml" --log "$D/logs/ech.log" \
		--resolver 198.51.100.53 $HELLO --sni allowed.test --ech 2>>"$D/run.err")"
check "  logged allow with ech: true" \
	eq "$(jq -r 'select(.event=="transparent" and .phase=="decision") | "\(.host) \(.decision) \(.ech)"' "$D/logs/ech.log")" \
	"allowed.test allow true"
check "no sanitizer report from the transparent checks" eq "$(grep -c 'AddressSanitizer\|runtime error' "$D/run.err")" "0"
finish
