#!/usr/bin/env python3
"""noread.py PROXY_PORT CAFILE HOST PATH DIR: a client that asks and never
reads: CONNECT HOST:443 through sluice's explicit proxy on 127.0.0.1,
TLS trusting CAFILE, one GET for PATH, then nothing is read. Writes
DIR/sent once the request is out; when DIR/go appears, reads what it can
for 10 s and writes DIR/result: "whole" when the connection still carried
the whole body, "cut" when it ended (or was reset) before."""
import os
import socket
import ssl
import sys
import time

port, cafile, host, path, d = sys.argv[1:6]
s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host.encode(), host.encode()))
head = b""
while b"\r\n\r\n" not in head:
    c = s.recv(1)
    if not c:
        sys.exit("the proxy closed")
    head += c
ctx = ssl.create_default_context(cafile=cafile)
t = ctx.wrap_socket(s, server_hostname=host)
t.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
open(os.path.join(d, "sent"), "w").close()
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.1)
got = b""
result = "cut"
try:
    t.settimeout(10)
    while True:
        b = t.recv(1 << 20)
        if not b:
            break
        got += b
        h, sep, body = got.partition(b"\r\n\r\n")
        if sep:
            n = [int(l.split(b":")[1]) for l in h.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if n and len(body) >= n[0]:
                result = "whole"
                break
except (OSError, ssl.SSLError):
    pass
with open(os.path.join(d, "result"), "w") as f:
    f.write(result)
