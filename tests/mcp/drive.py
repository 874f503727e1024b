#!/usr/bin/env python3
"""drive.py CMD...: speak MCP over stdio to CMD (a server under sluice run):
initialize, tools/list, then tools/call fetch for each URL in $MCP_URLS
(space-separated). Prints one line per step; exits 1 if any stdout line is
not a JSON-RPC message."""
import json
import os
import subprocess
import sys

proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
clean = True


def send(msg):
    proc.stdin.write(json.dumps(msg) + "\n")
    proc.stdin.flush()


def reply(want_id):
    global clean
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("server closed stdout")
        try:
            msg = json.loads(line)
        except ValueError:
            clean = False
            print("non-JSON on stdout: %r" % line[:80])
            continue
        if msg.get("jsonrpc") != "2.0":
            clean = False
        if msg.get("id") == want_id:
            return msg


send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "sluice-test", "version": "1"}}})
init = reply(1)
print("initialize:", init["result"]["serverInfo"]["name"])
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
print("tools/list:", ",".join(t["name"] for t in reply(2)["result"]["tools"]))
for i, url in enumerate(os.environ.get("MCP_URLS", "").split()):
    send({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
          "params": {"name": "fetch", "arguments": {"url": url}}})
    res = reply(10 + i)["result"]
    print("tools/call %s: %s%s" % (url, "error " if res.get("isError") else "", res["content"][0]["text"]))
proc.stdin.close()
rc = proc.wait(timeout=10)
print("exit:", rc)
sys.exit(0 if clean else 1)
