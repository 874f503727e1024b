#!/usr/bin/env python3
"""tunnel.py MODE PROXY_HOST PROXY_PORT TARGET: drive a CONNECT tunnel.

halfclose: send a message, shut down our write side, print what comes back.
bursts:    20 bursts of a few MiB to a streaming echo, each read back whole
           before the next is sent (a relay that leaves bytes parked between
           bursts stalls here); prints "bursts:N ok" or where it stopped.
slowread:  GET /big through the tunnel, read nothing for a while (the proxy
           must stop reading upstream), print the proxy's RSS growth in KiB
           (pid from $SLUICE_PID), then read it all and print the byte count.
early:     send the CONNECT and 2 MiB in one go, before the 200 (what
           reaches the proxy before its upstream connect completes waits in
           its input and must go first); the streaming echo must return all
           of it, in order: prints "early:ok".
manyslow:  slowread on 32 tunnels at once (more than the relay's 16 large
           buffers); prints the RSS growth in KiB and how many tunnels then
           delivered all of /big.
whole:     GET /big through the tunnel and read all of it; prints the bytes
           sent and the bytes received after the 200.
upto N:    GET /big through the tunnel, read N bytes of the answer, then close
           with more still arriving (a reset); prints the bytes read.
"""
import os
import socket
import sys
import threading
import time


def rss_kib(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def connect(host, port, target):
    s = socket.create_connection((host, int(port)), timeout=20)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    if b" 200 " not in head.split(b"\r\n")[0]:
        print("connect-failed", head.split(b"\r\n")[0].decode())
        sys.exit(1)
    return s


def get_big(s, target):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    req = b"GET /big HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % target.split(":")[0].encode()
    s.sendall(req)
    return len(req)


def read_upto(s, n):
    got = 0
    while got < n:
        chunk = s.recv(min(1 << 20, n - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def read_all(s):
    total = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            return total
        total += len(chunk)


def many_slow(host, port, target):
    pid = os.environ["SLUICE_PID"]
    before = rss_kib(pid)
    socks = [connect(host, port, target) for _ in range(32)]
    for s in socks:
        get_big(s, target)
    time.sleep(3)
    grown = rss_kib(pid) - before
    totals = [0] * len(socks)

    def drain(i):
        totals[i] = read_all(socks[i])

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(socks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(grown, sum(1 for t in totals if t > 64 * 1024 * 1024))


def main():
    mode, host, port, target = sys.argv[1:5]
    if mode == "manyslow":
        many_slow(host, port, target)
        return
    if mode == "early":
        data = os.urandom(2 << 20)
        c = socket.create_connection((host, int(port)), timeout=20)
        sender = threading.Thread(target=c.sendall, args=(b"CONNECT %s HTTP/1.1\r\n\r\n" % target.encode() + data,))
        sender.start()
        got = b""
        while len(got) < len(data) + 4096:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got and len(got) - got.index(b"\r\n\r\n") - 4 >= len(data):
                break
        sender.join()
        head, _, body = got.partition(b"\r\n\r\n")
        print("early:ok" if b" 200 " in head and body == data else "early:%d of %d" % (len(body), len(data)))
        return
    s = connect(host, port, target)
    if mode == "halfclose":
        s.sendall(b"ping-through-the-tunnel")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        print(data.decode())
    elif mode == "bursts":
        s.settimeout(10)
        for i in range(20):
            burst = os.urandom(1 << 16) * (32 + i) + os.urandom(i * 4099)
            sender = threading.Thread(target=s.sendall, args=(burst,))
            sender.start()
            got = bytearray()
            try:
                while len(got) < len(burst):
                    got += s.recv(1 << 20)
            except socket.timeout:
                print("stalled in burst %d after %d of %d bytes" % (i, len(got), len(burst)))
                sys.exit(1)
            sender.join()
            if bytes(got) != burst:
                print("burst %d differs" % i)
                sys.exit(1)
        print("bursts:20 ok")
    elif mode == "slowread":
        pid = os.environ["SLUICE_PID"]
        before = rss_kib(pid)
        get_big(s, target)
        time.sleep(3)
        grown = rss_kib(pid) - before
        print(grown, read_all(s))
    elif mode == "whole":
        sent = get_big(s, target)
        print(sent, read_all(s))
    elif mode == "upto":
        get_big(s, target)
        got = read_upto(s, int(sys.argv[5]))
        time.sleep(0.5)  # more arrives unread: the close resets
        s.close()
        print(got)


if __name__ == "__main__":
    main()
