#!/usr/bin/env python3
"""fault_origin.py ADDR ADDR6 CERT KEY OUTDIR: a misbehaving registry, for
cache_fault_test.sh.

Answers registry.npmjs.org and deb.debian.org (any Host: only the path
counts) on ADDR and ADDR6, port 80 (HTTP) and 443 (TLS with CERT/KEY),
HTTP/1.1 with keep-alive. Bodies are deterministic: the bytes of an object
of size N named P are random.Random(P).randbytes(N). OUTDIR/objects gets
"<path> <size> <sha256>" for every object before the ports open.

npm (registry.npmjs.org):
  /goodint, /badint, /bigpack      packuments with one version, 1.0.0, whose
      dist.tarball is https://registry.npmjs.org/<name>/-/<name>-1.0.0.tgz and
      whose dist.integrity is the sha512 of that tarball's bytes for goodint,
      of other bytes for badint and bigpack. bigpack is about 2 MiB (a long
      readme) and goes out in 8 pieces 0.1 s apart.
  /nostore                          the same as badint, and its tarball is sent
      with Cache-Control: no-store
  /etagged                          goodint's packument with readme "v<N>" and
      ETag "v<N>" (N: mode etag_v, 1 unless set); 304 to an If-None-Match
      that names the current ETag
  /<name>/-/<name>-1.0.0.tgz        the tarballs (256 KiB each; cut: 1 MiB)
  /cut/-/cut-1.0.0.tgz              with mode cut=1: Content-Length N, N/2
      bytes, then the connection closes
  /auth/-/auth-1.0.0.tgz            remembers the Authorization it was sent
  /chunky/-/chunky-1.0.0.tgz        512 KiB, chunked, chunks of 1 to 70000 bytes
  /small<i>/-/small<i>-1.0.0.tgz    64 KiB, for i in 0..9
  /fullgood, /fullbad, /fullchunk, /fullhuge   packuments as goodint's (the
      integrity of the tarball's bytes; fullbad: of other bytes) for tarballs
      larger than the 8 MiB full-disk store: 12 MiB (fullchunk's sent
      chunked), fullhuge's 80 MiB, fullbig's 64 MiB (the most held)
Debian (deb.debian.org), under /debian/pool/main/:
  s/slow/slow_1_all.deb     16 MiB at mode slow_rate bytes/s (0: at once)
  b/big/big_1_all.deb       64 MiB: the head and 1 MiB, 2 s of nothing, then
                            the rest at 32 MiB/s (so concurrent clients overlap)
  h/huge/huge_1_all.deb     20 MiB with Content-Length
  h/hugec/hugec_1_all.deb   20 MiB chunked (no Content-Length)
  h/hugelate/hugelate_1_all.deb  20 MiB, its head 1.5 s late (so clients overlap)
  t/tiny<i>/tiny<i>_1_all.deb  64 KiB, for i in 0..9
Anything else: 404.

Control, plain HTTP on ADDR:9000 (the test asks it directly, not through
sluice):
  /count?path=P   requests for P so far       /sent?path=P  body bytes sent
  /auth?path=P    the last Authorization seen for P ("-": none)
  /set?NAME=VALUE sets a mode (cut, slow_rate, status: badint's tarball's
                  status, 200 unless set; etag_v)
"""
import base64
import hashlib
import json
import os
import random
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ADDR, ADDR6, CERT, KEY, OUT = sys.argv[1:6]
NPM = "https://registry.npmjs.org"
KiB, MiB = 1024, 1024 * 1024


def blob(name, size):
    return random.Random(name).randbytes(size)


OBJ = {}  # path -> bytes
lock = threading.Lock()
counts, sent, auth = {}, {}, {}
modes = {"cut": "0", "slow_rate": str(1 * MiB), "status": "200", "etag_v": "1"}


def tarball_path(name):
    return "/%s/-/%s-1.0.0.tgz" % (name, name)


def packument(name, integrity_of, pad=0):
    doc = {
        "name": name,
        "dist-tags": {"latest": "1.0.0"},
        "versions": {
            "1.0.0": {
                "name": name,
                "version": "1.0.0",
                "dist": {
                    "tarball": NPM + tarball_path(name),
                    "integrity": "sha512-" + base64.b64encode(hashlib.sha512(integrity_of).digest()).decode(),
                },
            }
        },
        "readme": "x" * pad,
    }
    return json.dumps(doc).encode()


for n in ("goodint", "badint", "bigpack", "auth", "nostore"):
    OBJ[tarball_path(n)] = blob(tarball_path(n), 256 * KiB)
OBJ[tarball_path("cut")] = blob(tarball_path("cut"), 1 * MiB)
OBJ[tarball_path("chunky")] = blob(tarball_path("chunky"), 512 * KiB)
for i in range(10):
    OBJ[tarball_path("small%d" % i)] = blob(tarball_path("small%d" % i), 64 * KiB)
OBJ["/goodint"] = packument("goodint", OBJ[tarball_path("goodint")])
for n, size in (("fullgood", 12 * MiB), ("fullbad", 12 * MiB), ("fullchunk", 12 * MiB), ("fullhuge", 80 * MiB),
                ("fullbig", 64 * MiB)):
    OBJ[tarball_path(n)] = blob(tarball_path(n), size)
    OBJ["/" + n] = packument(n, b"not the tarball" if n == "fullbad" else OBJ[tarball_path(n)])
OBJ["/badint"] = packument("badint", b"not the tarball")
OBJ["/nostore"] = packument("nostore", b"not the nostore tarball")
OBJ["/bigpack"] = packument("bigpack", b"not the tarball either", pad=2 * MiB)
POOL = "/debian/pool/main/"
for rel, size in (("s/slow/slow_1_all.deb", 16 * MiB), ("b/big/big_1_all.deb", 64 * MiB),
                  ("h/huge/huge_1_all.deb", 20 * MiB), ("h/hugec/hugec_1_all.deb", 20 * MiB),
                  ("h/hugelate/hugelate_1_all.deb", 20 * MiB)):
    OBJ[POOL + rel] = blob(POOL + rel, size)
for i in range(10):
    p = POOL + "t/tiny%d/tiny%d_1_all.deb" % (i, i)
    OBJ[p] = blob(p, 64 * KiB)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, data):
        self.wfile.write(data)
        with lock:
            sent[self.p] = sent.get(self.p, 0) + len(data)

    def paced(self, body, rate, chunk=64 * KiB):
        t0 = time.monotonic()
        for o in range(0, len(body), chunk):
            self.send(body[o:o + chunk])
            if rate:
                ahead = t0 + (o + chunk) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

    def do_GET(self):
        self.p = urlsplit(self.path).path
        p = self.p
        with lock:
            counts[p] = counts.get(p, 0) + 1
            sent[p] = 0
            auth[p] = self.headers.get("Authorization", "-")
        body = OBJ.get(p)
        etag = None
        if p == "/etagged":
            etag = '"v%s"' % modes["etag_v"]
            body = packument("etagged", OBJ[tarball_path("goodint")]).replace(b'"readme": ""', b'"readme": "v%s"' %
                                                                               modes["etag_v"].encode())
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ctype = "application/json" if not p.endswith((".tgz", ".deb")) else "application/octet-stream"
        try:
            if p.endswith("/hugelate_1_all.deb"):
                time.sleep(1.5)
            self.send_response(int(modes["status"]) if p == tarball_path("badint") else 200)
            self.send_header("Content-Type", ctype)
            if p == tarball_path("nostore"):
                self.send_header("Cache-Control", "no-store")
            if etag:
                self.send_header("ETag", etag)
            if p.endswith("/hugec_1_all.deb") or p in (tarball_path("chunky"), tarball_path("fullchunk")):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sizes, o = random.Random(p + " chunks"), 0
                while o < len(body):
                    n = 256 * KiB if p.endswith(".deb") else sizes.randint(1, 70000)
                    piece = body[o:o + n]
                    o += len(piece)
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    with lock:
                        sent[p] += len(piece)
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if p == tarball_path("cut") and modes["cut"] == "1":
                self.send(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if p == "/bigpack":
                step = len(body) // 8 + 1
                for o in range(0, len(body), step):
                    self.send(body[o:o + step])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            if p.endswith("/slow_1_all.deb"):
                self.paced(body, int(modes["slow_rate"]))
                return
            if p.endswith("/big_1_all.deb"):
                self.send(body[:MiB])
                self.wfile.flush()
                time.sleep(2)
                self.paced(body[MiB:], 32 * MiB)
                return
            self.send(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        with lock:
            if u.path == "/count":
                out = str(counts.get(q["path"], 0))
            elif u.path == "/sent":
                out = str(sent.get(q["path"], 0))
            elif u.path == "/auth":
                out = auth.get(q["path"], "-")
            elif u.path == "/set":
                modes.update(q)
                out = "ok"
            else:
                out = "?"
        data = (out + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Server6(Server):
    address_family = socket.AF_INET6


class TLSMixin:
    ctx = None

    def get_request(self):
        sock, addr = self.socket.accept()
        # the handshake happens in the handler's thread, on its first read
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class TLSServer(TLSMixin, Server):
    pass


class TLSServer6(TLSMixin, Server6):
    pass


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    ctx.set_alpn_protocols(["http/1.1"])
    TLSMixin.ctx = ctx
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "objects.new"), "w") as f:
        for p, b in sorted(OBJ.items()):
            f.write("%s %d %s\n" % (p, len(b), hashlib.sha256(b).hexdigest()))
    os.rename(os.path.join(OUT, "objects.new"), os.path.join(OUT, "objects"))
    servers = [Server((ADDR, 80), Handler), Server6((ADDR6, 80), Handler),
               TLSServer((ADDR, 443), Handler), TLSServer6((ADDR6, 443), Handler),
               Server((ADDR, 9000), Control)]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


main()
