#!/usr/bin/env python3
"""dnsraw.py: send hand-built DNS messages to the stub and print what came back.

usage: dnsraw.py HOST PORT malformed   one line per case: "<case> <rcode>|noanswer"
       dnsraw.py HOST PORT pipeline    three queries in one TCP write: "<id> <rcode>" each
       dnsraw.py HOST PORT tcp_limits CAP IDLE_S   "over_cap closed", "idle closed"
       dnsraw.py HOST PORT query NAME TYPE [--tcp] [--edns]
       dnsraw.py HOST PORT burst PID      queries from one socket while PID is
                 stopped, so the stub reads them as one batch: "replies N/M matched K"
       dnsraw.py svcb_hex PRIORITY KEY=VALUE...   SVCB rdata as hex, for dnsmasq
                 --dns-rr (keys alpn, port, ipv4hint, ipv6hint, mandatory; values
                 comma-separated; written in the order given, so out of order too)
"""
import ipaddress
import os
import signal
import socket
import struct
import sys


def name(text):
    out = b""
    for label in text.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def question(text="allowed.test", qtype=1, qclass=1):
    return name(text) + struct.pack(">HH", qtype, qclass)


OPT = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)


def opt(options):
    """An OPT record carrying the given option bytes as its rdata."""
    return b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(options)) + options


def option(code, data, claim=None):
    return struct.pack(">HH", code, len(data) if claim is None else claim) + data


def ecs(family, source, addr, scope=0):
    return option(8, struct.pack(">HBB", family, source, scope) + addr)

CASES = {
    "truncated_header": header()[:7],
    "qdcount_0": header(qd=0),
    "qdcount_2": header(qd=2) + question() + question(),
    "label_over_63": header() + bytes([64]) + b"a" * 64 + b"\0" + struct.pack(">HH", 1, 1),
    "name_over_255": header() + (bytes([63]) + b"a" * 63) * 4 + b"\0" + struct.pack(">HH", 1, 1),
    # a pointer to itself, and one past the end of the message
    "pointer_loop": header() + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
    "pointer_out_of_range": header() + b"\x01a\xc0\xff" + struct.pack(">HH", 1, 1),
    "trailing_garbage": header() + question() + b"\xde\xad\xbe\xef",
    "wrong_class": header() + question(qclass=3),
    "opcode_update": header(flags=5 << 11) + question(),
    "answer_in_query": header(an=1) + question(),
    "second_additional": header(ar=2) + question() + OPT + OPT,
    "edns_version_1": header(ar=1) + question() + b"\0" + struct.pack(">HHIH", 41, 1232, 1 << 16, 0),
    "axfr": header() + question(qtype=252),
    "response_bit": header(flags=0x8100) + question(),
    # a query with TC set, with and without EDNS
    "tc_set": header(flags=0x0300) + question(),
    "tc_set_edns": header(flags=0x0300, ar=1) + question() + OPT,
    # an EDNS option longer than the OPT record, and a partial option header
    "opt_option_overrun": header(ar=1) + question() + opt(option(10, b"\1" * 8, claim=16)),
    "opt_option_partial": header(ar=1) + question() + opt(option(12, b"") + b"\0\x0a"),
    # Client Subnet: family 3, IPv4 /33, /24 with 4 address bytes
    "ecs_bad_family": header(ar=1) + question() + opt(ecs(3, 24, bytes([198, 51, 100]))),
    "ecs_prefix_too_long": header(ar=1) + question() + opt(ecs(1, 33, bytes([198, 51, 100, 7, 0]))),
    "ecs_address_bytes": header(ar=1) + question() + opt(ecs(1, 24, bytes([198, 51, 100, 7]))),
    # controls: a valid Client Subnet and a cookie are served
    "ecs_valid": header(ar=1) + question() + opt(ecs(1, 24, bytes([198, 51, 100])) + option(10, b"\1" * 8)),
}

SVC_KEYS = {"mandatory": 0, "alpn": 1, "port": 3, "ipv4hint": 4, "ipv6hint": 6}
SVC_VALUE = {
    "mandatory": lambda v: b"".join(struct.pack(">H", SVC_KEYS[k]) for k in v.split(",")),
    "alpn": lambda v: b"".join(bytes([len(a)]) + a.encode() for a in v.split(",")),
    "port": lambda v: struct.pack(">H", int(v)),
    "ipv4hint": lambda v: b"".join(ipaddress.IPv4Address(a).packed for a in v.split(",")),
    "ipv6hint": lambda v: b"".join(ipaddress.IPv6Address(a).packed for a in v.split(",")),
}


def svcb_hex(priority, params):
    out = struct.pack(">H", int(priority)) + b"\0"  # target "."
    for p in params:
        key, value = p.split("=", 1)
        v = SVC_VALUE[key](value)
        out += struct.pack(">HH", SVC_KEYS[key], len(v)) + v
    return out.hex()


def rcode_of(data, qid=0x1234):
    if data is None or len(data) < 12:
        return "noanswer"
    rid, flags = struct.unpack(">HH", data[:4])
    if rid != qid or not flags & 0x8000:
        return "bad"
    return ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"][flags & 0xF] \
        if flags & 0xF < 6 else "RCODE%d" % (flags & 0xF)


def udp(host, port, msg, timeout=0.5):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, (host, port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def tcp_conn(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((host, port))
    return s


def tcp_read(s):
    (n,) = struct.unpack(">H", recv_exact(s, 2))
    return recv_exact(s, n)


def burst(host, port, pid):
    """Queries of a few sizes and spellings, sent while the stub is stopped;
    each reply must come back as its own datagram echoing its question."""
    names = ["allowed.test"] * 9 + ["ALLOWED.test", "denied.test", "allowed.test",
                                    "AlLoWeD.test", "allowed.test", "txt.test"] + ["allowed.test"] * 9
    want = {}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    os.kill(pid, signal.SIGSTOP)
    try:
        for qid, n in enumerate(names, 1):
            msg = header(qid=qid) + question(n)
            want[qid] = (msg[12:], 3 if n == "denied.test" else 0)
            s.send(msg)
    finally:
        os.kill(pid, signal.SIGCONT)
    s.settimeout(2)
    replies = matched = 0
    try:
        while replies < len(names):
            data = s.recv(65535)
            replies += 1
            qid, flags, qd = struct.unpack(">HHH", data[:6])
            q, rcode = want.pop(qid, (None, None))
            matched += q is not None and data[12:12 + len(q)] == q and flags & 0x800f == 0x8000 | rcode
    except socket.timeout:
        pass
    print("replies %d/%d matched %d" % (replies, len(names), matched))


def main():
    if sys.argv[1] == "svcb_hex":
        print(svcb_hex(sys.argv[2], sys.argv[3:]))
        return
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "malformed":
        for case, msg in CASES.items():
            print(case, rcode_of(udp(host, port, msg)))
    elif mode == "pipeline":
        s = tcp_conn(host, port)
        msgs = [header(qid=i) + question(n) for i, n in ((1, "allowed.test"), (2, "denied.test"), (3, "txt.test"))]
        s.sendall(b"".join(struct.pack(">H", len(m)) + m for m in msgs))
        got = sorted(struct.unpack(">H", r[:2])[0] for r in (tcp_read(s) for _ in msgs))
        for qid in got:
            print(qid)
        s.close()
    elif mode == "tcp_limits":
        # fill the connection cap, then one more must be closed at once;
        # then an idle connection must be closed after the idle timeout
        cap, idle = int(sys.argv[4]), float(sys.argv[5])
        held = [tcp_conn(host, port) for _ in range(cap)]
        extra = tcp_conn(host, port)
        extra.settimeout(2)
        try:
            print("over_cap", "closed" if extra.recv(1) == b"" else "open")
        except (socket.timeout, ConnectionResetError):
            print("over_cap", "open")
        for s in held[1:]:
            s.close()
        first = held[0]
        first.settimeout(idle + 3)
        try:
            print("idle", "closed" if first.recv(1) == b"" else "open")
        except socket.timeout:
            print("idle", "open")
        except ConnectionResetError:
            print("idle", "closed")
    elif mode == "burst":
        burst(host, port, int(sys.argv[4]))
    elif mode == "query":
        qname, qtype = sys.argv[4], int(sys.argv[5])
        ar = 1 if "--edns" in sys.argv else 0
        msg = header(ar=ar) + question(qname, qtype) + (OPT if ar else b"")
        if "--tcp" in sys.argv:
            s = tcp_conn(host, port)
            s.sendall(struct.pack(">H", len(msg)) + msg)
            data = tcp_read(s)
            s.close()
        else:
            data = udp(host, port, msg, 2)
        print(rcode_of(data), len(data) if data else 0)


if __name__ == "__main__":
    main()
