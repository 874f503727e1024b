#!/usr/bin/env python3
"""hello.py HOST PORT [--sni NAME]... [--ech]: send a TLS ClientHello built
here (each --sni adds a server_name extension; --ech adds an
encrypted_client_hello extension, 0xfe0d, with random contents) and print
what came back: "reset", "closed", or "answered N" (bytes, in 3 s)."""
import os
import socket
import struct
import sys


def ext(kind, body):
    return struct.pack("!HH", kind, len(body)) + body


def hello(names, ech):
    exts = b""
    for n in names:
        entry = b"\x00" + struct.pack("!H", len(n)) + n.encode()
        exts += ext(0, struct.pack("!H", len(entry)) + entry)
    exts += ext(10, bytes.fromhex("0004001d0017"))                  # groups: x25519, p256
    exts += ext(13, bytes.fromhex("000804030804040106010201"))      # signature algorithms
    exts += ext(43, bytes.fromhex("0403040303"))                   # versions: 1.3, 1.2
    exts += ext(51, bytes.fromhex("0024001d0020") + os.urandom(32))  # key share x25519
    if ech:
        exts += ext(0xFE0D, b"\x00\x00\x01\x00\x01\x2a\x00\x20" + os.urandom(32) + b"\x00\x40" + os.urandom(64))
    suites = bytes.fromhex("130113021303c02fc030")
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32)
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def main():
    host, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    names = [args[i + 1] for i, a in enumerate(args) if a == "--sni"]
    s = socket.create_connection((host, port), timeout=3)
    s.sendall(hello(names, "--ech" in args))
    got = 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
    except ConnectionResetError:
        print("reset" if got == 0 else "answered %d" % got)
        return
    except socket.timeout:
        pass
    print("answered %d" % got if got else "closed")


if __name__ == "__main__":
    main()
