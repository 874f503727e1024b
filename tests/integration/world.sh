# world.sh: a private test world of network namespaces, sourced by tests.
#
#   host ns  (sluice and the clients)  vh<id> 198.51.100.1/24  2001:db8::1/64
#      │ veth
#   inet ns  (the origins)             vi<id> 198.51.100.10 (nginx, origin.py)
#                                             198.51.100.53 (dnsmasq)
#                                             2001:db8::10  (nginx)
#                                (cache_world.sh: 198.51.100.20, 2001:db8::20, the registries)
# Only TEST-NET and documentation addresses: a stray packet goes nowhere.
# world_up registers world_down on EXIT, so a failing test still cleans up.

WORLD_ID=${WORLD_ID:-$$}
NS_HOST=slh$WORLD_ID
NS_NET=sli$WORLD_ID
# not under /tmp: the sandbox gets a private /tmp and could not see it there
WORLD_DIR=$(mktemp -d /var/lib/sluice-world.XXXXXX)
WORLD_PIDS=()
WORLD_DNSMASQ_ARGS=() # more dnsmasq options (cache_world.sh adds the registries' names)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

in_host() { ip netns exec "$NS_HOST" "$@"; }
in_net() { ip netns exec "$NS_NET" "$@"; }

world_down() {
	local pid
	for pid in "${WORLD_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${WORLD_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	ip netns del "$NS_HOST" 2>/dev/null
	ip netns del "$NS_NET" 2>/dev/null
	rm -rf "$WORLD_DIR"
}

# Start a command in namespace $1 in the background; world_down ends it by
# PID (ip netns exec execs the command, so $! is the command itself).
world_bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" &
	WORLD_PIDS+=($!)
}

# Wait until a TCP port answers inside a namespace (at most 10 s).
wait_port() {
	local ns=$1 addr=$2 port=$3 i
	for i in $(seq 100); do
		ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for $addr:$port in $ns" >&2
	return 1
}

make_certs() {
	local d=$WORLD_DIR
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=allowed.test" \
		-keyout "$d/site.key" -out "$d/site.csr" 2>/dev/null
	printf 'subjectAltName=DNS:allowed.test,DNS:*.wild.test,DNS:v6only.test,DNS:other.test\n' >"$d/san.ext"
	openssl x509 -req -in "$d/site.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/san.ext" -out "$d/site.pem" 2>/dev/null
}

start_nginx() {
	local d=$WORLD_DIR
	mkdir -p "$d/www" "$d/nginx"
	head -c $((64 * 1024 * 1024)) /dev/zero >"$d/www/big"
	cat >"$d/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/nginx-error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $d/nginx;
	proxy_temp_path $d/nginx;
	fastcgi_temp_path $d/nginx;
	uwsgi_temp_path $d/nginx;
	scgi_temp_path $d/nginx;
	server {
		listen 198.51.100.10:80;
		listen 198.51.100.10:8080;
		listen [2001:db8::10]:80;
		listen 198.51.100.10:443 ssl;
		listen [2001:db8::10]:443 ssl;
		ssl_certificate $d/site.pem;
		ssl_certificate_key $d/site.key;
		root $d/www;
		location = /big { }
		location /repo.git/ { default_type application/octet-stream; }
		location / { default_type text/plain; return 200 "hello from \$host\n"; }
	}
}
NGINX
	world_bg "$NS_NET" nginx -c "$d/nginx.conf" -p "$d"
}

start_dnsmasq() {
	local d=$WORLD_DIR seg
	seg=$(printf '%0250d' 0) # big.test: 3 strings of 250 bytes, more than 512 in all
	world_bg "$NS_NET" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
		--listen-address=198.51.100.53 --port=53 --log-queries --log-facility="$d/dnsmasq.log" \
		--pid-file="$d/dnsmasq.pid" --local=/test/ \
		--address=/allowed.test/198.51.100.10 --address=/allowed.test/2001:db8::10 \
		--address=/other.test/198.51.100.10 --address=/wild.test/198.51.100.10 \
		--address=/rebind.test/127.0.0.1 --address=/private.test/10.1.2.3 \
		--address=/v6only.test/2001:db8::10 \
		--address=/metadata.google.internal/198.51.100.10 \
		--address=/mixed.test/198.51.100.10 --address=/mixed.test/10.1.2.4 \
		--host-record=target.test,198.51.100.10 --cname=alias.test,target.test \
		--host-record=inside.test,10.9.9.9 --cname=sneaky.test,inside.test \
		--txt-record=txt.test,"hello sluice" --mx-host=mail.test,target.test,10 \
		--txt-record=big.test,"$seg","$seg","$seg" "${WORLD_DNSMASQ_ARGS[@]}"
}

world_up() {
	trap world_down EXIT
	ip netns add "$NS_HOST" && ip netns add "$NS_NET" || return 1
	ip link add "vh$WORLD_ID" type veth peer name "vi$WORLD_ID" || return 1
	ip link set "vh$WORLD_ID" netns "$NS_HOST"
	ip link set "vi$WORLD_ID" netns "$NS_NET"
	in_host ip link set lo up
	in_net ip link set lo up
	in_host ip addr add 198.51.100.1/24 dev "vh$WORLD_ID"
	in_host ip addr add 2001:db8::1/64 dev "vh$WORLD_ID" nodad
	in_net ip addr add 198.51.100.10/24 dev "vi$WORLD_ID"
	in_net ip addr add 198.51.100.53/24 dev "vi$WORLD_ID"
	in_net ip addr add 2001:db8::10/64 dev "vi$WORLD_ID" nodad
	in_host ip link set "vh$WORLD_ID" up
	in_net ip link set "vi$WORLD_ID" up
	make_certs
	start_nginx
	start_dnsmasq
	world_bg "$NS_NET" python3 "$HERE/origin.py" 198.51.100.10 >/dev/null
	wait_port "$NS_NET" 198.51.100.10 80 && wait_port "$NS_NET" 198.51.100.10 443 &&
		wait_port "$NS_NET" 198.51.100.10 8081 && wait_port "$NS_NET" 198.51.100.10 7007 &&
		wait_port "$NS_NET" 198.51.100.10 7008
}

# ---- assertions: TAP-style lines and a closing "N passed, N failed" line ----
T_PASS=0
T_FAIL=0

check() {
	local name=$1
	shift
	if "$@"; then
		T_PASS=$((T_PASS + 1))
		echo "ok - $name"
	else
		T_FAIL=$((T_FAIL + 1))
		echo "not ok - $name"
		return 1 # so that `check ... || <show more>` can say why
	fi
}

eq() {
	[ "$1" == "$2" ] && return 0
	echo "    expected: $2" >&2
	echo "    got:      $1" >&2
	return 1
}

finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}
