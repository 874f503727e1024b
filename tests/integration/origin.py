#!/usr/bin/env python3
"""origin.py: a test origin for cases nginx cannot script.

Port 8081 (HTTP/1.1, keep-alive):
  POST /echo     answers the request body, which may be chunked
  GET  /chunked  answers a chunked body
  GET  /close    answers a body delimited by closing the connection
  GET  /ws       with "Upgrade: websocket": 101, then echoes each read with
                 "ws:" before it; without: 200 "no upgrade, saw Upgrade: <value>"
Port 7007: raw TCP echo that waits for the client's half-close, then sends
  back everything it read with a prefix, and closes.
Port 7008: raw TCP echo.
Port 7009: a recorder: keeps what each connection sent until it closes, or
  until 0.5 s pass quietly, then answers 200 "ok" and closes. A request for
  /early is answered at once, after its head, and then read to the end.
Port 7010: says what the recorder got since the last time it was asked, one
  line per connection: "<bytes of the head> <bytes after it>", oldest first
  (waiting up to 3 s for connections still open).
"""
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        body = self.read_body()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Host", self.headers.get("Host", ""))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self):
        if self.headers.get("Upgrade", "").lower() != "websocket":
            body = ("no upgrade, saw Upgrade: %s" % self.headers.get("Upgrade", "-")).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while True:
            chunk = self.connection.recv(65536)
            if not chunk:
                break
            self.connection.sendall(b"ws:" + chunk)

    def do_GET(self):
        if self.path == "/ws":
            self.websocket()
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"alpha-", b"beta-", b"gamma"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until-close-body")
            self.close_connection = True
        else:
            body = ("host=%s path=%s proxy-auth=%s\n" % (
                self.headers.get("Host"), self.path,
                self.headers.get("Proxy-Authorization", "-"))).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data = b""
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                break
            data += chunk
        self.request.sendall(b"echo:" + data)


class Stream(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                break
            self.request.sendall(chunk)


RECORDED = []
RECORDING = threading.Condition()
OPEN = [0]


class Recorder(socketserver.BaseRequestHandler):
    OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    def handle(self):
        with RECORDING:
            OPEN[0] += 1
        data, answered = b"", False
        self.request.settimeout(0.5)
        try:
            while True:
                try:
                    chunk = self.request.recv(65536)
                except socket.timeout:
                    if not answered:
                        self.request.sendall(self.OK)
                    break
                if not chunk:
                    break
                data += chunk
                if not answered and b"\r\n\r\n" in data and data.split(b" ", 2)[1:2] == [b"/early"]:
                    self.request.sendall(self.OK)
                    answered = True
                    self.request.settimeout(5)
        except OSError:
            pass
        head, sep, rest = data.partition(b"\r\n\r\n")
        with RECORDING:
            RECORDED.append((len(head + sep), len(rest)))
            OPEN[0] -= 1
            RECORDING.notify_all()


class Recorded(socketserver.BaseRequestHandler):
    def handle(self):
        with RECORDING:
            RECORDING.wait_for(lambda: OPEN[0] == 0, timeout=3)
            lines = "".join("%d %d\n" % r for r in RECORDED)
            del RECORDED[:]
        self.request.sendall(lines.encode())


class V4Server(ThreadingHTTPServer):
    daemon_threads = True


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    addr = sys.argv[1]
    http = V4Server((addr, 8081), Handler)
    echo = EchoServer((addr, 7007), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    stream = EchoServer((addr, 7008), Stream)
    threading.Thread(target=stream.serve_forever, daemon=True).start()
    for port, handler in ((7009, Recorder), (7010, Recorded)):
        server = EchoServer((addr, port), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    http.serve_forever()


if __name__ == "__main__":
    main()
