#!/usr/bin/env python3
"""hold.py PROXY_HOST PROXY_PORT TARGET: hold one CONNECT tunnel open to a
raw echo (origin.py's port 7008) and, for each line read on stdin, send it
through and print what came back ("echo:LINE", or "lost:..." when the
tunnel no longer carries bytes). Prints "open" once the tunnel is up, or
"refused ..." and exits 1. Ends at EOF on stdin."""
import socket
import sys


def main():
    host, port, target = sys.argv[1:4]
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            break
        head += c
    if b" 200 " not in head.split(b"\r\n")[0]:
        print("refused", head.split(b"\r\n")[0].decode(errors="replace"), flush=True)
        sys.exit(1)
    print("open", flush=True)
    for line in sys.stdin:
        msg = line.strip().encode()
        try:
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                c = s.recv(65536)
                if not c:
                    break
                got += c
        except OSError as e:
            got = b"error " + str(e).encode()
        print(("echo:" if got == msg else "lost:") + got.decode(errors="replace"), flush=True)


if __name__ == "__main__":
    main()
