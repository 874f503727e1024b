#!/usr/bin/env python3
"""pipeline.py PROXY_PORT FIRST N TARGET OUT: one keep-alive connection to
sluice's explicit proxy on 127.0.0.1, plain HTTP: GET FIRST (an absolute
http:// URL that takes a while), then N HEADs of TARGET pipelined behind
it, all sent before a byte is read (so they wait in sluice's input while
FIRST is answered). Reads the answers for up to 60 s and writes to OUT
how many heads said 200 and how the connection ended ("eof", "timeout"
or "reset")."""
import socket
import sys
import time
from urllib.parse import urlsplit

port, first, n, target, out = sys.argv[1:6]
n = int(n)


def req(method, url):
    u = urlsplit(url)
    return b"%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method.encode(), url.encode(), u.hostname.encode())


s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
s.sendall(req("GET", first) + req("HEAD", target) * n)
MARK = b"HTTP/1.1 200 OK\r\n"
count, tail, ends, t0 = 0, b"", "timeout", time.monotonic()
try:
    while time.monotonic() - t0 < 60 and count < n + 1:
        b = s.recv(1 << 20)
        if not b:
            ends = "eof"
            break
        buf = tail + b
        count += buf.count(MARK)
        tail = buf[-(len(MARK) - 1):]
    else:
        ends = "all" if count >= n + 1 else ends
except socket.timeout:
    pass
except OSError:
    ends = "reset"
with open(out, "w") as f:
    f.write("%d %s\n" % (max(count - 1, 0), ends))
