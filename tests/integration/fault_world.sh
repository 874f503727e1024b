# fault_world.sh: what the tests against fault_origin.py share (sourced after
# world.sh and cache_world.sh, once world_up has run and the test's EXIT
# trap is set): the origin on the world's REGISTRY_ADDR, a policy, sluice's
# CA, and the helpers that ask the origin and read the store and the log.
D=$WORLD_DIR
FO=$D/fault-origin
CADIR=$D/sluice-ca
SCA=$D/sluice-ca.pem
NPM=https://registry.npmjs.org
POOL=http://deb.debian.org/debian/pool/main

# fault_world_up NAME: fault_origin.py serving, $D/NAME.yaml (the npm and
# debian presets, the world's addresses allowed) and sluice's CA in $CADIR
fault_world_up() {
	make_registry_cert || { echo "could not make the registry certificate"; return 1; }
	in_net ip addr replace "$REGISTRY_ADDR/24" dev "vi$WORLD_ID"
	in_net ip addr replace "$REGISTRY_ADDR6/64" dev "vi$WORLD_ID" nodad
	world_bg "$NS_NET" python3 "$HERE/fault_origin.py" "$REGISTRY_ADDR" "$REGISTRY_ADDR6" \
		"$D/registry.pem" "$D/registry.key" "$FO" 2>"$D/fault-origin.err"
	wait_port "$NS_NET" "$REGISTRY_ADDR" 443 && wait_port "$NS_NET" "$REGISTRY_ADDR" 80 &&
		wait_port "$NS_NET" "$REGISTRY_ADDR" 9000 || { echo "the fault origin did not start"; cat "$D/fault-origin.err"; return 1; }
	cat >"$D/$1.yaml" <<YAML
version: 1
name: $1
presets: [npm, debian]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]
YAML
	in_host "$SLUICE" ca init --ca "$CADIR" 2>>"$D/sluice.err" &&
		in_host "$SLUICE" ca show --ca "$CADIR" >"$SCA" 2>>"$D/sluice.err" || { echo "no CA"; return 1; }
}

# the origin's control port, asked directly
ctl() { in_host curl -sS --noproxy '*' --max-time 5 "http://$REGISTRY_ADDR:9000/$1"; }
ocount() { ctl "count?path=$1"; }
# the known sha256 and size of the origin's object at path $1
osha() { awk -v p="$1" '$1 == p {print $3}' "$FO/objects"; }
osize() { awk -v p="$1" '$1 == p {print $2}' "$FO/objects"; }
lines() { wc -l <"$1" 2>/dev/null || echo 0; }
entries() { in_host "$SLUICE" cache stats --cache "$1" 2>>"$D/sluice.err" | awk '$1 == "entries:" {print $2}'; }
sha() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
# hdr NAME FILE: the value of header NAME in the head curl wrote to FILE
hdr() { grep -i "^$1:" "$2" | tr -d '\r' | cut -d' ' -f2; }
# wait_for FILE [TENTHS]: until FILE exists (default 10 s)
wait_for() {
	local i
	for i in $(seq "${2:-100}"); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# records LOG MARK PHASE PACKAGE [N] [FIELD]: FIELD (default cache) of the
# PHASE records for PACKAGE after line MARK of LOG, in order, one line;
# waits up to 3 s for N
records() {
	local log=$1 mark=$2 phase=$3 pkg=$4 want=${5:-1} field=${6:-cache} i out
	for i in $(seq 30); do
		out=$(tail -n +$((mark + 1)) "$log" 2>/dev/null | jq -r --arg ph "$phase" --arg p "$pkg" --arg f "$field" \
			'select(.event=="http" and .phase==$ph and .package==$p) | .[$f] // "-"')
		[ "$(grep -c . <<<"$out")" -ge "$want" ] && break
		sleep 0.1
	done
	echo $out
}
