#!/usr/bin/env python3
"""drive_servers.py CALLS CMD...: speak MCP over stdio to CMD (a server under
sluice run): initialize, tools/list, then tools/call for each call in CALLS,
a JSON list of [label, tool, arguments]; then close stdin and wait for CMD.

Prints one line per step:
    initialize: NAME VERSION
    tools/list: NAME,NAME,...            (sorted)
    call LABEL: [error ]TEXT | TEXT ...  (each content item; newlines as \\n,
                                          a JSON object or list compacted)
    exit: RC                              (or "exit: hung" if still running 15 s
                                           after stdin closed; it is then killed)
Every stdout line must be a JSON-RPC 2.0 message; any other line is printed as
"non-JSON on stdout: ..." and makes the driver exit 1. No step waits more
than 15 s."""
import json
import queue
import subprocess
import sys
import threading

STEP = 15
calls = json.loads(sys.argv[1])
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
lines = queue.Queue()
clean = True


def pump():
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)


threading.Thread(target=pump, daemon=True).start()


def send(msg):
    proc.stdin.write(json.dumps(msg) + "\n")
    proc.stdin.flush()


def fail(why):
    print(why)
    proc.kill()
    proc.wait()
    sys.exit(1)


def reply(want_id):
    global clean
    while True:
        try:
            line = lines.get(timeout=STEP)
        except queue.Empty:
            fail("timed out waiting for reply %d" % want_id)
        if line is None:
            fail("server closed stdout before reply %d" % want_id)
        try:
            msg = json.loads(line)
        except ValueError:
            clean = False
            print("non-JSON on stdout: %r" % line[:120])
            continue
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            clean = False
            print("not JSON-RPC 2.0 on stdout: %r" % line[:120])
            continue
        if "method" in msg and "id" in msg:
            # a request from the server (we declared no capabilities): refuse it
            send({"jsonrpc": "2.0", "id": msg["id"],
                  "error": {"code": -32601, "message": "not supported by the test client"}})
            continue
        if msg.get("id") == want_id:
            return msg


def show(item):
    if item.get("type") == "text":
        try:  # JSON text (a graph, an environment) goes on one line, compact
            parsed = json.loads(item["text"])
            if isinstance(parsed, (dict, list)):
                return json.dumps(parsed, sort_keys=True, separators=(",", ":"))
        except ValueError:
            pass
        return item["text"].replace("\n", "\\n")
    return "[%s %s]" % (item.get("type"), item.get("mimeType", ""))


send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "sluice-test", "version": "1"}}})
info = reply(1)["result"]["serverInfo"]
print("initialize:", info["name"], info.get("version", ""))
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
print("tools/list:", ",".join(sorted(t["name"] for t in reply(2)["result"]["tools"])))
for i, (label, tool, args) in enumerate(calls):
    send({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
          "params": {"name": tool, "arguments": args}})
    msg = reply(10 + i)
    if "error" in msg:
        print("call %s: error %s" % (label, msg["error"].get("message", "")))
        continue
    res = msg["result"]
    print("call %s: %s%s" % (label, "error " if res.get("isError") else "",
                             " | ".join(show(c) for c in res.get("content", []))))
proc.stdin.close()
try:
    rc = proc.wait(timeout=STEP)
except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
    rc = "hung"
# whatever came after the last reply must be JSON-RPC too
while True:
    try:
        line = lines.get(timeout=STEP)
    except queue.Empty:
        break
    if line is None:
        break
    try:
        if json.loads(line).get("jsonrpc") != "2.0":
            raise ValueError
    except (ValueError, AttributeError):
        clean = False
        print("non-JSON on stdout: %r" % line[:120])
print("exit:", rc)
sys.exit(0 if clean else 1)
