#!/usr/bin/env python3
"""check_wrap.py ORIG WRAPPED SLUICE: check, by parsing both files (JSONC or
TOML, by ORIG's name), that WRAPPED is ORIG with exactly its stdio servers
wrapped: command SLUICE, args [run, --name, KEY, --policy, P, --env NAME...,
--, CMD, ARG...] with one --env per variable of the entry's env, in order;
every other value (other servers, other keys of a server, the rest of the
file) equal. Prints one line per wrapped server, "wrapped KEY POLICY", then
"ok N" and exits 0; or prints what differs and exits 1."""
import json
import sys
import tomllib

orig_path, wrapped_path, sluice = sys.argv[1:4]


def jsonc(text):
    """JSONC to JSON: drop comments and trailing commas, outside strings."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        elif c in "]}":
            k = len(out) - 1
            while k >= 0 and out[k].strip() == "":
                k -= 1
            if k >= 0 and out[k] == ",":
                out[k] = ""
            out.append(c)
            i += 1
        else:
            out.append(c)
            i += 1
    return json.loads("".join(out))


def load(path):
    text = open(path, encoding="utf-8").read()
    return tomllib.loads(text) if path.endswith(".toml") else jsonc(text)


def scopes(doc):
    """(name, servers dict) for every place servers live."""
    for key in ("mcpServers", "servers", "mcp_servers"):
        if isinstance(doc.get(key), dict):
            yield key, doc[key]
    for path, proj in (doc.get("projects") or {}).items():
        if isinstance(proj, dict) and isinstance(proj.get("mcpServers"), dict):
            yield "projects[%s]" % path, proj["mcpServers"]


def wrappable(s):
    cmd = (s.get("command") or "").rsplit("/", 1)[-1]
    args = s.get("args") or []
    if "url" in s or "serverUrl" in s or s.get("type", "stdio") != "stdio" or not s.get("command"):
        return False
    if cmd in ("docker", "podman") and args[:1] == ["run"]:
        return False
    return cmd != "srt" and s.get("sandboxEnabled") is not True


def main():
    a, b = load(orig_path), load(wrapped_path)
    errors, n = [], 0
    sa, sb = dict(scopes(a)), dict(scopes(b))
    for name, servers in sa.items():
        for key, s in servers.items():
            w = sb.get(name, {}).get(key)
            if not wrappable(s):
                if w != s:
                    errors.append("%s %s: changed but should be left alone" % (name, key))
                continue
            env = []
            for var in (s.get("env") or {}):
                env += ["--env", var]
            args = w.get("args", []) if isinstance(w, dict) else []
            want = ["run", "--name", key, "--policy"] + args[4:5] + env + ["--", s["command"]] + s.get("args", [])
            rest_w = {k: v for k, v in w.items() if k not in ("command", "args")}
            rest_s = {k: v for k, v in s.items() if k not in ("command", "args")}
            if w.get("command") != sluice or args != want or rest_w != rest_s or len(args) < 5:
                errors.append("%s %s: got %s, want command %s args %s" % (name, key, json.dumps(w), sluice, want))
                continue
            print("wrapped %s %s" % (key, args[4]))
            n += 1
    if {k: set(v) for k, v in sa.items()} != {k: set(v) for k, v in sb.items()}:
        errors.append("servers were added or removed")
    # everything outside the servers is the same
    for d, s in ((a, sa), (b, sb)):
        for name in s:
            s[name].clear()
    if a != b:
        errors.append("the rest of the file differs")
    for e in errors:
        print(e)
    print("ok %d" % n if not errors else "failed")
    return 1 if errors else 0


sys.exit(main())
