#!/usr/bin/env bash
# container_test.sh SLUICE: `sluice attach --docker` and `--podman` on real
# containers. The test starts its own engines, never the machine's: dockerd
# (Debian's docker.io) with its data, exec root and socket in a temp dir,
# and rootless podman as an unprivileged test user with its storage in a
# temp dir, both inside an "engine" network namespace of the test's own, so
# docker0, the engines' iptables rules and slirp4netns live there:
#
#   host ns (sluice) ── inet ns (origins 198.51.100.10/.53) ── engine ns
#                                203.0.113.1/28 ─ veth ─ 203.0.113.2/28
#                                                  docker0 203.0.113.65/26
#                                                  appnet  203.0.113.129/26
#                                                  podman: slirp4netns
#
# The image is built here, no registry: busybox (busybox-static) and curl
# with its libraries, imported with `docker import` / `podman import`.
# Inside a container: allowed HTTPS and HTTP through the transparent port, a
# denied name refused and logged, raw TCP and UDP rejected with packet
# records, DNS through the stub, a connection opened before the attach cut;
# kill -9 leaves the table (no network), detach gives it back, --follow
# attaches again across a restart. On a user-defined docker network, a
# compose-style app keeps reaching service db by name (Docker's embedded DNS
# asked by the stub, the connection through the transparent port), while
# names the policy does not allow, Docker's DNS asked directly on its own
# port, and outside names it would forward stay refused. An engine this
# machine cannot run is skipped with the reason on the output; what runs is
# still asserted. Lines starting with "#" are figures and observations, not
# checks: the attach cost, the --follow gap after a restart, how fast an
# allowed name no service has is answered. CONTAINER_TEST_ENGINES="docker"
# or "podman" runs one engine only.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
# Debian's engine CLIs (a docker client elsewhere on PATH may be another version)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
source "$HERE/world.sh"
NS_E=sle$WORLD_ID
ENG=$WORLD_DIR/eng # short: the engines' unix socket paths must fit in 108 bytes
DOCKERD=
CREATED=() # machine paths the engines make that did not exist before
TUSER=sluicect
TUSER_MADE=
SUBID_MADE=()
for p in /etc/docker/key.json /run/docker /run/containerd; do [ -e "$p" ] || CREATED+=("$p"); done
# usermod wants the subid files to exist, and leaves backups ("-") behind
for p in /etc/subuid /etc/subgid /etc/subuid- /etc/subgid-; do [ -e "$p" ] || SUBID_MADE+=("$p"); done

docker_down() {
	[ -n "$DOCKERD" ] || return 0
	local ids
	ids=$(docker ps -aq 2>/dev/null)
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	kill "$DOCKERD" 2>/dev/null
	for i in $(seq 100); do kill -0 "$DOCKERD" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$DOCKERD" 2>/dev/null
	wait "$DOCKERD" 2>/dev/null
	DOCKERD=
}
podman_down() {
	[ -n "$TUSER_MADE" ] || [ -d "$ENG/podman" ] || return 0
	as_user podman rm -f -a -t 0 >/dev/null 2>&1
	# the rootless pause process holds the user namespace: end it by its PID
	local pp
	pp=$(cat "$ENG/podman/xdg/libpod/tmp/pause.pid" 2>/dev/null)
	[ -n "$pp" ] && kill "$pp" 2>/dev/null
	# conmon and the pause process end on their own: wait for them (before userdel)
	for i in $(seq 50); do
		[ -z "$(ps -o pid= -u "$TUSER" 2>/dev/null)" ] && break
		sleep 0.1
	done
}
cleanup() {
	docker_down
	podman_down
	local m
	# whatever an engine left mounted under the temp dir, before it is removed
	findmnt -rn -o TARGET | grep "^$ENG/" | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "${CREATED[@]}"
	# podman's lock file for the user (in /dev/shm, whatever its config says)
	if [ -n "$TUSER_MADE" ]; then
		rm -f "/dev/shm/libpod_rootless_lock_$(id -u "$TUSER")"
		userdel "$TUSER" 2>/dev/null
		for p in "$ENG"/etc/*-; do [ -e "$p" ] && cp -p "$p" /etc/; done
	fi
	for p in "${SUBID_MADE[@]}"; do [ ! -s "$p" ] || [[ $p == *- ]] && rm -f "$p"; done
	ip netns del "$NS_E" 2>/dev/null
	world_down
}
HOST_RULES=$(nft list ruleset 2>&1 | md5sum)
world_up || { echo "could not build the test world"; exit 1; }
trap cleanup EXIT
D=$WORLD_DIR
# the test user reads the policy and writes its log under ENG
mkdir -p "$ENG" && chmod 755 "$D" "$ENG" && chmod 600 "$D"/*.key

# ---- the engine namespace --------------------------------------------------------
ip netns add "$NS_E" &&
	ip link add "ve$WORLD_ID" type veth peer name "vf$WORLD_ID" &&
	ip link set "ve$WORLD_ID" netns "$NS_E" && ip link set "vf$WORLD_ID" netns "$NS_NET" ||
	{ echo "could not make the engine namespace"; exit 1; }
in_e() { nsenter --net=/run/netns/"$NS_E" "$@"; } # not ip netns exec: it hides /sys/fs/cgroup
in_e ip link set lo up
in_e ip addr add 203.0.113.2/28 dev "ve$WORLD_ID"
in_e ip link set "ve$WORLD_ID" up
in_e ip route add default via 203.0.113.1
in_net ip addr add 203.0.113.1/28 dev "vf$WORLD_ID"
in_net ip link set "vf$WORLD_ID" up

# ---- the image: busybox and curl, trusting the world's CA ------------------------
make_rootfs() {
	local r=$ENG/rootfs l a
	mkdir -p "$r/bin" "$r/usr/bin" "$r/etc/ssl/certs" "$r/tmp" "$r/www" || return 1
	cp /bin/busybox "$r/bin/" && cp /usr/bin/curl "$r/usr/bin/" || return 1
	for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
	for l in $(ldd /usr/bin/curl | grep -o '/[^ ]*'); do
		mkdir -p "$r$(dirname "$l")" && cp -L "$l" "$r$l" || return 1
	done
	cp "$D/ca.pem" "$r/etc/ssl/certs/ca-certificates.crt"
	echo 'root:x:0:0:root:/:/bin/sh' >"$r/etc/passwd"
	echo 'root:x:0:' >"$r/etc/group"
	echo "db-ok" >"$r/www/index.html"
	chmod 1777 "$r/tmp"
	tar -C "$r" -cf "$ENG/image.tar" .
}
make_rootfs || { echo "could not build the image tarball"; exit 1; }

cat >"$D/policy.yaml" <<'YAML'
version: 1
name: contained
allow: [allowed.test, "allowed.test:7008"]
allow_private: ["198.51.100.0/24"]
YAML
chmod 644 "$D/policy.yaml" "$D/ca.pem"

# ---- the checks, for either engine ----------------------------------------------
# ENGINE: "docker" or "podman"; cx CONTAINER SCRIPT runs sh -c SCRIPT inside;
# SL runs sluice in the world's host namespace (as root, or as the user)
ATTACH_PID=
LOG=
attach_bg() { # attach_bg NAME OPTIONS...
	local name=$1
	shift
	$SL attach --$ENGINE "$name" "$@" --policy "$D/policy.yaml" --log "$LOG" \
		--resolver 198.51.100.53 2>>"$LOG.err" &
	ATTACH_PID=$!
	WORLD_PIDS+=($ATTACH_PID)
}
wait_attached() { # the n-th attach record
	local n=$1 i
	for i in $(seq 150); do
		[ "$(jq -c 'select(.event=="attach" and .phase=="decision")' "$LOG" 2>/dev/null | wc -l)" -ge "$n" ] &&
			return 0
		sleep 0.1
	done
	cat "$LOG.err" >&2
	return 1
}
CURL="curl -sS --max-time 5"
# a container's command: one direct request at each start (what a restart
# makes before --follow has attached again), then it waits
BOOT=(sh -c 'curl -sS --max-time 2 http://198.51.100.10:8080/ -H Host:boot.test >/tmp/boot 2>&1; exec sleep 3600')
quiet() { "$@" >/dev/null; }
# a raw TCP connection to the echo, opened now and used again after "go"
held_start() {
	cx "$1" 'rm -f /tmp/go /tmp/held; (echo one; while [ ! -e /tmp/go ]; do usleep 50000; done; echo two; sleep 4) |
		nc 198.51.100.10 7008 >/tmp/held 2>&1; echo "ended $?" >>/tmp/held' &
	WORLD_PIDS+=($!)
	for i in $(seq 50); do [ "$(cx "$1" 'cat /tmp/held 2>/dev/null')" == "one" ] && return 0; sleep 0.1; done
	return 1
}
held_result() {
	cx "$1" 'touch /tmp/go; for i in $(seq 60); do grep -q ended /tmp/held && break; usleep 100000; done
		if grep -q two /tmp/held; then echo open; elif grep -q ended /tmp/held; then echo cut; else echo hung; fi'
}
raw_tcp() { cx "$1" 'nc -w 3 198.51.100.10 8080 </dev/null 2>&1 | grep -o "Connection refused"'; }
# ms from t0 (a /proc/uptime reading) to the time the container wrote
ms_since() { echo "$1 $2" | awk '{printf "%d", ($2 - $1) * 1000}'; }
uptime_now() { cut -d' ' -f1 /proc/uptime; }

# check_attached C LABEL: everything a user relies on while C is attached
check_attached() {
	local c=$1 label=$2
	check "$ENGINE: the connection opened before the attach is cut" eq "$(held_result "$c")" "cut"
	check "$ENGINE: the attach record names the target and the server" \
		eq "$(jq -r 'select(.event=="attach") | "\(.server) \(.host) \(.decision)"' "$LOG" | head -1)" \
		"contained $label allow"
	check "$ENGINE: allowed HTTPS goes through the transparent port (by SNI)" \
		eq "$(cx "$c" "$CURL https://allowed.test/")" "hello from allowed.test"
	check "$ENGINE: allowed HTTP goes through the transparent port (by Host)" \
		eq "$(cx "$c" "$CURL http://allowed.test/")" "hello from allowed.test"
	check "$ENGINE:   both logged as transparent allow" \
		eq "$(jq -r 'select(.event=="transparent" and .phase=="decision" and .host=="allowed.test") | "\(.port) \(.decision)"' "$LOG" | sort -u | tr '\n' ' ')" "443 allow 80 allow "
	check "$ENGINE: a denied name does not resolve (curl exit 6)" \
		eq "$(cx "$c" "$CURL https://other.test/ >/dev/null 2>&1; echo \$?")" "6"
	check "$ENGINE:   its address dialed anyway is reset by the transparent port (curl exit 35)" \
		eq "$(cx "$c" "$CURL --resolve other.test:443:198.51.100.10 https://other.test/ >/dev/null 2>&1; echo \$?")" "35"
	check "$ENGINE:   both logged as not_allowed" \
		eq "$(jq -r 'select(.host=="other.test" and .phase=="decision") | "\(.event) \(.decision) \(.reason)"' "$LOG" | sort -u | tr '\n' ' ')" "dns deny not_allowed transparent deny not_allowed "
	check "$ENGINE: DNS to any address is answered by the stub" \
		eq "$(cx "$c" 'nslookup -type=a allowed.test 203.0.113.99 | sed -n "/^Name:/,\$p" | awk "/^Address/ {print \$2}"')" "198.51.100.10"
	check "$ENGINE:   a name outside the policy gets NXDOMAIN" \
		eq "$(cx "$c" 'nslookup -type=a denied.test 203.0.113.99 2>&1 | grep -o NXDOMAIN')" "NXDOMAIN"
	check "$ENGINE:   logged as dns records" \
		eq "$(jq -r 'select(.event=="dns" and .qtype=="A" and (.host=="allowed.test" or .host=="denied.test")) | "\(.host) \(.decision)"' "$LOG" | sort -u | tr '\n' ' ')" "allowed.test allow denied.test deny "
	check "$ENGINE: raw TCP out is rejected at once" eq "$(raw_tcp "$c")" "Connection refused"
	cx "$c" 'tftp -g -r x -l /tmp/x 198.51.100.10 9999' >/dev/null 2>&1
	sleep 0.3
	check "$ENGINE: raw TCP and UDP out logged as packet records" \
		eq "$(jq -r 'select(.event=="packet" and .host=="198.51.100.10") | "\(.protocol) \(.port) \(.reason)"' "$LOG" | sort -u | tr '\n' ' ')" "tcp 8080 not_allowed udp 9999 not_allowed "
	check "$ENGINE: TCP to an allowed name's other port goes through once the stub answered it" \
		eq "$(cx "$c" 'ip=$(nslookup -type=a allowed.test | sed -n "/^Name:/,\$p" | awk "/^Address/ {print \$2}"); (echo hi; sleep 1) | nc -w 3 $ip 7008')" "hi"
}

# check_lifecycle C LABEL RESTART...: kill -9, detach, --follow across RESTART
check_lifecycle() {
	local c=$1 label=$2
	shift 2
	kill -9 "$ATTACH_PID"
	wait "$ATTACH_PID" 2>/dev/null
	check "$ENGINE: after sluice is killed -9 the table stays" \
		eq "$(cx_nft "$c" list tables | grep -c 'inet sluice')" "1"
	check "$ENGINE:   and the container has no network: allowed HTTPS fails" \
		test "$(cx "$c" "$CURL https://allowed.test/ >/dev/null 2>&1; echo \$?")" != 0
	check "$ENGINE:   direct TCP is refused" eq "$(raw_tcp "$c")" "Connection refused"
	check "$ENGINE: sluice detach --$ENGINE exits 0" $SL detach --$ENGINE "$c"
	check "$ENGINE:   the table is gone" eq "$(cx_nft "$c" list tables | grep -c 'inet sluice')" "0"
	check "$ENGINE:   and the network is back" \
		eq "$(cx "$c" "$CURL http://198.51.100.10:8080/ -H 'Host: x.test'")" "hello from x.test"
	local n
	n=$(jq -c 'select(.event=="attach" and .phase=="decision")' "$LOG" | wc -l)
	attach_bg "$c" --follow
	check "$ENGINE: attach --follow comes up" wait_attached $((n + 1))
	check "$ENGINE:   and serves" eq "$(cx "$c" "$CURL https://allowed.test/")" "hello from allowed.test"
	"$@" >/dev/null
	local tr=$(uptime_now)
	check "$ENGINE: after '$*' (a new namespace) --follow attaches again" wait_attached $((n + 2))
	echo "# $ENGINE --follow: attached again $(ms_since "$tr" "$(uptime_now)") ms after '$*' returned (the container runs unprotected meanwhile; sluice polls every second)"
	echo "# $ENGINE --follow: the restarted container's first request, made by its entrypoint at start: $(cx "$c" 'cat /tmp/boot 2>/dev/null' | head -1 | cut -c1-80)"
	check "$ENGINE:   the gap is logged: an attach close record with reason unprotected" \
		eq "$(jq -r 'select(.event=="attach" and .phase=="close") | "\(.host) \(.decision) \(.reason)"' "$LOG" | tail -1)" "$label deny unprotected"
	check "$ENGINE:   the restarted container is served" \
		eq "$(cx "$c" "$CURL https://allowed.test/")" "hello from allowed.test"
	check "$ENGINE:   and locked: raw TCP refused" eq "$(raw_tcp "$c")" "Connection refused"
	kill "$ATTACH_PID"
	wait "$ATTACH_PID" 2>/dev/null
	$SL detach --$ENGINE "$c"
	check "$ENGINE: every line of the log is JSON" eq "$(jq -c . "$LOG" >/dev/null && echo ok)" "ok"
}

# attach C LABEL: attach, time the first allowed request made in the container
attach_timed() {
	local c=$1 t0 t1 tr
	# made in the container before the attach, so its own start is not timed
	cx "$c" 'rm -f /tmp/first; until curl -s --max-time 0.3 -o /dev/null https://allowed.test/; do usleep 10000; done
		cut -d" " -f1 /proc/uptime >/tmp/first' &
	WORLD_PIDS+=($!)
	sleep 0.3
	t0=$(uptime_now)
	attach_bg "$c"
	for i in $(seq 500); do grep -q '"event":"attach"' "$LOG" 2>/dev/null && break; sleep 0.01; done
	tr=$(uptime_now)
	check "$ENGINE: sluice attach --$ENGINE $c writes an attach record" wait_attached 1
	for i in $(seq 100); do t1=$(cx "$c" 'cat /tmp/first 2>/dev/null'); [ -n "$t1" ] && break; sleep 0.1; done
	[ -n "$t1" ] && echo "# $ENGINE attach cost: $(ms_since "$t0" "$t1") ms from sluice attach --$ENGINE to the first allowed HTTPS answer in the container ($(ms_since "$t0" "$tr") ms to the attach record; the container retries every 10 ms, an attempt caught by the attach waits out its 300 ms)"
}

# ---- no engine needed: sluice's own namespace is refused ---------------------------
# (a container on the host's network shares it: the table would cut sluice's
# upstream connections and the machine's own)
out=$(timeout 10 ip netns exec "$NS_HOST" "$SLUICE" attach --netns "$NS_HOST" --policy "$D/policy.yaml" 2>&1 >/dev/null; echo "exit $?")
check "attach to the namespace sluice runs in is refused (125), saying why" \
	eq "$(echo "$out" | grep -c 'cannot attach to the network namespace sluice itself runs in') $(echo "$out" | tail -1)" "1 exit 125" ||
	echo "$out" | sed 's/^/    /'
check "  and loads nothing there" eq "$(in_host nft list tables | grep -c 'inet sluice')" "0"

# ---- docker ---------------------------------------------------------------------
# dockerd in the engine namespace; overlay2 first, vfs when overlay is refused
docker_up() {
	local drv
	export DOCKER_HOST=unix://$ENG/docker.sock
	for drv in overlay2 vfs; do
		rm -rf "$ENG/docker" "$ENG/dx" && mkdir -p "$ENG/docker"
		# its identity key in the temp dir too (the default is /etc/docker/key.json)
		echo "{\"deprecated-key-path\": \"$ENG/key.json\"}" >"$ENG/daemon.json"
		nsenter --net=/run/netns/"$NS_E" dockerd --config-file "$ENG/daemon.json" \
			--data-root "$ENG/docker" --exec-root "$ENG/dx" --pidfile "$ENG/dockerd.pid" \
			-H "$DOCKER_HOST" --storage-driver "$drv" --bip 203.0.113.65/26 --iptables=true \
			--ip6tables=false --ipv6=false --containerd-namespace "sluice$WORLD_ID" \
			--containerd-plugins-namespace "sluicep$WORLD_ID" --userland-proxy=false \
			>"$ENG/dockerd-$drv.log" 2>&1 &
		DOCKERD=$! # nsenter execs dockerd: this is its PID (not through a function: that would be a subshell's)
		for i in $(seq 150); do
			kill -0 "$DOCKERD" 2>/dev/null || break
			docker version >/dev/null 2>&1 && break
			sleep 0.2
		done
		if docker version >/dev/null 2>&1 && docker import "$ENG/image.tar" sluice-test:1 >/dev/null 2>&1 &&
			docker run --rm sluice-test:1 true >"$ENG/probe-$drv.log" 2>&1; then
			echo "# dockerd $(dockerd --version | cut -d' ' -f3 | tr -d ,) runs here (storage driver $drv)"
			return 0
		fi
		echo "# dockerd with --storage-driver $drv: $(grep -ho 'failed to start daemon.*\|level=error.*' "$ENG/dockerd-$drv.log" | tail -1) $(tail -1 "$ENG/probe-$drv.log" 2>/dev/null)"
		docker_down
	done
	return 1
}
docker_pid() { docker inspect --format '{{.State.Pid}}' "$1"; }
docker_part() {
	ENGINE=docker
	LOG=$D/docker.log
	SL="ip netns exec $NS_HOST $SLUICE"
	cx() { docker exec "$1" sh -c "$2"; }
	cx_nft() { local c=$1; shift; nsenter -t "$(docker_pid "$c")" -n nft "$@"; }
	cx_ip() { local c=$1; shift; nsenter -t "$(docker_pid "$c")" -n ip "$@"; }
	# the resolver it starts with: the engine namespace, which refuses at once
	check "docker: a container on the default bridge starts" \
		quiet docker run -d --name web --dns 203.0.113.2 sluice-test:1 "${BOOT[@]}" || return 1
	check "docker: before the attach it reaches 198.51.100.10:8080 directly (through docker0)" \
		eq "$(cx web "$CURL http://198.51.100.10:8080/ -H 'Host: x.test'")" "hello from x.test"
	check "docker:   and holds a raw TCP connection to 198.51.100.10:7008" held_start web
	attach_timed web
	check_attached web docker:web
	check "docker: the container keeps its own address and route" \
		eq "$(cx_ip web -4 -o addr show dev eth0 | awk '{print $4}') $(cx_ip web route show default | awk '{print $3}') " \
		"$(docker inspect --format '{{.NetworkSettings.IPAddress}}/{{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.Gateway}} ' web)"
	check_lifecycle web docker:web docker restart -t 1 web
	docker_dns_part
	docker_names_part
	docker_ci_part
	check "docker: the machine's own ruleset is as before (dockerd's rules are in the engine namespace)" \
		eq "$(nft list ruleset 2>&1 | md5sum)" "$HOST_RULES"
	check "docker:   and docker0 is there, not in the machine's namespace" \
		eq "$(in_e ip -br link show docker0 | cut -d' ' -f1) $(ip link show docker0 2>&1 | grep -c 'does not exist')" "docker0 1"
}

# dist/ci/sluice-docker-run: a CI job under `sluice serve`, never unprotected
docker_ci_part() {
	local ctl=$D/serve/control out rc before
	before=$(docker ps -q | wc -l)
	ip netns exec "$NS_HOST" "$SLUICE" serve --control "$ctl" --log "$D/ci.log" --resolver 198.51.100.53 \
		2>"$D/ci.err" &
	local serve=$!
	WORLD_PIDS+=($serve)
	for i in $(seq 100); do [ -S "$ctl" ] && break; sleep 0.05; done
	# the job's very first act is a direct request: it must already be refused
	out=$(SLUICE=$SLUICE SLUICE_CONTROL=$ctl "$HERE/../../dist/ci/sluice-docker-run" "$D/policy.yaml" cijob \
		sluice-test:1 sh -c "nc -w 3 198.51.100.10 8080 </dev/null 2>&1 | grep -o 'Connection refused'; \
		$CURL https://allowed.test/; exit 7" 2>"$D/ci.client.err")
	rc=$?
	check "docker: sluice-docker-run: the job's first direct request is refused, then allowed HTTPS works" \
		eq "$out" "Connection refused
hello from allowed.test" || cat "$D/ci.client.err" "$D/ci.err" >&2
	check "docker: sluice-docker-run: the job's exit status is the script's" eq "$rc" "7"
	check "docker: sluice-docker-run:   its records are under the name given" \
		eq "$(jq -r 'select(.server=="cijob" and (.event=="packet" or .event=="transparent") and .phase=="decision") | "\(.event) \(.decision)"' "$D/ci.log" | sort -u | tr '\n' ' ')" "packet deny transparent allow "
	check "docker: sluice-docker-run:   the holder is gone and serve holds nothing" \
		eq "$(docker ps -q | wc -l) $(ip netns exec "$NS_HOST" "$SLUICE" ls --control "$ctl" --format json | jq '.attachments | length')" "$before 0"
	kill "$serve"
	wait "$serve" 2>/dev/null
}

# names that are not a running container: refused (125), saying why
docker_names_part() {
	local out
	out=$($SL attach --docker appnet --policy "$D/policy.yaml" 2>&1 >/dev/null; echo "exit $?")
	check "docker: attach to a network's name (not a container) says there is no such container, exits 125" \
		eq "$(echo "$out" | grep -c 'No such container: appnet') $(echo "$out" | tail -1)" "1 exit 125" ||
		echo "$out" | sed 's/^/    /'
	out=$($SL attach --docker sluice-test:1 --policy "$D/policy.yaml" 2>&1 >/dev/null; echo "exit $?")
	check "docker:   and to an image's name" \
		eq "$(echo "$out" | grep -c 'No such container: sluice-test:1') $(echo "$out" | tail -1)" "1 exit 125" ||
		echo "$out" | sed 's/^/    /'
	# a container on the host's network, the host being the engine namespace
	docker run -d --name hostc --network host sluice-test:1 sleep 3600 >/dev/null
	out=$(timeout 10 nsenter --net=/run/netns/"$NS_E" "$SLUICE" attach --docker hostc --policy "$D/policy.yaml" 2>&1 >/dev/null; echo "exit $?")
	check "docker: attach to a --network host container, from that host, is refused (125)" \
		eq "$(echo "$out" | grep -c 'docker:hostc: cannot attach to the network namespace sluice itself runs in') $(echo "$out" | tail -1)" "1 exit 125" ||
		echo "$out" | sed 's/^/    /'
	check "docker:   the host keeps its network: no table, the origin answers" \
		eq "$(in_e nft list tables | grep -c 'inet sluice') $(in_e curl -sS --max-time 3 http://198.51.100.10:8080/ -H 'Host: e.test')" "0 hello from e.test"
	docker stop -t 0 db >/dev/null
	out=$($SL attach --docker db --policy "$D/policy.yaml" 2>&1 >/dev/null; echo "exit $?")
	check "docker:   and to a stopped container: not running" \
		eq "$(echo "$out" | grep -c 'docker container db is not running') $(echo "$out" | tail -1)" "1 exit 125" ||
		echo "$out" | sed 's/^/    /'
}

# Docker's embedded DNS (127.0.0.11, on user-defined networks): a compose
# app keeps reaching its database by service name under the attach, through
# the stub and the transparent port, and only where the policy allows it.
# sluice runs in the engine namespace here: that is the host for this
# dockerd, the one its bridges are on (from the world's host namespace,
# appnet is behind dockerd's FORWARD rules, as a remote machine would be).
engine_dns_ports() { # the UDP and TCP ports Docker's DNS listens on in C's namespace
	local p
	for p in u t; do
		nsenter -t "$(docker_pid "$1")" -n ss -Hln$p 'src 127.0.0.11' | awk '{print $4}' | sed 's/.*://' | head -1
	done | tr '\n' ' '
}
dns_a() { cx "$1" "nslookup -type=a $2 ${3:-} 2>&1" | sed -n '/^Name:/,$p' | awk '/^Address/ {print $2}' | tr '\n' ' '; }
dns_rcode() { cx "$1" "nslookup -type=a $2 ${3:-} 2>&1" | grep -o 'NXDOMAIN\|SERVFAIL\|REFUSED\|timed out\|connection refused' | head -1; }
# The explicit proxy in app's namespace (127.0.0.1:3128, what HTTP_PROXY
# names): single-label names asked of Docker's DNS there, not of the shared
# resolver (which knows no db), by the policy. px_try ARGS...: "CODE REASON
# BODY" for a curl through it (-p: a CONNECT tunnel).
px_try() {
	cx app "curl -s --max-time 8 -x http://127.0.0.1:3128 -D /tmp/h -o /tmp/b -w '%{http_connect} %{http_code}' $*; echo \" \$(tr -d '\r' </tmp/h | sed -n 's/^X-Sluice-Reason: //p' | head -1) \$(head -c 40 /tmp/b 2>/dev/null)\"; rm -f /tmp/h /tmp/b"
}
px_rec() { # px_rec EVENT HOST: "port decision reason addrs" of its decision records
	jq -r "select(.event==\"$1\" and .phase==\"decision\" and .host==\"$2\") | \"\\(.port) \\(.decision) \\(.reason) \\(.addrs)\"" "$LOG" |
		sort -u | tr '\n' ' '
}
docker_explicit_part() {
	local dbip=$1
	check "docker:   through the explicit proxy (absolute-form), http://db:8000/ is answered by db" \
		eq "$(px_try http://db:8000/)" "000 200  db-ok" || tail -5 "$LOG.err" | sed 's/^/    /'
	check "docker:     logged: an http record for db:8000, allowed, dialed to $dbip" \
		eq "$(px_rec http db)" "8000 allow allowed [\"$dbip\"] "
	check "docker:   a CONNECT to db:8000 through it is answered by db" \
		eq "$(px_try -p http://db:8000/)" "200 200  db-ok" || tail -5 "$LOG.err" | sed 's/^/    /'
	check "docker:     logged: a connect record for db:8000, allowed, dialed to $dbip" \
		eq "$(px_rec connect db)" "8000 allow allowed [\"$dbip\"] "
	check "docker:   secret (not in the policy) through it: 403 not_allowed, secret not reached" \
		eq "$(px_try http://secret:8000/)/$(px_try -p http://secret:8000/ | cut -d' ' -f1,3)" \
		"000 403 not_allowed sluice: GET secret:8000 denied (not_allo/403 not_allowed"
	check "docker:     logged: http and connect records for secret, denied not_allowed, no address" \
		eq "$(px_rec http secret)/$(px_rec connect secret)" "8000 deny not_allowed null /8000 deny not_allowed null "
	local t0=$(uptime_now)
	check "docker:   db:8001 (allowed; allow_private lifts appnet's range for 8000 only) through it: 403 blocked_address" \
		eq "$(px_try http://db:8001/ | cut -d' ' -f1-3)" "000 403 blocked_address"
	check "docker:     logged: an http record for db:8001, denied blocked_address, with the refused address" \
		eq "$(px_rec http db | grep -o "8001 [^ ]* [^ ]* [^ ]*")" "8001 deny blocked_address [\"$dbip\"]"
	check "docker:   metadata (a single-label metadata name) through it: 403 metadata_host, nothing asked" \
		eq "$(px_try http://metadata/ | cut -d' ' -f1-3)/$(jq -c 'select(.host=="metadata" and .event=="dns")' "$LOG" | wc -l)" \
		"000 403 metadata_host/0"
	check "docker:   ghost (allowed, no such service) through it: 502 resolve_failed" \
		eq "$(px_try http://ghost/ | cut -d' ' -f1-3)/$(px_try -p https://ghost/ | cut -d' ' -f1,3)" \
		"000 502 resolve_failed/502 resolve_failed"
	echo "# ghost through the explicit proxy, twice, in $(ms_since "$t0" "$(uptime_now)") ms; dns_ms: $(jq -r 'select((.event=="http" or .event=="connect") and .host=="ghost" and .phase=="decision") | .dns_ms' "$LOG" | tr '\n' ' ')"
	check "docker:     logged: http and connect records for ghost, denied resolve_failed" \
		eq "$(px_rec http ghost)/$(px_rec connect ghost)" "80 deny resolve_failed null /443 deny resolve_failed null "
	# Docker forwards ghost (A and AAAA, each lookup) to the app's --dns,
	# which nft brings to the stub: the stub sees that the proxy asks that
	# very question (one engine client) and asks the shared resolver, once
	check "docker:     Docker's forwards of the proxy's questions reached the stub at most 4 times, no loop" \
		test "$(jq -c 'select(.event=="dns" and .host=="ghost")' "$LOG" | wc -l)" -le 4
}
# A root process in the attached container forges Docker's DNS replies
# (engine_spoof.py: the query's ID and port read off the namespace's
# loopback with CAP_NET_RAW, the reply sent from a raw socket, both
# capabilities Docker grants by default): db, which the policy allows, made
# to resolve to 198.51.100.10, an address of the test's internet that
# allow_private lifts (as a public address would need nothing lifted), where
# a listener on :8000 stands for any server outside; then to 203.0.113.129,
# appnet's gateway, which allow_private's appnet range covers: the engine
# namespace's own address, the host that sluice dials from. The attacker
# runs in app's network namespace with root's capabilities cut to what a
# container's root has for the network (net_raw, net_bind_service; no
# net_admin). spoof_round C ADDR: "PROXY TRANSPARENT FORGED", how many of 20
# requests of each kind reached ADDR's listener, and the replies forged.
spoof_round() {
	local c=$1 to=$2 spy out n_px n_tr
	nsenter -t "$(docker_pid "$c")" -n setpriv --bounding-set=-all,+net_raw,+net_bind_service --inh-caps=-all \
		python3 "$HERE/engine_spoof.py" db "$to" 60 >"$ENG/spoof.out" 2>&1 &
	spy=$!
	WORLD_PIDS+=($spy)
	for i in $(seq 50); do grep -qs ready "$ENG/spoof.out" && break; sleep 0.1; done
	# each request is a fresh lookup of db (engine answers are not cached)
	out=$(cx "$c" 'for i in $(seq 20); do curl -s --max-time 3 -x http://127.0.0.1:3128 http://db:8000/; echo; done')
	n_px=$(echo "$out" | grep -c forged-target)
	out=$(cx "$c" 'for i in $(seq 20); do curl -s --max-time 3 http://db:8000/; echo; done')
	n_tr=$(echo "$out" | grep -c forged-target)
	kill "$spy" 2>/dev/null
	wait "$spy" 2>/dev/null
	echo "$n_px $n_tr $(grep -o 'forged [0-9]*' "$ENG/spoof.out" | cut -d' ' -f2)"
}
spoof_recs() { # spoof_recs ADDR: counts of db's decision records that carry ADDR
	jq -r "select(.host==\"db\" and .phase==\"decision\" and (.addrs // [] | index(\"$1\"))) | \"\\(.event) \\(.decision) \\(.reason)\"" "$LOG" |
		sort | uniq -c | tr -s ' \n' ' '
}
docker_spoof_part() {
	local c=$1 web=$ENG/forged px tr forged recs to
	mkdir -p "$web" && echo forged-target >"$web/index.html"
	world_bg "$NS_NET" busybox httpd -f -p 198.51.100.10:8000 -h "$web"
	nsenter --net=/run/netns/"$NS_E" busybox httpd -f -p 203.0.113.129:8000 -h "$web" &
	WORLD_PIDS+=($!)
	wait_port "$NS_NET" 198.51.100.10 8000 && wait_port "$NS_E" 203.0.113.129 8000
	for to in 198.51.100.10 203.0.113.129; do
		read -r px tr forged <<<"$(spoof_round "$c" $to)"
		recs=$(spoof_recs $to)
		echo "# spoof db -> $to: $forged replies forged; reached the listener there: $px of 20 through the explicit proxy, $tr of 20 transparent; db's records with $to: $recs; dns records for db denied blocked_address in the log so far: $(jq -c 'select(.event=="dns" and .host=="db" and .reason=="blocked_address")' "$LOG" | wc -l)"
		check "docker:   forged replies of Docker's DNS (sniffed ID, raw socket) never send db to $to: explicit proxy" \
			eq "$px" 0
		check "docker:     nor the transparent path" eq "$tr" 0
		check "docker:     the attacker did see and forge the queries" test "${forged:-0}" -gt 0
		check "docker:     a forged answer that came first is logged deny blocked_address, with $to" \
			test -z "$(echo "$recs" | sed 's/ *[0-9]* [a-z]* deny blocked_address//g' | tr -d ' ')"
	done
	check "docker:     and db by name still answers" eq "$(cx "$c" "$CURL http://db:8000/")" "db-ok"
}

docker_dns_part() {
	LOG=$D/docker-dns.log
	cat >"$D/compose.yaml" <<'YAML'
version: 1
name: compose
allow: [allowed.test, "db:8000", "db:8001", ghost]
allow_private: ["198.51.100.0/24", "203.0.113.128/26:8000"]
YAML
	# app's --dns: the server Docker's DNS forwards the names it does not know to
	docker network create --subnet 203.0.113.128/26 --gateway 203.0.113.129 appnet >/dev/null &&
		docker run -d --name db --network appnet sluice-test:1 httpd -f -p 8000 -h /www >/dev/null &&
		docker run -d --name secret --network appnet sluice-test:1 httpd -f -p 8000 -h /www >/dev/null &&
		docker run -d --name app --network appnet --dns 198.51.100.53 sluice-test:1 sleep 3600 >/dev/null
	local dbip secretip ports up tp
	dbip=$(docker inspect --format '{{(index .NetworkSettings.Networks "appnet").IPAddress}}' db)
	secretip=$(docker inspect --format '{{(index .NetworkSettings.Networks "appnet").IPAddress}}' secret)
	read -r up tp <<<"$(engine_dns_ports app)"
	check "docker: app on a user-defined network resolves through the embedded DNS" \
		eq "$(cx app 'grep ^nameserver /etc/resolv.conf')" "nameserver 127.0.0.11"
	check "docker:   and reaches service db by name before the attach" \
		eq "$(cx app 'for i in $(seq 50); do curl -s --max-time 1 http://db:8000/ && break; usleep 100000; done')" "db-ok" ||
		{ cx app 'cat /etc/resolv.conf; nslookup db; curl -sS --max-time 3 http://db:8000/'; docker logs db; docker ps -a; } 2>&1 | sed 's/^/    /'
	# what the checks below take away: each answers before the attach
	check "docker:   before the attach: Docker's DNS answers secret, on :53 and on its own port $up, and forwards other.test" \
		eq "$(dns_a app secret)/$(dns_a app secret "127.0.0.11:$up")/$(dns_a app other.test)" "$secretip /$secretip /198.51.100.10 "
	check "docker:   and its TCP port $tp takes connections" cx app "nc -w 2 127.0.0.11 $tp </dev/null"
	nsenter --net=/run/netns/"$NS_E" "$SLUICE" attach --docker app --policy "$D/compose.yaml" --log "$LOG" \
		--resolver 198.51.100.53 2>>"$LOG.err" &
	ATTACH_PID=$!
	WORLD_PIDS+=($ATTACH_PID)
	check "docker: attach app on appnet (sluice on the engine's host namespace)" wait_attached 1
	check "docker:   an outside name asked of 127.0.0.11 is answered by the stub, by the policy" \
		eq "$(dns_a app allowed.test)" "198.51.100.10 "
	check "docker:   service db resolves, through the stub, to its address on appnet" \
		eq "$(dns_a app db)" "$dbip " || { cx app 'nslookup -type=a db'; cat "$LOG.err"; } 2>&1 | sed 's/^/    /'
	check "docker:     logged: a dns record allowed, with that address" \
		eq "$(jq -r 'select(.event=="dns" and .host=="db" and .qtype=="A") | "\(.decision) \(.reason) \(.addrs)"' "$LOG" | sort -u | tr '\n' ' ')" \
		"allow allowed [\"$dbip\"] "
	check "docker:   HTTP to db:8000 by name is answered by db" \
		eq "$(cx app "$CURL http://db:8000/")" "db-ok" || cat "$LOG.err" | sed 's/^/    /'
	check "docker:     through the transparent port: a transparent record for db:8000, allowed, dialed to $dbip" \
		eq "$(jq -r 'select(.event=="transparent" and .phase=="decision" and .host=="db") | "\(.port) \(.decision) \(.addrs)"' "$LOG" | sort -u | tr '\n' ' ')" \
		"8000 allow [\"$dbip\"] "
	docker_explicit_part "$dbip"
	check "docker:   service secret (on appnet, not in the policy) gets NXDOMAIN" eq "$(dns_rcode app secret)" "NXDOMAIN"
	check "docker:     logged as a dns record denied not_allowed" \
		eq "$(jq -r 'select(.event=="dns" and .host=="secret") | "\(.decision) \(.reason)"' "$LOG" | sort -u | tr '\n' ' ')" "deny not_allowed "
	check "docker:     and its address dialed anyway is refused" \
		eq "$(cx app "nc -w 3 $secretip 8000 </dev/null 2>&1 | grep -o 'Connection refused'")" "Connection refused"
	check "docker:   other.test (denied), which Docker's DNS would forward, gets NXDOMAIN from the stub" \
		eq "$(dns_rcode app other.test)" "NXDOMAIN"
	check "docker:   a query straight to 127.0.0.11:53 is the stub's too: secret NXDOMAIN" \
		eq "$(dns_rcode app secret 127.0.0.11)" "NXDOMAIN"
	check "docker:   Docker's DNS on its own UDP port $up answers nothing" \
		test -z "$(dns_a app secret "127.0.0.11:$up")"
	check "docker:   and its TCP port $tp is refused" \
		test "$(cx app "nc -w 2 127.0.0.11 $tp </dev/null >/dev/null 2>&1; echo \$?")" != 0
	sleep 0.3
	check "docker:     both logged as packet records, denied" \
		eq "$(jq -r 'select(.event=="packet" and .host=="127.0.0.11") | "\(.protocol) \(.port) \(.decision)"' "$LOG" | sort -u | tr '\n' ' ')" \
		"tcp $tp deny udp $up deny "
	local t0=$(uptime_now) rc before
	before=$(jq -c 'select(.event=="dns" and .host=="ghost")' "$LOG" | wc -l)
	rc=$(dns_rcode app ghost)
	check "docker:   ghost (allowed, no such service) is answered ($rc), Docker's forward of it no loop" \
		test "$rc" == NXDOMAIN -o "$rc" == SERVFAIL
	echo "# ghost answered $rc in $(ms_since "$t0" "$(uptime_now)") ms; stub records for it (ms rcode): $(jq -r 'select(.event=="dns" and .host=="ghost") | "\(.dns_ms) \(.rcode)"' "$LOG" | tail -n +$((before + 1)) | tr '\n' ',')"
	check "docker:     with at most 8 stub records for it (the app's tries, each with Docker's forward)" \
		test "$(($(jq -c 'select(.event=="dns" and .host=="ghost")' "$LOG" | wc -l) - before))" -le 8
	docker_spoof_part app
	kill "$ATTACH_PID"
	wait "$ATTACH_PID" 2>/dev/null
	check "docker: after detach, app reaches db by name again" \
		eq "$($SL detach --docker app && cx app 'curl -sS --max-time 3 http://db:8000/')" "db-ok" ||
		cx app 'nslookup db; curl -sS --max-time 3 http://db:8000/' 2>&1 | sed 's/^/    /'
	docker rm -f secret >/dev/null
}

# ---- rootless podman, as an unprivileged user -------------------------------------
PD=$ENG/podman
# as_user CMD...: CMD as the test user, with podman's storage and state in
# PD. This machine's /dev/net/tun may be root's alone (mode 0600, no udev):
# slirp4netns, run by the user, opens it; so podman runs in a mount
# namespace of its own where a node of PD's, mode 0666, is bound over it
# (the machine's node stays as it is). The first command starts podman's
# pause process, which keeps that mount namespace for the later ones.
as_user() {
	unshare -m --propagation private sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"' "$PD/tun" \
		setpriv --reuid="$TUSER" --regid="$TUSER" --init-groups env -i PATH="$PATH" HOME="$PD/home" \
		XDG_RUNTIME_DIR="$PD/xdg" XDG_CONFIG_HOME="$PD/config" "$@"
}
user_up() {
	if ! id -u "$TUSER" >/dev/null 2>&1; then
		# useradd and userdel rewrite the account files' backups ("-"): keep them
		mkdir -p "$ENG/etc" && cp -p /etc/passwd- /etc/group- /etc/shadow- /etc/gshadow- "$ENG/etc/" 2>/dev/null
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$TUSER" || return 1
		TUSER_MADE=1
	fi
	touch /etc/subuid /etc/subgid
	grep -q "^$TUSER:" /etc/subuid || usermod --add-subuids 1500000-1565535 "$TUSER" || return 1
	grep -q "^$TUSER:" /etc/subgid || usermod --add-subgids 1500000-1565535 "$TUSER"
}
podman_up() {
	local drv rt try
	user_up || { echo "# could not make the test user $TUSER with subuid/subgid ranges"; return 1; }
	# crun refuses a hybrid cgroup layout (v1 controllers and a v2 mount),
	# runc refuses cgroups = "disabled": runc with podman's cgroupfs manager
	for try in overlay/crun overlay/runc/cgroups vfs/runc/cgroups; do
		IFS=/ read -r drv rt hide <<<"$try"
		local cg='cgroups = "disabled"'
		[ "$hide" == cgroups ] && cg=''

		rm -rf "$PD" && mkdir -p "$PD/home" "$PD/xdg" "$PD/config/containers" "$PD/log" || return 1
		cat >"$PD/config/containers/storage.conf" <<CONF
[storage]
driver = "$drv"
graphroot = "$PD/storage"
runroot = "$PD/run"
CONF
		cat >"$PD/config/containers/containers.conf" <<CONF
[containers]
$cg
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PD/events.log"
runtime = "$rt"
CONF
		mknod -m 666 "$PD/tun" c 10 200 || return 1
		chown -R "$TUSER:" "$PD" && chmod 700 "$PD/xdg"
		if as_user podman import "$ENG/image.tar" localhost/sluice-test:1 >"$PD/import.log" 2>&1 &&
			in_e_user podman run --rm localhost/sluice-test:1 true >"$PD/probe.log" 2>&1; then
			echo "# rootless podman $(podman --version | cut -d' ' -f3) runs here as $TUSER (storage driver $drv, runtime $rt${hide:+, $hide})"
			return 0
		fi
		echo "# rootless podman with storage driver $drv, runtime $rt${hide:+, $hide}: $(tail -1 "$PD/import.log") $(tail -1 "$PD/probe.log" 2>/dev/null)"
		podman_down
	done
	return 1
}
# podman run in the engine namespace (slirp4netns connects from there)
in_e_user() { in_e bash -c "$(declare -f as_user); PD=$PD TUSER=$TUSER; as_user \"\$@\"" as_user "$@"; }
podman_pid() { as_user podman inspect --format '{{.State.Pid}}' "$1"; }
podman_part() {
	ENGINE=podman
	LOG=$PD/log/podman.log
	# a copy the user can run wherever the build tree is (CI's may be root's alone)
	cp "$SLUICE" "$ENG/sluice" && chmod 755 "$ENG/sluice"
	SL="ip netns exec $NS_HOST setpriv --reuid=$TUSER --regid=$TUSER --init-groups env -i PATH=$PATH HOME=$PD/home XDG_RUNTIME_DIR=$PD/xdg XDG_CONFIG_HOME=$PD/config $ENG/sluice"
	cx() { as_user podman exec "$1" sh -c "$2"; }
	cx_nft() { local c=$1; shift; nsenter -t "$(podman_pid "$c")" -n nft "$@"; }
	# slirp4netns' own network inside the container: a /24 at most
	check "podman: a rootless container (slirp4netns) starts as $TUSER" \
		quiet in_e_user podman run -d --name web --dns 203.0.113.77 \
		--network slirp4netns:cidr=203.0.113.0/24 localhost/sluice-test:1 "${BOOT[@]}" || return 1
	check "podman:   in a user namespace of $TUSER's own (root in it is $TUSER)" \
		eq "$(awk '$1 == 0 {print $2, $3}' "/proc/$(podman_pid web)/uid_map")" "$(id -u "$TUSER") 1"
	check "podman: before the attach it reaches 198.51.100.10:8080 directly (through slirp4netns)" \
		eq "$(cx web "$CURL http://198.51.100.10:8080/ -H 'Host: x.test'")" "hello from x.test"
	check "podman:   and holds a raw TCP connection to 198.51.100.10:7008" held_start web
	attach_timed web
	check_attached web podman:web
	check "podman: sluice ran as $TUSER" \
		eq "$(ps -o user= -p "$ATTACH_PID")" "$TUSER"
	check_lifecycle web podman:web in_e_user podman restart -t 1 web
	# root may attach to anything: the rootless container by its PID (root's
	# own `podman inspect` would look in root's store, not the user's)
	local pid out
	pid=$(podman_pid web)
	LOG=$D/podman-root.log
	ip netns exec "$NS_HOST" "$SLUICE" attach --pid "$pid" --policy "$D/policy.yaml" --log "$LOG" \
		--resolver 198.51.100.53 2>>"$LOG.err" &
	ATTACH_PID=$!
	WORLD_PIDS+=($ATTACH_PID)
	check "podman: root attaches the rootless container by --pid" wait_attached 1
	check "podman:   allowed HTTPS through it" eq "$(cx web "$CURL https://allowed.test/")" "hello from allowed.test"
	check "podman:   raw TCP refused" eq "$(raw_tcp web)" "Connection refused"
	kill "$ATTACH_PID"
	wait "$ATTACH_PID" 2>/dev/null
	check "podman:   root detaches it by --pid" ip netns exec "$NS_HOST" "$SLUICE" detach --pid "$pid"
	out=$($SL attach --podman localhost/sluice-test:1 --policy "$D/policy.yaml" 2>&1 >/dev/null; echo "exit $?")
	check "podman: attach to an image's name (not a container) says there is no such container, exits 125" \
		eq "$(echo "$out" | grep -ic 'no such container') $(echo "$out" | tail -1)" "1 exit 125" ||
		echo "$out" | sed 's/^/    /'
}

# CONTAINER_TEST_ENGINES="podman": only those (the default is both)
ENGINES=" ${CONTAINER_TEST_ENGINES:-docker podman} "
if [[ $ENGINES != *" docker "* ]]; then
	echo "# docker not asked for (CONTAINER_TEST_ENGINES)"
elif docker_up; then
	docker_part
else
	echo "# SKIP docker: dockerd cannot run on this machine (reasons above)"
fi
docker_down
if [[ $ENGINES == *" docker "* ]]; then
	out=$(ip netns exec "$NS_HOST" "$SLUICE" attach --docker web --policy "$D/policy.yaml" 2>&1 >/dev/null; echo "exit $?")
	check "with no docker daemon, attach --docker says docker inspect failed and why, exits 125" \
		eq "$(echo "$out" | grep -c 'docker inspect web: .*Cannot connect to the Docker daemon') $(echo "$out" | tail -1)" "1 exit 125" ||
		echo "$out" | sed 's/^/    /'
fi
if [[ $ENGINES != *" podman "* ]]; then
	echo "# podman not asked for (CONTAINER_TEST_ENGINES)"
elif podman_up; then
	podman_part
else
	echo "# SKIP podman: rootless podman cannot run on this machine (reasons above)"
fi
finish
