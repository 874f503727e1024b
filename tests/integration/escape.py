#!/usr/bin/env python3
"""escape.py: the probes of escape_test.sh, run inside (and, as positive
controls, outside) `sluice run`. Each prints one line per attempt, "<what>
<result>", where a result is an errno name (EPERM), an exception class
(ConnectionRefusedError) or what was reached.

hold HOST PORT CMD...  run CMD with a TCP connection to HOST:PORT on fd 7,
                       then send "parent", half-close and print "peer <answer>"
                       (origin.py's port 7007 echoes everything it got)
fds                    "fds <open descriptors>" and "send7 <result>"
init                   ptrace, process_vm_readv, pidfd_getfd and
                       /proc/1/environ against pid 1 (and the parent's
                       environ: the command is init's child)
secret VALUE TESTPID   "secret clean" or "secret found": is VALUE in any
                       /proc/*/environ this process can read (only TESTPID's
                       tree when TESTPID is visible, so other processes of the
                       machine are never read)
outside [--no-ptrace] PID...  kill(PID, 0), pidfd_open, ptrace per PID
sysctl NAME            write NAME to /proc/sys/kernel/domainname, open
                       /proc/sysrq-trigger for writing (never written)
connect PATH...        connect to unix sockets: "PATH <first line or error>"
serve PATH=REPLY...    unix listeners answering REPLY (mode 0777): "bound PATH"
                       for each, then "ready"
families               socket() per address family
uring                  io_uring_setup(2)
fs OP:PATH...          OP is append, create, trunc, mkdir, read; openw (open
                       for writing, never written); wnb (open for writing
                       without blocking, as on a FIFO, and write a line);
                       block (open a device node for writing, write 4096
                       bytes at offset 0, different each time, and fsync)
fifo-read PATH STOP    hold FIFO PATH open for reading (and writing, so a
                       writer never blocks), print "ready", collect what
                       arrives until the file STOP exists (20 s at most), then
                       print "fifo <lines joined by |>" ("fifo " for nothing)
hidden PATH=MARKER...  "PATH shown" when MARKER is in PATH (a file, or any
                       file under a directory), else "PATH hidden"
"""
import ctypes
import errno
import os
import socket
import subprocess
import sys
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
SYS_IO_URING_SETUP, SYS_PIDFD_OPEN, SYS_PIDFD_GETFD = 425, 434, 438
SYS_ADD_KEY, SYS_KEYCTL = 248, 250


def ename(e):
    return errno.errorcode.get(e, str(e))


def err():
    return ename(ctypes.get_errno())


def out(*words):
    print(*words, flush=True)


def ptrace_attach(pid):
    """PTRACE_ATTACH; on success wait for the stop (2 s at most) and detach."""
    ctypes.set_errno(0)
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) < 0:
        return err()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG | 0x40000000)[0] == pid:  # __WALL
                break
        except ChildProcessError:
            break
        time.sleep(0.01)
    libc.ptrace(PTRACE_DETACH, pid, None, None)
    return "attached"


def hold(host, port, cmd):
    s = socket.create_connection((host, int(port)), timeout=5)
    os.dup2(s.fileno(), 7)  # inheritable
    s.close()
    subprocess.run(cmd, pass_fds=(7,), timeout=30)
    s = socket.socket(fileno=7)
    s.settimeout(5)
    s.sendall(b"parent")
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    out("peer", got.decode(errors="replace"))


def fds():
    have = []
    for n in range(4096):
        try:
            os.fstat(n)
            have.append(str(n))
        except OSError:
            pass
    out("fds", " ".join(have))
    try:
        s = socket.socket(fileno=7)
        s.settimeout(3)
        s.send(b"LEAK")
        out("send7 sent")
    except OSError as e:
        out("send7", ename(e.errno))


def init():
    out("ptrace", ptrace_attach(1))
    buf = ctypes.create_string_buffer(64)

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 64)
    remote = IoVec(0x10000, 64)
    ctypes.set_errno(0)
    n = libc.process_vm_readv(1, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    out("vmread", err() if n < 0 else "read")
    ctypes.set_errno(0)
    pidfd = libc.syscall(SYS_PIDFD_OPEN, 1, 0)
    if pidfd < 0:
        out("pidfd_open", err())
        out("getfd", err())
    else:
        out("pidfd_open ok")
        seen = set()
        for n in range(21):
            ctypes.set_errno(0)
            fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, n, 0)
            if fd >= 0:
                seen.add("DESCRIPTOR")
                os.close(fd)
            else:
                seen.add(err())
        out("getfd", ",".join(sorted(seen)))
    # pid 1 by number, and by the parent's entry in whatever /proc is mounted
    # (the command is init's child): the same process once /proc is the
    # sandbox's own
    with open("/proc/self/stat") as f:
        ppid = f.read().rsplit(")", 1)[1].split()[1]
    for key, pid in (("environ", "1"), ("parent_environ", ppid)):
        try:
            os.close(os.open("/proc/%s/environ" % pid, os.O_RDONLY))  # opened, never read
            out(key, "opened")
        except OSError as e:
            out(key, type(e).__name__)


def tree(root):
    """PIDs of root and its descendants, by the ppid in /proc/PID/stat."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    keep = {root}
    grew = True
    while grew:
        grew = False
        for pid, pp in parent.items():
            if pp in keep and pid not in keep:
                keep.add(pid)
                grew = True
    return keep


def secret(value, testpid):
    testpid = int(testpid)
    if os.path.exists("/proc/%d" % testpid):
        pids = tree(testpid)  # the host's /proc: read only the test's own processes
    else:
        pids = {int(d) for d in os.listdir("/proc") if d.isdigit()}
    found = False
    for pid in sorted(pids):
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                if value.encode() in f.read():
                    found = True
        except OSError:
            pass
    out("secret", "found" if found else "clean")


def outside(args):
    ptrace = True
    if args and args[0] == "--no-ptrace":
        ptrace = False
        args = args[1:]
    for a in args:
        pid = int(a)
        res = []
        try:
            os.kill(pid, 0)
            res.append("kill:ok")
        except OSError as e:
            res.append("kill:" + ename(e.errno))
        ctypes.set_errno(0)
        fd = libc.syscall(SYS_PIDFD_OPEN, pid, 0)
        if fd >= 0:
            os.close(fd)
            res.append("pidfd:ok")
        else:
            res.append("pidfd:" + err())
        if ptrace:
            res.append("ptrace:" + ptrace_attach(pid))
        out("pid", " ".join(res))


def sysctl(name):
    try:
        with open("/proc/sys/kernel/domainname", "w") as f:
            f.write(name + "\n")
        out("domainname written")
    except OSError as e:
        out("domainname", ename(e.errno))
    try:
        os.close(os.open("/proc/sysrq-trigger", os.O_WRONLY))  # never written
        out("sysrq opened")
    except OSError as e:
        out("sysrq", ename(e.errno))


def connect(paths):
    for p in paths:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(3)
        try:
            s.connect(p)
            out(p, s.recv(64).decode().strip() or "empty")
        except OSError as e:
            out(p, type(e).__name__)
        s.close()


def serve(specs):
    def loop(srv, reply):
        while True:
            c, _ = srv.accept()
            c.sendall(reply.encode() + b"\n")
            c.close()

    for spec in specs:
        path, reply = spec.split("=", 1)
        srv = socket.socket(socket.AF_UNIX)
        try:
            srv.bind(path)  # never over anything: bind fails where a file is
        except OSError as e:
            out("unbound", path, ename(e.errno))
            continue
        out("bound", path)
        os.chmod(path, 0o777)
        srv.listen(16)
        threading.Thread(target=loop, args=(srv, reply), daemon=True).start()
    out("ready")
    threading.Event().wait()


def families():
    fams = [
        ("AF_VSOCK", 40, socket.SOCK_STREAM, 0),
        ("AF_PACKET", 17, socket.SOCK_RAW, 0x0300),  # htons(ETH_P_ALL)
        ("AF_BLUETOOTH", 31, socket.SOCK_SEQPACKET, 0),  # BTPROTO_L2CAP
        ("AF_CAN", 29, socket.SOCK_RAW, 1),  # CAN_RAW
        ("AF_INET", socket.AF_INET, socket.SOCK_STREAM, 0),
        ("AF_INET6", socket.AF_INET6, socket.SOCK_STREAM, 0),
        ("AF_UNIX", socket.AF_UNIX, socket.SOCK_STREAM, 0),
        ("AF_NETLINK", socket.AF_NETLINK, socket.SOCK_RAW, 0),  # NETLINK_ROUTE
    ]
    for name, fam, typ, proto in fams:
        try:
            socket.socket(fam, typ, proto).close()
            out(name, "opened")
        except OSError as e:
            out(name, type(e).__name__)


def uring():
    params = ctypes.create_string_buffer(120)
    ctypes.set_errno(0)
    fd = libc.syscall(SYS_IO_URING_SETUP, 8, params)
    if fd >= 0:
        os.close(fd)
        out("io_uring opened")
    else:
        out("io_uring", err())


def tty():
    """TIOCSTI pushes input into the caller's controlling terminal: on a
    terminal shared with the caller's shell it runs after sluice exits,
    outside the sandbox. A child with a pty as its controlling terminal
    tries it."""
    import fcntl
    import pty
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSTI, b"x")
            os._exit(0)
        except OSError as e:
            os._exit(e.errno)
    _, st = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(st)
    os.close(fd)
    out("TIOCSTI", "worked" if code == 0 else ename(code))


KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING = 1, 10, -3


def keyring_hold(cmd):
    """Join a new session keyring holding the key sluice-test, then run cmd
    in it (as a shell's login session would pass its keyring on)."""
    libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)
    if libc.syscall(SYS_ADD_KEY, b"user", b"sluice-test", b"SECRET-KEY", 10, KEY_SPEC_SESSION_KEYRING) < 0:
        sys.exit("add_key: " + err())
    os.execvp(cmd[0], cmd)


def keyring_read():
    """Whether the session keyring holds the key sluice-test."""
    ctypes.set_errno(0)
    found = libc.syscall(SYS_KEYCTL, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, b"user", b"sluice-test", 0)
    out("keyring", "found" if found >= 0 else err())


def fs(specs):
    for spec in specs:
        op, path = spec.split(":", 1)
        try:
            if op == "append":
                with open(path, "a") as f:
                    f.write("sandbox was here\n")
            elif op == "create":
                with open(path, "x") as f:
                    f.write("sandbox was here\n")
            elif op == "trunc":
                os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))
            elif op == "mkdir":
                os.mkdir(path)
            elif op == "read":
                with open(path) as f:
                    f.read()
            elif op == "openw":
                os.close(os.open(path, os.O_WRONLY))  # opened, never written
            elif op == "wnb":
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                try:
                    os.write(fd, b"sandbox was here\n")
                finally:
                    os.close(fd)
            elif op == "block":
                fd = os.open(path, os.O_WRONLY)
                try:
                    # a new line each time: a second write changes the device again
                    os.write(fd, (b"sandbox was here %d\n" % time.time_ns()).ljust(4096, b"!"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            out(spec, "ok")
        except OSError as e:
            out(spec, ename(e.errno))


def fifo_read(path, stop):
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    out("ready")
    got = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not os.path.exists(stop):
        try:
            got += os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.05)
    try:
        got += os.read(fd, 4096)
    except BlockingIOError:
        pass
    os.close(fd)
    out("fifo", "|".join(got.decode(errors="replace").splitlines()))


def hidden(specs):
    for spec in specs:
        path, marker = spec.split("=", 1)
        files = [path]
        if os.path.isdir(path):
            files = [os.path.join(d, f) for d, _, fs_ in os.walk(path) for f in fs_]
        shown = False
        for f in files:
            try:
                with open(f, "rb") as fh:
                    shown = shown or marker.encode() in fh.read()
            except OSError:
                pass
        out(path, "shown" if shown else "hidden")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "hold":
        hold(args[0], args[1], args[2:])
    elif cmd == "fds":
        fds()
    elif cmd == "init":
        init()
    elif cmd == "secret":
        secret(args[0], args[1])
    elif cmd == "outside":
        outside(args)
    elif cmd == "sysctl":
        sysctl(args[0])
    elif cmd == "connect":
        connect(args)
    elif cmd == "serve":
        serve(args)
    elif cmd == "families":
        families()
    elif cmd == "uring":
        uring()
    elif cmd == "tty":
        tty()
    elif cmd == "keyring-hold":
        keyring_hold(args)
    elif cmd == "keyring-read":
        keyring_read()
    elif cmd == "fs":
        fs(args)
    elif cmd == "fifo-read":
        fifo_read(args[0], args[1])
    elif cmd == "hidden":
        hidden(args)
    else:
        sys.exit("unknown probe " + cmd)


if __name__ == "__main__":
    main()
