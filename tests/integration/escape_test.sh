#!/usr/bin/env bash
# escape_test.sh SLUICE: the ways out of `sluice run` other than the network,
# tried from inside as root and as nobody: inherited descriptors, sluice's
# own init and supervisor, the host's /proc and /sys, host unix sockets,
# socket families and io_uring, new user namespaces, the host filesystem and
# the secrets under $HOME. Every attempt is bounded by a timeout of a few
# seconds, and has a positive control where one is possible: the same probe
# outside the sandbox, or the policy key that opens the way. The probes are
# escape.py's.
set -u
SLUICE=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/world.sh"
# one run at a time: the stand-in sockets and the domainname are the host's
exec {LOCK}<"$0" && flock -w 120 "$LOCK" || { echo "another escape_test.sh holds the lock"; exit 1; }
world_up || { echo "could not build the test world"; exit 1; }
# the system's python3 inside and out, not a per-user shim under /root
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

D=$WORLD_DIR
chmod 755 "$D"
mkdir -p "$D/logs" "$D/err" "$D/pid" && chmod 1777 "$D/logs"
cp "$HERE/escape.py" "$D/escape.py"
PROBE=$D/escape.py
NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
SECRET=sluice-escape-secret-$RANDOM$RANDOM
# the host's domainname, and the one the sandbox will try to set (restored
# at exit if it took, unless something else has changed it since)
DOMAIN=$(cat /proc/sys/kernel/domainname)
case $DOMAIN in sluice-escape-*) DOMAIN="(none)" ;; esac # another run's, mid-test
OURS=sluice-escape-$$
restore_domain() { [ "$(cat /proc/sys/kernel/domainname)" != "$OURS" ] || echo "$DOMAIN" >/proc/sys/kernel/domainname; }

# ---- what this test makes outside the world dir, removed at exit ----------
# Only where nothing exists; last made, first removed; directories only when
# empty again; stand-in sockets only once bound (bind fails where a file is).
MADE=()
SERVE_PID=
cleanup() {
	local i
	if [ -n "$SERVE_PID" ]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	for ((i = ${#MADE[@]} - 1; i >= 0; i--)); do
		if [ -d "${MADE[i]}" ] && [ ! -L "${MADE[i]}" ]; then
			rmdir "${MADE[i]}" 2>/dev/null
		else
			rm -f "${MADE[i]}"
		fi
	done
	restore_domain
	world_down
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
# claim PATH: nothing is there now; remove what the sandbox may leave there
claim() {
	[ -e "$1" ] || [ -L "$1" ] && return 1
	MADE+=("$1")
}
# mkdirs DIR [OWNER MODE]: DIR and its missing parents
mkdirs() {
	[ -d "$1" ] && return 0
	mkdirs "$(dirname "$1")" && mkdir "$1" && MADE+=("$1") || return 1
	[ $# -lt 3 ] || { chown "$2" "$1" && chmod "$3" "$1"; }
}

# ---- stand-in host sockets, each answering its name -----------------------
declare -A SOCK # path -> the line it answers, for those this test placed
standin() {
	if [ -e "$1" ] || [ -L "$1" ]; then
		echo "# $1 exists on this machine: no stand-in there, its checks are left out"
	else
		SOCK[$1]=$2
	fi
}
for n in $(seq 0 99); do [ -e "/tmp/.X11-unix/X$n" ] || break; done
X11=/tmp/.X11-unix/X$n
BUS_ROOT=/run/user/0/bus
BUS_NOBODY=/run/user/$(id -u nobody)/bus
SYSD=/run/systemd/private
AGENT=$D/agent.sock
DB=$D/db.sock
mkdirs /run/user/0 root 700 && standin "$BUS_ROOT" session-bus
mkdirs "$(dirname "$BUS_NOBODY")" nobody:nogroup 700 && standin "$BUS_NOBODY" session-bus
mkdirs /run/systemd && standin "$SYSD" systemd
mkdirs /tmp/.X11-unix root 1777 && standin "$X11" x11
standin "$AGENT" ssh-agent
standin "$DB" database
python3 "$PROBE" serve $(for p in "${!SOCK[@]}"; do echo "$p=${SOCK[$p]}"; done) >"$D/serve.out" &
SERVE_PID=$!
for _ in $(seq 50); do grep -q ready "$D/serve.out" && break; sleep 0.1; done
for p in "${!SOCK[@]}"; do
	if grep -qxF "bound $p" "$D/serve.out"; then
		MADE+=("$p")
	else
		echo "# $p exists on this machine: no stand-in there, its checks are left out"
		unset "SOCK[$p]"
	fi
done

# ---- policies ---------------------------------------------------------------
BASE='version: 1
name: escape
allow: [allowed.test]
allow_private: ["198.51.100.0/24", "2001:db8::/32"]'
echo "$BASE" >"$D/esc.yaml"
printf '%s\nwrite: ["%s", "%s"]\n' "$BASE" "$D/out-root" "$D/out-nobody" >"$D/write.yaml"
printf '%s\nhide: ["~/notes.txt"]\nshow: ["~/.npmrc"]\n' "$BASE" >"$D/hide.yaml"
printf '%s\nunmask: [session-bus, "%s"]\n' "$BASE" "$DB" >"$D/unmask.yaml"
printf '%s\nunmask: [ssh-agent]\n' "$BASE" >"$D/agent.yaml"
chmod 644 "$D"/*.yaml "$D/ca.pem" "$PROBE"
CURL="curl -sS --max-time 5 --cacert $D/ca.pem"

# ---- helpers ------------------------------------------------------------------
# sb NAME [OPTION]... -- CMD...: CMD under `sluice run` in the world's host
# namespace as $U (root or nobody), in ${CWD:-$TREE} with HOME=$HOMED and the
# policy ${POL:-esc.yaml}, at most 20 s; prints CMD's stdout. sluice's stderr
# goes to $D/err/$U.NAME, the supervisor's host PID to $D/pid/$U.NAME. $PRE
# (escape.py hold) wraps it.
sb() {
	local name=$1
	shift
	(cd "${CWD:-$TREE}" && HOME=$HOMED in_host ${PRE:-} timeout -k 2 20 \
		bash -c 'echo $$ >"$0" && exec "$@"' "$D/pid/$U.$name" $AS "$SLUICE" run \
		--policy "${POL:-$D/esc.yaml}" --log "${LOG:-$D/logs/$U.log}" --resolver 198.51.100.53 "$@" \
		</dev/null 2>"$D/err/$U.$name")
}
# field OUTPUT KEY: the rest of the line "KEY rest" a probe printed
field() { awk -v k="$2" 'index($0, k " ") == 1 { print substr($0, length(k) + 2); exit }' <<<"$1"; }
oneof() {
	local v=$1 a
	shift
	for a; do [ "$v" == "$a" ] && return 0; done
	echo "    expected one of: $*" >&2
	echo "    got:             $v" >&2
	return 1
}
ne() {
	[ "$1" != "$2" ] && return 0
	echo "    expected anything but: $2" >&2
	return 1
}
# every argument is a probe's refusal: an error, not ok and not nothing
refused() {
	local v
	for v; do
		[ -n "$v" ] && [ "$v" != ok ] && [ "$v" != opened ] && continue
		echo "    expected an error, got: ${v:-nothing}" >&2
		return 1
	done
}
sum() { sha256sum "$1" 2>/dev/null | cut -c1-16; }
ms_since() { echo $(((${EPOCHREALTIME/./} - $1) / 1000)); }
hgit() { git -c safe.directory='*' -C "$TREE" "$@"; } # the host's view of the tree

# ---- a user's world: HOME with secrets, a git work tree, write: paths ------
# make_user U OWNER: $D/home-U, $D/tree-U, $D/hostdir-U, $D/out-U
make_user() {
	local u=$1 own=$2 h=$D/home-$1
	mkdir -p "$h/.ssh" "$h/.aws" "$h/.gnupg/private-keys-v1.d" "$h/.kube" "$h/.docker" "$h/.config/gh" \
		"$h/.mozilla/firefox/x.default" "$h/.config/google-chrome/Default" "$h/.config/chromium/Default"
	echo SECRET-KEY >"$h/.ssh/id_ed25519"
	echo SECRET-AWS >"$h/.aws/credentials"
	echo SECRET-GPG >"$h/.gnupg/private-keys-v1.d/key.key"
	echo SECRET-KUBE >"$h/.kube/config"
	echo SECRET-DOCKER >"$h/.docker/config.json"
	echo SECRET-GH >"$h/.config/gh/hosts.yml"
	echo SECRET-NETRC >"$h/.netrc"
	echo SECRET-NPM >"$h/.npmrc"
	echo SECRET-PYPI >"$h/.pypirc"
	echo SECRET-FIREFOX >"$h/.mozilla/firefox/x.default/logins.json"
	echo SECRET-CHROME >"$h/.config/google-chrome/Default/Login Data"
	echo SECRET-CHROMIUM >"$h/.config/chromium/Default/Cookies"
	echo NOTES-TEXT >"$h/notes.txt"
	echo 'alias ls=ls' >"$h/.bashrc"
	git init -q "$D/tree-$u" && echo one >"$D/tree-$u/file" && git -C "$D/tree-$u" add file &&
		git -C "$D/tree-$u" -c user.name=t -c user.email=t@t commit -qm one
	mkdir -p "$D/hostdir-$u" "$D/out-$u"
	echo original >"$D/hostdir-$u/file"
	chown -R "$own" "$h" "$D/tree-$u" "$D/hostdir-$u" "$D/out-$u"
}
make_user root root:root
make_user nobody nobody:nogroup

SECRETS=(.ssh=SECRET-KEY .aws=SECRET-AWS .gnupg=SECRET-GPG .kube=SECRET-KUBE .docker=SECRET-DOCKER
	.config/gh=SECRET-GH .netrc=SECRET-NETRC .npmrc=SECRET-NPM .pypirc=SECRET-PYPI
	.mozilla=SECRET-FIREFOX .config/google-chrome=SECRET-CHROME .config/chromium=SECRET-CHROMIUM
	notes.txt=NOTES-TEXT)
secret_specs() { for s in "${SECRETS[@]}"; do echo "$HOMED/$s"; done; }

# ---- positive controls: each probe sees what it looks for, outside ----------
HOMED=$D/home-root
out=$(in_host python3 "$PROBE" hold 198.51.100.10 7007 python3 "$PROBE" fds)
check "outside: a child sees the inherited fd 7 and its send reaches the origin" \
	eq "$(field "$out" fds | grep -cw 7):$(field "$out" send7):$(field "$out" peer)" "1:sent:echo:LEAKparent"
check "outside: a process tree holding the secret is found by the environ scan" \
	eq "$(SLUICE_TEST_SECRET=$SECRET python3 "$PROBE" secret "$SECRET" $$)" "secret found"
check "outside: kill -0 and pidfd_open reach host PIDs" \
	eq "$(python3 "$PROBE" outside --no-ptrace $$ "${WORLD_PIDS[0]}")" "pid kill:ok pidfd:ok
pid kill:ok pidfd:ok"
check "outside: ps -e shows the world's nginx and dnsmasq" \
	test "$(in_host ps -e -o comm= | grep -cxE 'nginx|dnsmasq')" -ge 2
check "outside: /sys/class/net of the world's host namespace has its veth" \
	eq "$(in_host ls /sys/class/net | grep -cx "vh$WORLD_ID")" "1"
for p in "${!SOCK[@]}"; do
	[ "$p" == "$BUS_NOBODY" ] && continue
	check "outside: the stand-in at $p answers" eq "$(python3 "$PROBE" connect "$p")" "$p ${SOCK[$p]}"
done
[ -n "${SOCK[$BUS_NOBODY]:-}" ] && check "outside: as nobody the stand-in at $BUS_NOBODY answers" \
	eq "$($NOBODY python3 "$PROBE" connect "$BUS_NOBODY")" "$BUS_NOBODY session-bus"
check "outside: unshare -U works on this machine, as root and as nobody" \
	eq "$(unshare -U true && $NOBODY unshare -U true && echo yes)" "yes"
check "outside: every stand-in secret under \$HOME is readable" \
	eq "$(python3 "$PROBE" hidden $(secret_specs) | grep -c ' shown$')" "${#SECRETS[@]}"
HOSTTMP=/tmp/sluice-escape-host.$$
(set -C && echo host-tmp >"$HOSTTMP") 2>/dev/null && MADE+=("$HOSTTMP") && chmod 644 "$HOSTTMP"

# ---- the matrix, for U=root and U=nobody --------------------------------------
suite() {
	U=$1 P=$2 AS=$3
	TREE=$D/tree-$U HOMED=$D/home-$U HOSTDIR=$D/hostdir-$U OUT=$D/out-$U
	local out t0 ms bus=$BUS_ROOT p s

	# 1. descriptors: 0, 1 and 2, nothing else
	out=$(PRE="python3 $PROBE hold 198.51.100.10 7007" sb fds sh -c \
		'python3 "$0" fds; echo "ls" $(ls /proc/self/fd)' "$PROBE")
	check "${P}the command's descriptors are 0, 1 and 2 (fd 7 held by the parent is not there)" \
		eq "$(field "$out" fds)" "0 1 2"
	check "${P}  /proc/self/fd lists 0 1 2 and ls's own 3" eq "$(field "$out" ls)" "0 1 2 3"
	check "${P}  a send on fd 7 fails" eq "$(field "$out" send7)" "EBADF"
	check "${P}  the parent's connection was live and got nothing from the sandbox" \
		eq "$(field "$out" peer)" "echo:parent"

	# 2. sluice's init (pid 1) cannot be traced, read or robbed of descriptors
	t0=${EPOCHREALTIME/./}
	out=$(sb init python3 "$PROBE" init)
	ms=$(ms_since "$t0")
	check "${P}ptrace(PTRACE_ATTACH, 1) fails with EPERM, without hanging (${ms} ms)" \
		eq "$(field "$out" ptrace):$((ms < 5000))" "EPERM:1"
	check "${P}process_vm_readv on pid 1 fails with EPERM" eq "$(field "$out" vmread)" "EPERM"
	check "${P}pidfd_getfd on pid 1, fds 0..20: EPERM or EBADF, never a descriptor" \
		oneof "$(field "$out" getfd)" EPERM EBADF EBADF,EPERM
	check "${P}/proc/1/environ cannot be opened, nor init's by its number in the /proc the command sees" \
		eq "$(field "$out" environ):$(field "$out" parent_environ)" "PermissionError:PermissionError"
	check "${P}the secret in sluice's environment is in no readable /proc/*/environ" \
		eq "$(SLUICE_TEST_SECRET=$SECRET sb secret python3 "$PROBE" secret "$SECRET" $$)" "secret clean"
	out=$(sb outside sh -c 'python3 "$0" outside "$(cat "$1")" "$2"' "$PROBE" "$D/pid/$U.outside" $$)
	check "${P}the supervisor's host PID: kill -0, pidfd_open and ptrace fail with ESRCH" \
		eq "$(sed -n 1p <<<"$out")" "pid kill:ESRCH pidfd:ESRCH ptrace:ESRCH"
	check "${P}  so does the launching shell's" eq "$(sed -n 2p <<<"$out")" "pid kill:ESRCH pidfd:ESRCH ptrace:ESRCH"

	# 3. /proc and /sys are the sandbox's own
	out=$(sb ps ps -e -o pid=,comm=)
	check "${P}ps -e shows no host process (nginx, dnsmasq)" eq "$(grep -cwE 'nginx|dnsmasq' <<<"$out")" "0"
	check "${P}ps -e shows pid 1 and the command (ps, pid 2) only" \
		eq "$(awk '{ print $1 }' <<<"$out" | tr '\n' ' ')" "1 2 "
	check "${P}/sys/class/net has only lo" eq "$(sb sysnet ls /sys/class/net | tr '\n' ' ')" "lo "

	# 4. host unix sockets
	[ "$U" == nobody ] && bus=$BUS_NOBODY
	local paths=()
	for p in "$bus" "$SYSD" "$X11" "$AGENT" "$DB"; do [ -n "${SOCK[$p]:-}" ] && paths+=("$p"); done
	t0=${EPOCHREALTIME/./}
	out=$(SSH_AUTH_SOCK=$AGENT sb sockets --env SSH_AUTH_SOCK sh -c \
		'echo "env ${SSH_AUTH_SOCK-unset}"; exec python3 "$@"' sh "$PROBE" connect "${paths[@]}")
	ms=$(ms_since "$t0")
	for p in "${paths[@]}"; do
		check "${P}the stand-in host socket $p cannot be reached" \
			oneof "$(field "$out" "$p")" ConnectionRefusedError FileNotFoundError PermissionError
	done
	check "${P}  each refused at once (${ms} ms for all)" test "$ms" -lt 3000
	check "${P}SSH_AUTH_SOCK is not in the command's environment, even with --env" \
		eq "$(field "$out" env)" "unset"
	out=$(POL=$D/unmask.yaml sb unmask python3 "$PROBE" connect "$bus" "$DB" "$SYSD")
	[ -n "${SOCK[$bus]:-}" ] && check "${P}unmask: [session-bus] reaches the session bus" \
		eq "$(field "$out" "$bus")" "session-bus"
	check "${P}unmask: [\"$DB\"] reaches that socket" eq "$(field "$out" "$DB")" "database"
	[ -n "${SOCK[$SYSD]:-}" ] && check "${P}  and leaves the systemd manager's masked" \
		oneof "$(field "$out" "$SYSD")" ConnectionRefusedError FileNotFoundError PermissionError
	out=$(POL=$D/agent.yaml SSH_AUTH_SOCK=$AGENT sb agent --env SSH_AUTH_SOCK sh -c \
		'echo "env ${SSH_AUTH_SOCK-unset}"; exec python3 "$0" connect "$SSH_AUTH_SOCK"' "$PROBE")
	check "${P}unmask: [ssh-agent] passes SSH_AUTH_SOCK and reaches the agent" \
		eq "$(field "$out" env):$(field "$out" "$AGENT")" "$AGENT:ssh-agent"

	# 5. socket families and io_uring
	out=$(sb families python3 "$PROBE" families)
	for s in AF_VSOCK AF_PACKET AF_BLUETOOTH AF_CAN; do
		check "${P}socket($s) fails with EPERM" eq "$(field "$out" $s)" "PermissionError"
	done
	for s in AF_INET AF_INET6 AF_UNIX AF_NETLINK; do
		check "${P}socket($s) still works" eq "$(field "$out" $s)" "opened"
	done
	check "${P}sluice says: refused socket(AF_VSOCK) in the sandbox" \
		eq "$(grep -c '^sluice: run: refused socket(AF_VSOCK) in the sandbox: ' "$D/err/$U.families")" "1"
	out=$(sb uring python3 "$PROBE" uring)
	check "${P}io_uring_setup fails with EPERM" eq "$(field "$out" io_uring)" "EPERM"
	check "${P}sluice says: refused io_uring_setup" \
		eq "$(grep -c '^sluice: run: refused io_uring_setup' "$D/err/$U.uring")" "1"
	out=$(sb tty python3 "$PROBE" tty)
	check "${P}ioctl(TIOCSTI) on a terminal fails with EPERM" eq "$(field "$out" TIOCSTI)" "EPERM"
	check "${P}sluice says: refused ioctl(TIOCSTI)" \
		eq "$(grep -c '^sluice: run: refused ioctl(TIOCSTI) in the sandbox' "$D/err/$U.tty")" "1"
	check "${P}outside, a key in the session keyring is found" \
		eq "$($AS python3 "$PROBE" keyring-hold python3 "$PROBE" keyring-read)" "keyring found"
	out=$(PRE="python3 $PROBE keyring-hold" sb keyring python3 "$PROBE" keyring-read)
	check "${P}inside, the caller's session keyring is not there: keyctl is refused" eq "$out" "keyring EPERM"
	check "${P}sluice says: refused keyctl" \
		eq "$(grep -c '^sluice: run: refused keyctl in the sandbox' "$D/err/$U.keyring")" "1"
	check "${P}/dev holds no disk, only harmless devices" \
		eq "$(sb dev sh -c 'ls /dev | tr "\n" " "')" "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero "

	# 6. no new user namespaces
	out=$(sb unshare sh -c 'unshare -U true 2>&1; echo "rc $?"; unshare -Un true 2>&1; echo "rc $?"')
	check "${P}unshare -U and unshare -Un fail: Operation not permitted" \
		eq "$(grep -c 'Operation not permitted' <<<"$out"):$(grep -c '^rc 0$' <<<"$out")" "2:0"
	check "${P}sluice says: refused unshare(CLONE_NEWUSER...)" \
		test "$(grep -c '^sluice: run: refused unshare(CLONE_NEWUSER' "$D/err/$U.unshare")" -ge 1

	# 7. the filesystem: read-only but for a private /tmp, the working
	# directory and the write: paths
	local intmp=/tmp/sluice-escape-inside.$U.$$ before
	claim "$intmp"
	out=$(sb tmp python3 "$PROBE" fs "create:$intmp" "read:$HOSTTMP")
	check "${P}/tmp is writable inside" eq "$(field "$out" "create:$intmp")" "ok"
	check "${P}  but what is written there is not in the host's /tmp" test ! -e "$intmp"
	check "${P}  and the host's /tmp files are not seen" eq "$(field "$out" "read:$HOSTTMP")" "ENOENT"
	before=$(sum "$HOSTDIR/file")
	out=$(sb hostfs python3 "$PROBE" fs "append:$HOSTDIR/file" "trunc:$HOSTDIR/file" "create:$HOSTDIR/new")
	check "${P}appending to a host file of the user's own fails with EROFS" \
		eq "$(field "$out" "append:$HOSTDIR/file"):$(field "$out" "trunc:$HOSTDIR/file")" "EROFS:EROFS"
	check "${P}  and the file is unchanged" eq "$(sum "$HOSTDIR/file")" "$before"
	check "${P}creating a file in a host directory of the user's own fails with EROFS" \
		eq "$(field "$out" "create:$HOSTDIR/new"):$(test -e "$HOSTDIR/new" && echo made)" "EROFS:"
	before=$(sum "$HOMED/.bashrc")
	out=$(sb bashrc python3 "$PROBE" fs "append:$HOMED/.bashrc" "trunc:$HOMED/.bashrc")
	check "${P}~/.bashrc cannot be written or truncated" \
		refused "$(field "$out" "append:$HOMED/.bashrc")" "$(field "$out" "trunc:$HOMED/.bashrc")"
	check "${P}  and is unchanged" eq "$(sum "$HOMED/.bashrc")" "$before"

	before=$(sum "$TREE/.git/config")
	out=$(sb git sh -c 'echo two >>file && git add file && git -c user.name=t -c user.email=t@t commit -qm "from the sandbox" && echo "commit ok"
		python3 "$0" fs create:.git/hooks/pre-commit append:.git/hooks/pre-commit.sample mkdir:.vscode create:.vscode/tasks.json
		git config --local x.y z 2>/dev/null; echo "config $?"' "$PROBE")
	check "${P}git commit in the working tree works" eq "$(field "$out" commit)" "ok"
	check "${P}  and the commit is in the host's repository" eq "$(hgit log -1 --format=%s)" "from the sandbox"
	check "${P}.git/hooks/pre-commit cannot be created" \
		refused "$(field "$out" create:.git/hooks/pre-commit)" "$(test -e "$TREE/.git/hooks/pre-commit" && echo ok || echo absent)"
	check "${P}  nor a hook sample changed" refused "$(field "$out" append:.git/hooks/pre-commit.sample)"
	check "${P}git config --local fails (.git/config is read-only) and .git/config is unchanged" \
		eq "$(field "$out" config | grep -cx '[1-9][0-9]*'):$(sum "$TREE/.git/config")" "1:$before"
	check "${P}.vscode/tasks.json cannot be created in the tree" \
		refused "$(field "$out" create:.vscode/tasks.json)" "$(test -e "$TREE/.vscode/tasks.json" && echo ok || echo absent)"
	check "${P}  and no .vscode is left in the tree" test ! -e "$TREE/.vscode"
	rm -rf "$TREE/.git/hooks"
	out=$(sb nohooks python3 "$PROBE" fs mkdir:.git/hooks create:.git/hooks/pre-commit)
	check "${P}without .git/hooks, creating .git/hooks fails" \
		refused "$(field "$out" mkdir:.git/hooks)" "$(field "$out" create:.git/hooks/pre-commit)"
	check "${P}  and the host has no .git/hooks afterwards" test ! -e "$TREE/.git/hooks"

	out=$(LOG=$TREE/audit.jsonl sb audit sh -c "$CURL -o /dev/null https://allowed.test/; python3 $PROBE fs trunc:audit.jsonl append:audit.jsonl; $CURL -o /dev/null https://allowed.test/")
	check "${P}the audit log in the working tree cannot be truncated or appended to" \
		refused "$(field "$out" trunc:audit.jsonl)" "$(field "$out" append:audit.jsonl)"
	check "${P}  and is intact: every line parses" eq "$(jq -c . "$TREE/audit.jsonl" >/dev/null 2>&1 && echo yes)" "yes"
	check "${P}  and both connections are in it" \
		eq "$(jq -rR 'fromjson? | select(.event=="connect" and .phase=="decision") | .host' "$TREE/audit.jsonl" | tr '\n' ' ')" \
		"allowed.test allowed.test "

	out=$(POL=$D/write.yaml sb write python3 "$PROBE" fs "create:$OUT/made")
	check "${P}a write: path is writable" eq "$(field "$out" "create:$OUT/made")" "ok"
	check "${P}  and the file is on the host" eq "$(cat "$OUT/made" 2>/dev/null)" "sandbox was here"
	out=$(CWD=$HOMED sb cwdhome python3 "$PROBE" fs create:cwdfile)
	check "${P}a working directory that is \$HOME is not writable" \
		refused "$(field "$out" create:cwdfile)" "$(test -e "$HOMED/cwdfile" && echo ok || echo absent)"
	check "${P}  and sluice says so in one line naming write:" eq "$(grep -c 'write:' "$D/err/$U.cwdhome")" "1"

	# 8. secrets under $HOME are hidden
	out=$(sb hidden sh -c 'python3 "$0" hidden "$@"; cat ~/.ssh/id_ed25519 ~/.netrc 2>&1' "$PROBE" $(secret_specs))
	for s in "${SECRETS[@]}"; do
		p=${s%%=*}
		[ "$p" == notes.txt ] && continue
		check "${P}~/$p is hidden" eq "$(field "$out" "$HOMED/$p")" "hidden"
	done
	check "${P}  no SECRET-KEY or SECRET-NETRC anywhere in the output" eq "$(grep -c 'SECRET-KEY\|SECRET-NETRC' <<<"$out")" "0"
	check "${P}~/notes.txt is readable by default" eq "$(field "$out" "$HOMED/notes.txt")" "shown"
	out=$(POL=$D/hide.yaml sb hide python3 "$PROBE" hidden "$HOMED/notes.txt=NOTES-TEXT" "$HOMED/.npmrc=SECRET-NPM" "$HOMED/.ssh=SECRET-KEY")
	check "${P}hide: [\"~/notes.txt\"] hides it" eq "$(field "$out" "$HOMED/notes.txt")" "hidden"
	check "${P}show: [\"~/.npmrc\"] shows it again" eq "$(field "$out" "$HOMED/.npmrc")" "shown"
	check "${P}  and ~/.ssh stays hidden" eq "$(field "$out" "$HOMED/.ssh")" "hidden"

	# 9. in one run: allowed traffic, a commit and a write: path
	out=$(POL=$D/write.yaml sb together sh -c "echo curl \$($CURL https://allowed.test/)
		echo three >>file && git add file && git -c user.name=t -c user.email=t@t commit -qm together && echo 'commit ok'
		echo together >$OUT/together && echo 'write ok'")
	check "${P}in one run: HTTPS to an allowed origin" eq "$(field "$out" curl)" "hello from allowed.test"
	check "${P}  a git commit, on the host afterwards" eq "$(field "$out" commit):$(hgit log -1 --format=%s)" "ok:together"
	check "${P}  and a write to a write: path, on the host afterwards" \
		eq "$(field "$out" write):$(cat "$OUT/together" 2>/dev/null)" "ok:together"
}

suite root "" ""

# as root only (as nobody the kernel's permissions refuse these anyway)
U=root TREE=$D/tree-root HOMED=$D/home-root AS=
out=$(sb sysctl python3 "$PROBE" sysctl "$OURS")
check "writing /proc/sys/kernel/domainname fails with EROFS" eq "$(field "$out" domainname)" "EROFS"
check "  and the host's domainname is unchanged" ne "$(cat /proc/sys/kernel/domainname)" "$OURS"
restore_domain
if [ -e /proc/sysrq-trigger ]; then
	check "/proc/sysrq-trigger cannot be opened for writing (never written)" refused "$(field "$out" sysrq)"
else
	echo "# this kernel has no /proc/sysrq-trigger: its check is left out"
fi
ROOTNEW=/sluice-escape.$$
claim "$ROOTNEW"
out=$(CWD=/ sb cwdroot python3 "$PROBE" fs "create:$ROOTNEW")
check "a working directory that is / is not writable" \
	refused "$(field "$out" "create:$ROOTNEW")" "$(test -e "$ROOTNEW" && echo ok || echo absent)"
check "  and sluice says so in one line naming write:" eq "$(grep -c 'write:' "$D/err/root.cwdroot")" "1"

suite nobody "as nobody: " "$NOBODY"

check "no sanitizer report" eq "$(cat "$D"/err/* | grep -c 'AddressSanitizer\|runtime error')" "0"
finish
