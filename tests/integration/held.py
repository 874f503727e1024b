#!/usr/bin/env python3
"""held.py HOST PORT DIR: a connection opened before an attach.

Connects to a raw TCP echo, checks one round trip and writes DIR/ready;
waits for DIR/go, then tries another round trip and writes DIR/result:
"open" when the echo came back, "cut: <error>" otherwise.
"""
import os
import socket
import sys
import time

host, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=5)
s.sendall(b"one\n")
first = s.recv(100)
with open(os.path.join(d, "ready"), "w") as f:
    f.write(first.decode(errors="replace"))
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.05)
try:
    s.settimeout(3)
    s.sendall(b"two\n")
    got = s.recv(100)
    result = "open" if got else "cut: closed"
except OSError as e:
    result = "cut: %s" % e.__class__.__name__
with open(os.path.join(d, "result"), "w") as f:
    f.write(result)
