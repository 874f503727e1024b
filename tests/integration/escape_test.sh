#!/usr/bin/env bash
# escape_test.sh SLUICE: the ways out of `sluice run` other than the network,
# tried from inside as root and as nobody: inherited descriptors, sluice's
# own init and supervisor, the host's /proc and /sys, host unix sockets,
# socket families and io_uring, new user namespaces, the host filesystem and
# the secrets under $HOME; and what a red-team review found: git's
# redirects (.git/commondir, .git files, core.hooksPath), signals to the
# caller's process group, a supervisor killed with SIGKILL, FIFOs under /run,
# device nodes, stand-ins shared by concurrent sandboxes. Every attempt is
# bounded by a timeout of a few seconds, and has a positive control where
# one is possible: the same probe outside the sandbox, or the policy key that
# opens the way. The probes are escape.py's.
# Signals: outside, only to a process group this test made (setsid) or to
# PIDs it started; kill(-1), which reaches every process the caller may
# signal, only from pid 2 of a PID namespace that is not the test's.
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
BG=()      # background helpers this test started (FIFO readers), by PID
LOOPDEV=   # the loop device this test attached, detached at exit
cleanup() {
	local i
	for i in $SERVE_PID "${BG[@]}"; do
		kill "$i" 2>/dev/null
		wait "$i" 2>/dev/null
	done
	[ -z "$LOOPDEV" ] || losetup -d "$LOOPDEV"
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
	mkdir -p "$h/.config/gcloud" "$h/.cargo" "$h/.claude"
	echo SECRET-GITCRED >"$h/.git-credentials"
	echo SECRET-GCLOUD >"$h/.config/gcloud/credentials.db"
	echo SECRET-PGPASS >"$h/.pgpass"
	echo SECRET-VAULT >"$h/.vault-token"
	echo SECRET-CARGO >"$h/.cargo/credentials.toml"
	echo SECRET-CLAUDE >"$h/.claude/.credentials.json"
	echo 'alias ls=ls' >"$h/.bashrc"
	git init -q "$D/tree-$u" && echo one >"$D/tree-$u/file" && git -C "$D/tree-$u" add file &&
		git -C "$D/tree-$u" -c user.name=t -c user.email=t@t commit -qm one
	mkdir -p "$D/hostdir-$u" "$D/out-$u"
	echo original >"$D/hostdir-$u/file"
	# a second home whose ~/.ssh is a symlink to a directory elsewhere in it
	mkdir -p "$D/home2-$u/dotfiles/ssh"
	echo SECRET-LINKED >"$D/home2-$u/dotfiles/ssh/id_ed25519"
	ln -s dotfiles/ssh "$D/home2-$u/.ssh"
	chown -R "$own" "$h" "$D/tree-$u" "$D/hostdir-$u" "$D/out-$u" "$D/home2-$u"
}
make_user root root:root
make_user nobody nobody:nogroup
# newrepo DIR: a git repository with one commit (the caller chowns it)
newrepo() {
	git init -q "$1" && echo one >"$1/file" && git -C "$1" add file &&
		git -C "$1" -c user.name=t -c user.email=t@t commit -qm one
}
# alive MARK PID...: those PIDs still running with MARK in their command line
alive() {
	local m=$1 p
	shift
	for p; do tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$m" && echo "$p"; done
}
# conc N: N sandboxes at once in the fresh working directory $D/concN-$U, each
# trying mkdir -p .vscode/x. The first makes the stand-ins and ends first,
# once all the others are up; they try later, at different times. Prints
# their output.
conc() {
	local n=$1 dir=$D/conc$1-$U go=$D/go.$1.$U i j bgp=()
	mkdir "$dir" && chown "$OWN" "$dir"
	CWD=$dir sb "conc$n.0" sh -c 'echo up; i=0; while [ ! -e "$0" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
		mkdir -p .vscode/x 2>/dev/null; echo "mkdir $?"' "$go.1" >"$D/conc.$U.$n.0" &
	bgp+=($!)
	for j in $(seq 100); do [ -d "$dir/.vscode" ] && grep -q '^up$' "$D/conc.$U.$n.0" && break; sleep 0.05; done
	for ((i = 1; i < n; i++)); do
		CWD=$dir sb "conc$n.$i" sh -c 'echo up; i=0; while [ ! -e "$0" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
			sleep "$1"; mkdir -p .vscode/x 2>/dev/null; echo "mkdir $?"' "$go.2" "0.$i" >"$D/conc.$U.$n.$i" &
		bgp+=($!)
	done
	for j in $(seq 200); do [ "$(cat "$D/conc.$U.$n."* | grep -c '^up$')" == "$n" ] && break; sleep 0.05; done
	touch "$go.1"
	wait "${bgp[0]}"
	touch "$go.2"
	wait "${bgp[@]:1}"
	cat "$D/conc.$U.$n."*
}

SECRETS=(.ssh=SECRET-KEY .aws=SECRET-AWS .gnupg=SECRET-GPG .kube=SECRET-KUBE .docker=SECRET-DOCKER
	.config/gh=SECRET-GH .netrc=SECRET-NETRC .npmrc=SECRET-NPM .pypirc=SECRET-PYPI
	.mozilla=SECRET-FIREFOX .config/google-chrome=SECRET-CHROME .config/chromium=SECRET-CHROMIUM
	.git-credentials=SECRET-GITCRED .config/gcloud=SECRET-GCLOUD .pgpass=SECRET-PGPASS
	.vault-token=SECRET-VAULT .cargo/credentials.toml=SECRET-CARGO .claude/.credentials.json=SECRET-CLAUDE
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
check "outside: a ~/.ssh that is a symlink to ~/dotfiles/ssh shows its secret, through the link and the target" \
	eq "$(python3 "$PROBE" hidden "$D/home2-root/.ssh=SECRET-LINKED" "$D/home2-root/dotfiles/ssh=SECRET-LINKED" | grep -c ' shown$')" "2"
HOSTTMP=/tmp/sluice-escape-host.$$
(set -C && echo host-tmp >"$HOSTTMP") 2>/dev/null && MADE+=("$HOSTTMP") && chmod 644 "$HOSTTMP"

# ---- host FIFOs under /run and block device nodes, one each per user -------
# FIFO[U]: a FIFO under /run owned by U, mode 0600 (a fresh path, removed at
# exit). BLK[U]: a node owned by U, mode 0600, in the world dir, for a loop
# device backed by $LOOPIMG (detached at exit).
declare -A FIFO BLK
for u in root nobody; do
	f=/run/sluice-esc-fifo.$$.$u
	if claim "$f" && mkfifo -m 600 "$f" && chown "$u" "$f"; then
		FIFO[$u]=$f
	else
		echo "# $f: no FIFO made there, its checks are left out"
	fi
done
LOOPIMG=$D/loop.img
if ! command -v losetup >/dev/null || [ ! -e /dev/loop-control ]; then
	echo "# no losetup or /dev/loop-control on this machine: the block device checks are left out"
else
	head -c 1048576 /dev/zero >"$LOOPIMG"
	LOOPDEV=$(losetup -f --show "$LOOPIMG" 2>/dev/null) || LOOPDEV=
	if [ -z "$LOOPDEV" ]; then
		echo "# losetup -f --show could not attach a loop device: the block device checks are left out"
	else
		read -r maj min < <(stat -c '%t %T' "$LOOPDEV")
		for u in root nobody; do
			mknod -m 600 "$D/blk-$u" b $((16#$maj)) $((16#$min)) && chown "$u" "$D/blk-$u" && BLK[$u]=$D/blk-$u
		done
	fi
fi

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
	out=$(sb hidden sh -c 'python3 "$0" hidden "$@"; cat ~/.ssh/id_ed25519 ~/.netrc ~/.git-credentials \
		~/.config/gcloud/credentials.db ~/.pgpass ~/.vault-token ~/.cargo/credentials.toml ~/.claude/.credentials.json 2>&1' \
		"$PROBE" $(secret_specs))
	for s in "${SECRETS[@]}"; do
		p=${s%%=*}
		[ "$p" == notes.txt ] && continue
		check "${P}~/$p is hidden" eq "$(field "$out" "$HOMED/$p")" "hidden"
	done
	check "${P}  no secret (SECRET-KEY, SECRET-NETRC, SECRET-GITCRED, ...) anywhere in the output" eq "$(grep -c 'SECRET-' <<<"$out")" "0"
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

	# 10. what a red-team review found
	local wt=$D/wt-$U dir mark spid pids left bg h1 h2 rec f stop reader wtgit i n
	OWN=root:root
	[ "$U" == nobody ] && OWN=nobody:nogroup

	# .git/commondir names the directory git takes its config and hooks from
	out=$(sb commondir sh -c 'echo ../evil >.git/commondir 2>/dev/null; echo "write $?"
		echo "content $(cat .git/commondir 2>&1)"
		git status --porcelain >/dev/null 2>&1 && echo "status ok"
		echo four >>file && git add file && git -c user.name=t -c user.email=t@t commit -qm commondir 2>/dev/null && echo "commit ok"')
	check "${P}echo ../evil >.git/commondir fails" eq "$(field "$out" write | grep -cx '[1-9][0-9]*')" "1"
	check "${P}  inside, sluice's stand-in .git/commondir says \".\", and git status and commit work" \
		eq "$(field "$out" content):$(field "$out" status):$(field "$out" commit)" ".:ok:ok"
	check "${P}  afterwards the host's git status works, and has the commit" \
		eq "$(hgit status --porcelain >/dev/null 2>&1 && echo ok):$(hgit log -1 --format=%s 2>/dev/null)" "ok:commondir"
	check "${P}  and the host's .git has no commondir left over" test ! -e "$TREE/.git/commondir" -a ! -L "$TREE/.git/commondir"
	rm -f "$TREE/.git/commondir" # (where a sluice without the fix let it be made)
	newrepo "$D/cd-$U" && echo . >"$D/cd-$U/.git/commondir" && chown -R "$OWN" "$D/cd-$U"
	before=$(sum "$D/cd-$U/.git/commondir")
	out=$(CWD=$D/cd-$U sb commondir2 sh -c 'echo ../evil >.git/commondir 2>/dev/null; echo "write $?"')
	check "${P}an existing .git/commondir cannot be changed" \
		eq "$(field "$out" write | grep -cx '[1-9][0-9]*'):$(sum "$D/cd-$U/.git/commondir")" "1:$before"

	# a linked worktree: its .git is a file naming the git directory
	hgit worktree add -q --detach "$wt" && chown -R "$OWN" "$wt" "$TREE/.git/worktrees"
	wtgit=$(cat "$wt/.git")
	before=$(sum "$wt/.git")
	out=$(CWD=$wt sb worktree sh -c 'echo "gitdir: /nonexistent" >.git 2>/dev/null; echo "write $?"
		python3 "$0" fs append:.git; git status --porcelain >/dev/null 2>&1 && echo "status ok"' "$PROBE")
	check "${P}a linked worktree's .git file (gitdir: ...) cannot be rewritten from inside it" \
		eq "$(field "$out" write | grep -cx '[1-9][0-9]*'):$(sum "$wt/.git")" "1:$before"
	check "${P}  nor appended to" refused "$(field "$out" append:.git)"
	check "${P}  git status works inside" eq "$(field "$out" status)" "ok"
	check "${P}  and the host's git status in the worktree works afterwards" \
		eq "$(git -c safe.directory='*' -C "$wt" status --porcelain >/dev/null 2>&1 && echo ok)" "ok"
	[ "$(sum "$wt/.git")" == "$before" ] || echo "$wtgit" >"$wt/.git"
	f=.git/worktrees/wt-$U
	before=$(sum "$TREE/$f/commondir"):$(sum "$TREE/$f/gitdir")
	out=$(sb worktrees python3 "$PROBE" fs "append:$f/commondir" "append:$f/gitdir" "create:$f/config.worktree")
	check "${P}from the main tree, the linked worktree's commondir and gitdir cannot be changed, nor files added" \
		refused "$(field "$out" "append:$f/commondir")" "$(field "$out" "append:$f/gitdir")" "$(field "$out" "create:$f/config.worktree")"
	check "${P}  and they are unchanged" eq "$(sum "$TREE/$f/commondir"):$(sum "$TREE/$f/gitdir")" "$before"
	rm -rf "$wt" "$TREE/.git/worktrees"

	# core.hooksPath in the tree: git runs the hooks there
	newrepo "$D/hk1-$U" && git -C "$D/hk1-$U" config core.hooksPath .husky && mkdir "$D/hk1-$U/.husky" &&
		echo 'echo hook' >"$D/hk1-$U/.husky/pre-commit" && chmod 755 "$D/hk1-$U/.husky/pre-commit"
	newrepo "$D/hk2-$U" && git -C "$D/hk2-$U" config core.hooksPath .husky
	chown -R "$OWN" "$D/hk1-$U" "$D/hk2-$U"
	before=$(sum "$D/hk1-$U/.husky/pre-commit")
	out=$(CWD=$D/hk1-$U sb husky python3 "$PROBE" fs append:.husky/pre-commit create:.husky/pre-push)
	check "${P}core.hooksPath = .husky: .husky/pre-commit cannot be changed, nor .husky/pre-push created" \
		refused "$(field "$out" append:.husky/pre-commit)" "$(field "$out" create:.husky/pre-push)"
	check "${P}  and .husky holds only the unchanged pre-commit" \
		eq "$(ls -A "$D/hk1-$U/.husky" | tr '\n' ' ')$(sum "$D/hk1-$U/.husky/pre-commit")" "pre-commit $before"
	out=$(CWD=$D/hk2-$U sb husky2 sh -c 'python3 "$0" fs mkdir:.husky create:.husky/pre-commit
		git -c user.name=t -c user.email=t@t commit -q --allow-empty -m husky 2>/dev/null && echo "commit ok"' "$PROBE")
	check "${P}core.hooksPath = .husky and no .husky: .husky/pre-commit cannot be created" \
		refused "$(field "$out" create:.husky/pre-commit)" "$(test -e "$D/hk2-$U/.husky/pre-commit" && echo ok || echo absent)"
	check "${P}  git commit works inside" eq "$(field "$out" commit)" "ok"
	check "${P}  and no .husky is left behind" test ! -e "$D/hk2-$U/.husky"

	# kill(0) and kill(-1) from inside, under a shell that is its own session
	# and process group (setsid) and records USR1. Safety: outside, only
	# kill(0), and only once the shell is its own process group; kill(-1)
	# (every process the caller may signal) only where the command is in a
	# PID namespace other than the test's, as pid 2.
	rec=$D/logs/usr1.$U
	local parent='[ "$(ps -o pgid= -p $$ | tr -d " ")" = $$ ] || { echo "not a process group leader"; exit 1; }
		trap "echo USR1 >>$0" USR1; "$@" </dev/null; echo "rc $?"' # (the trap runs once "$@" has ended)
	local k='trap "" USR1; ns=$(readlink /proc/self/ns/pid)
		if [ -n "$ns" ] && [ "$ns" != "$0" ] && [ $$ -eq 2 ]; then kill -USR1 -1; echo "kill-1 tried"; fi
		kill -USR1 0; exit 7'
	out=$(cd "$TREE" && in_host timeout -k 2 20 setsid $AS bash -c "$parent" "$rec.outside" \
		sh -c 'trap "" USR1; kill -USR1 0; exit 7' 2>/dev/null)
	check "${P}outside: kill -USR1 0 from a child reaches the launching shell" \
		eq "$(cat "$rec.outside" 2>/dev/null):$(field "$out" rc)" "USR1:7"
	out=$(cd "$TREE" && HOME=$HOMED in_host timeout -k 2 20 setsid $AS bash -c "$parent" "$rec" "$SLUICE" run \
		--policy "$D/esc.yaml" --log "$D/logs/$U.log" --resolver 198.51.100.53 -- \
		sh -c "$k" "$(readlink /proc/self/ns/pid)" 2>"$D/err/$U.kill")
	check "${P}kill -USR1 0 and kill -USR1 -1 from inside (pid 2 of its own PID namespace) never reach the launching shell" \
		eq "$(field "$out" kill-1):$(cat "$rec" 2>/dev/null)" "tried:"
	check "${P}  and sluice's exit status is the command's (7)" eq "$(field "$out" rc)" "7"

	# the supervisor killed with SIGKILL takes the sandbox with it
	dir=$D/kill-$U mark=sluice-escape-heartbeat-$$-$U
	mkdir "$dir" && chown "$OWN" "$dir"
	CWD=$dir sb heartbeat sh -c 'while :; do date +%s%N >hb; sleep 0.1; done' "$mark" >/dev/null &
	bg=$!
	for i in $(seq 100); do [ -s "$dir/hb" ] && break; sleep 0.05; done
	spid=$(cat "$D/pid/$U.heartbeat")
	[ -n "$(alive "$mark" "$spid")" ] || spid= # (never a PID that is no longer the supervisor)
	# the supervisor, the waiter, init and the command (not timeout, the supervisor's parent)
	pids=$(pgrep -f -- "$mark" | grep -vx "$(ps -o ppid= -p "$spid" | tr -d ' ')" | tr '\n' ' ')
	check "${P}outside, the sandbox's processes are seen by the marker in their command line ($(echo $pids))" \
		test "$(wc -w <<<"$pids")" -ge 4
	[ -z "$spid" ] || kill -KILL "$spid"
	for i in $(seq 20); do [ -z "$(alive "$mark" $pids)" ] && break; sleep 0.05; done
	left=$(alive "$mark" $pids | tr '\n' ' ')
	check "${P}the supervisor killed with SIGKILL: within a second no process of the sandbox is left" eq "$left" ""
	h1=$(stat -c %y "$dir/hb")
	sleep 0.5
	h2=$(stat -c %y "$dir/hb")
	check "${P}  and the heartbeat in the working tree has stopped" eq "$h2" "$h1"
	[ -z "$left" ] || kill -KILL $left # (what a sluice without the fix leaves running)
	wait "$bg" 2>/dev/null
	rm -rf "$dir"

	# a FIFO under /run, and a block device node: not files a read-only mount stops
	if [ -n "${FIFO[$U]:-}" ]; then
		f=${FIFO[$U]} stop=$D/fifo-stop.$U
		python3 "$PROBE" fifo-read "$f" "$stop" >"$D/fifo.$U" &
		reader=$!
		BG+=("$reader")
		for i in $(seq 100); do grep -q '^ready$' "$D/fifo.$U" && break; sleep 0.05; done
		echo OUTSIDE >"$f"
		out=$(sb fifo python3 "$PROBE" fs "wnb:$f")
		sleep 0.2
		touch "$stop"
		wait "$reader"
		BG=()
		check "${P}a FIFO under /run owned by $U, mode 0600 ($f): what the sandbox writes reaches no reader outside" \
			eq "$(field "$(cat "$D/fifo.$U")" fifo)" "OUTSIDE"
	fi
	if [ -n "${BLK[$U]:-}" ]; then
		f=${BLK[$U]}
		check "${P}outside, the node $f of $LOOPDEV (owned by $U, mode 0600) opens for writing" \
			eq "$($AS python3 "$PROBE" fs "openw:$f")" "openw:$f ok"
		before=$(sum "$LOOPIMG")
		out=$(sb blockdev python3 "$PROBE" fs "block:$f")
		check "${P}inside, opening it for writing fails with EACCES (the host's mounts are nodev)" \
			eq "$(field "$out" "block:$f")" "EACCES"
		check "${P}  and the file behind the loop device is unchanged" eq "$(sum "$LOOPIMG")" "$before"
	fi

	# stand-ins shared by concurrent sandboxes, removed by the last
	for n in 2 6; do
		out=$(conc $n)
		check "${P}$n sandboxes at once in one fresh directory: each mkdir -p .vscode/x fails" \
			eq "$(grep -c '^mkdir ' <<<"$out"):$(grep -c '^mkdir 0$' <<<"$out")" "$n:0"
		check "${P}  and once all have ended no stand-in is left (ls -A is empty)" eq "$(ls -A "$D/conc$n-$U" | tr '\n' ' ')" ""
	done
	mkdir -p "$D/idea-$U/.idea" && chown -R "$OWN" "$D/idea-$U"
	out=$(CWD=$D/idea-$U sb idea python3 "$PROBE" fs mkdir:.idea/x)
	check "${P}a user's own empty .idea cannot be filled" refused "$(field "$out" mkdir:.idea/x)"
	check "${P}  and is still there, empty, after the run (and nothing else is left)" \
		eq "$(ls -A "$D/idea-$U" | tr '\n' ' ')|$(ls -A "$D/idea-$U/.idea")" ".idea |"

	# more credential stores (section 8), and a ~/.ssh that is a symlink
	out=$(HOMED=$D/home2-$U sb sshlink sh -c 'echo "started yes"; python3 "$0" hidden "$1/.ssh=SECRET-LINKED" "$1/dotfiles/ssh=SECRET-LINKED"
		cat ~/.ssh/id_ed25519 ~/dotfiles/ssh/id_ed25519 2>&1' "$PROBE" "$D/home2-$U")
	check "${P}with ~/.ssh a symlink to ~/dotfiles/ssh, sluice starts" eq "$(field "$out" started)" "yes"
	check "${P}  ~/.ssh is hidden through the link" eq "$(field "$out" "$D/home2-$U/.ssh")" "hidden"
	check "${P}  and through the target's own path" eq "$(field "$out" "$D/home2-$U/dotfiles/ssh")" "hidden"
	check "${P}  no SECRET-LINKED anywhere in the output" eq "$(grep -c SECRET-LINKED <<<"$out")" "0"
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
