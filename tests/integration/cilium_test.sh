#!/usr/bin/env bash
# cilium_test.sh SLUICE: `sluice policy export --format cilium` parsed as YAML
# (python3-yaml) and checked field by field against the CiliumNetworkPolicy
# shape Cilium documents (cilium.io/v2, spec.egress[] with toFQDNs, toCIDR,
# toPorts, the DNS rule to kube-dns), and the notes on what differs.
set -u
SLUICE=$(realpath "$1")
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
T_PASS=0 T_FAIL=0
check() {
	local name=$1
	shift
	if "$@"; then T_PASS=$((T_PASS + 1)); echo "ok - $name"; else T_FAIL=$((T_FAIL + 1)); echo "not ok - $name"; fi
}
eq() { [ "$1" == "$2" ] && return 0; echo "    expected: $2" >&2; echo "    got:      $1" >&2; return 1; }

cat >"$D/p.yaml" <<'YAML'
version: 1
name: My_github
allow:
  - api.github.com
  - "*.githubusercontent.com"
  - github.com:22
  - 192.0.2.7
  - "[2001:db8::/32]:443"
presets: [npm]
deny: [uploads.github.com, 203.0.113.0/24]
allow_private: ["192.0.2.7"]
YAML
"$SLUICE" policy export --format cilium "$D/p.yaml" >"$D/cnp.yaml" 2>"$D/notes"
check "export exits 0" eq "$?" "0"
# prints one line per field: path=value, in document order
python3 - "$D/cnp.yaml" >"$D/fields" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
def walk(p, v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(f"{p}.{k}" if p else k, x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(f"{p}[{i}]", x)
    else:
        print(f"{p}={v}")
walk("", doc)
PY
check "parses as one YAML document" test -s "$D/fields"
f() { grep -E "^$1=" "$D/fields" | cut -d= -f2- | tr '\n' ' '; }
check "apiVersion cilium.io/v2, kind CiliumNetworkPolicy" eq "$(f apiVersion)$(f kind)" "cilium.io/v2 CiliumNetworkPolicy "
check "metadata.name is a k8s name made from the policy's" eq "$(f metadata.name)" "my-github "
check "spec.endpointSelector selects by a label" eq "$(f 'spec.endpointSelector.matchLabels.sluice.io/policy')" "my-github "
check "egress[0]: the DNS rule to kube-dns, port 53 ANY, dns matchPattern *" \
	eq "$(f 'spec.egress\[0\].toEndpoints\[0\].matchLabels.k8s:k8s-app')$(f 'spec.egress\[0\].toEndpoints\[0\].matchLabels.k8s:io.kubernetes.pod.namespace')$(f 'spec.egress\[0\].toPorts\[0\].ports\[0\].port')$(f 'spec.egress\[0\].toPorts\[0\].ports\[0\].protocol')$(f 'spec.egress\[0\].toPorts\[0\].rules.dns\[0\].matchPattern')" \
	"kube-dns kube-system 53 ANY * "
check "egress[1]: names on the policy's ports (own and the npm preset's)" \
	eq "$(f 'spec.egress\[1\].toFQDNs\[[0-9]\].match(Name|Pattern)')| $(f 'spec.egress\[1\].toPorts\[0\].ports\[[0-9]\].port')| $(f 'spec.egress\[1\].toPorts\[0\].ports\[[0-9]\].protocol')" \
	"api.github.com **.githubusercontent.com registry.npmjs.org registry.yarnpkg.com | 443 80 | TCP TCP "
check "  *.suffix as a matchPattern, an exact name as matchName" \
	eq "$(grep -c 'toFQDNs\[1\].matchPattern=\*\*.githubusercontent.com' "$D/fields")$(grep -c 'toFQDNs\[0\].matchName=api.github.com' "$D/fields")" "11"
check "egress[2]: a name with its own port" \
	eq "$(f 'spec.egress\[2\].toFQDNs\[0\].matchName')$(f 'spec.egress\[2\].toPorts\[0\].ports\[0\].port')" "github.com 22 "
check "egress[3]: an address as toCIDR /32 on the policy's ports" \
	eq "$(f 'spec.egress\[3\].toCIDR\[0\]')$(f 'spec.egress\[3\].toPorts\[0\].ports\[[0-9]\].port')" "192.0.2.7/32 443 80 "
check "egress[4]: an IPv6 CIDR with its port" \
	eq "$(f 'spec.egress\[4\].toCIDR\[0\]')$(f 'spec.egress\[4\].toPorts\[0\].ports\[0\].port')" "2001:db8::/32 443 "
check "no other egress rule" eq "$(grep -c '^spec.egress\[5\]' "$D/fields")" "0"
check "a deny address is an egressDeny toCIDR" eq "$(f 'spec.egressDeny\[0\].toCIDR\[0\]')" "203.0.113.0/24 "
check "stderr: the suffix's depth in Cilium" grep -q '"\*.githubusercontent.com" is written "\*\*.githubusercontent.com"' "$D/notes"
check "stderr: a deny name Cilium cannot express" grep -q 'deny "uploads.github.com": Cilium has no FQDN deny' "$D/notes"
check "stderr: allow_private and the preset's cache rules cannot be expressed" \
	eq "$(grep -cE 'allow_private "192.0.2.7"|cache rules .*not expressed' "$D/notes")" "2"
check "stderr: a blocked-range entry widens in Cilium" grep -qF '"[2001:db8::/32]:443" is in a blocked range' "$D/notes"
check "  but not one that allow_private re-allows" eq "$(grep -c '"192.0.2.7" is in a blocked range' "$D/notes")" "0"
check "stdout holds no note" eq "$(grep -c 'sluice:' "$D/cnp.yaml")" "0"
"$SLUICE" policy export --format calico "$D/p.yaml" >/dev/null 2>&1
check "another format is a usage error (2)" eq "$?" "2"
echo "$T_PASS passed, $T_FAIL failed"
[ "$T_FAIL" -eq 0 ]
