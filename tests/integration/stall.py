#!/usr/bin/env python3
"""stall.py PROXY_PORT CAFILE HOST PATH N DIR: N clients that ask and never
read: each a CONNECT HOST:443 through sluice's explicit proxy on 127.0.0.1,
TLS trusting CAFILE, one GET for PATH, then nothing is read (a small
receive buffer, so the kernel holds little of it). Writes DIR/sent once
every request is out; when DIR/go appears, reads each connection for at
most 10 s and writes DIR/result: "cut=C alive=A" (C ended, or were reset,
before the body's end; A still carried more than 16 MiB, more than the
kernel's buffers hold of a connection that sluice closed)."""
import os
import socket
import ssl
import sys
import time

port, cafile, host, path, n, d = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
conns = []
for _ in range(int(n)):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    s.settimeout(30)
    s.connect(("127.0.0.1", int(port)))
    s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host.encode(), host.encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            sys.exit("the proxy closed")
        head += c
    t = ctx.wrap_socket(s, server_hostname=host)
    t.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
    conns.append(t)
open(os.path.join(d, "sent"), "w").close()
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.1)
cut = alive = 0
for t in conns:
    got = 0
    need = None
    buf = b""
    ok = False
    try:
        t.settimeout(10)
        while True:
            b = t.recv(1 << 20)
            if not b:
                break
            if need is None:
                buf += b
                h, sep, body = buf.partition(b"\r\n\r\n")
                if sep:
                    need = [int(l.split(b":")[1]) for l in h.split(b"\r\n")
                            if l.lower().startswith(b"content-length:")][0]
                    got = len(body)
                    buf = b""
            else:
                got += len(b)
            if need is not None and (got >= need or got > 16 << 20):
                ok = True
                break
    except (OSError, ssl.SSLError):
        pass
    if ok:
        alive += 1
    else:
        cut += 1
with open(os.path.join(d, "result"), "w") as f:
    f.write("cut=%d alive=%d" % (cut, alive))
