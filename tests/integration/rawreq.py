#!/usr/bin/env python3
"""rawreq.py HOST PORT [halfclose|ws]: send stdin's bytes (\\n written as-is)
to the proxy (then shut the sending side, with halfclose) and print the status
line and the X-Sluice-Reason value, space-separated. With ws: after a 101,
send "ping" and print the status and what came back; after another status,
print the status and the body."""
import socket
import sys

mode = sys.argv[3] if len(sys.argv) > 3 else ""
data = sys.stdin.buffer.read()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(data)
if mode == "halfclose":
    s.shutdown(socket.SHUT_WR)
resp = b""
try:
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
except socket.timeout:
    pass
head = resp.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
status = head[0].split(" ")[1] if head and head[0] else "none"
reason, length = "-", 0
for line in head[1:]:
    k, _, v = line.partition(":")
    if k.lower() == "x-sluice-reason":
        reason = v.strip()
    if k.lower() == "content-length":
        length = int(v)
if mode == "ws":
    rest = resp.partition(b"\r\n\r\n")[2]
    if status == "101":
        s.sendall(b"ping")
        length = 7
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    print(status, rest.decode("latin-1"))
else:
    print(status, reason)
