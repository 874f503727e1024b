#!/usr/bin/env python3
"""nftprobe.py: both ends of nft_test.sh.

serve TPORT STUB   transparent listener on 127.0.0.1 and ::1 (answers each
                   connection with "orig=ADDR:PORT" from SO_ORIGINAL_DST) and
                   a stand-in DNS stub on UDP/TCP STUB (answers "stub").
tcp HOST PORT      connect and print the first line, or "refused"/"timeout"
                   with the seconds it took.
udp HOST PORT      send a datagram and print the answer or the error.
"""
import socket
import struct
import sys
import threading
import time

SO_ORIGINAL_DST = 80


def original_dst(conn, v6):
    if v6:
        raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
        port = struct.unpack(">H", raw[2:4])[0]
        return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, raw[8:24]), port)
    raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack(">H", raw[2:4])[0]
    return "%s:%d" % (socket.inet_ntoa(raw[4:8]), port)


def serve_tcp(addr, port, v6):
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        c.sendall(("orig=%s\n" % original_dst(c, v6)).encode())
        c.close()


def serve_stub(addr, port, v6):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((addr, port))
    t = socket.socket(fam)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(8)

    def tcp():
        while True:
            c, _ = t.accept()
            c.sendall(b"stub\n")
            c.close()
    threading.Thread(target=tcp, daemon=True).start()
    while True:
        _, peer = u.recvfrom(512)
        u.sendto(b"stub", peer)


def main():
    mode = sys.argv[1]
    if mode == "serve":
        tport, stub = int(sys.argv[2]), int(sys.argv[3])
        for addr, v6 in (("127.0.0.1", False), ("::1", True)):
            threading.Thread(target=serve_tcp, args=(addr, tport, v6), daemon=True).start()
            threading.Thread(target=serve_stub, args=(addr, stub, v6), daemon=True).start()
        print("ready", flush=True)
        while True:
            time.sleep(3600)
    host, port = sys.argv[2], int(sys.argv[3])
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    t0 = time.monotonic()
    try:
        if mode == "tcp":
            s = socket.create_connection((host, port), timeout=5)
            print(s.makefile().readline().strip())
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.connect((host, port))
            s.send(b"q")
            print(s.recv(512).decode())
    except ConnectionRefusedError:
        print("refused %.1f" % (time.monotonic() - t0))
    except OSError as e:
        print("error %.1f %s" % (time.monotonic() - t0, e.__class__.__name__ if not e.errno else e.errno))


if __name__ == "__main__":
    main()
