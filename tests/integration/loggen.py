#!/usr/bin/env python3
"""loggen.py MIB OUT: write about MIB MiB of audit log in the writer's exact
shape (key order, compact JSON), for sluice log's size tests and bench.
Deterministic: 4 servers, 400 hosts under 40 domains, every event kind."""
import random
import sys


def records(rng):
    servers = ["github", "npm", "build", "docs"]
    hosts = [f"h{i}.d{i % 40}.example.org" for i in range(400)]
    ms = 0
    sid = 0
    while True:
        ms += rng.randrange(1, 40)
        sec, frac = divmod(ms, 1000)
        day, rem = divmod(sec, 86400)
        hh, rem = divmod(rem, 3600)
        mm, ss = divmod(rem, 60)
        ts = f"2025-01-{1 + day % 28:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{frac:03d}Z"
        srv = servers[rng.randrange(4)]
        host = hosts[rng.randrange(400)]
        k = rng.randrange(10)
        sid += 1
        if k < 4:
            d, r = ("allow", "allowed") if k < 3 else ("deny", "not_allowed")
            yield (f'{{"ts":"{ts}","event":"connect","phase":"decision","server":"{srv}","session":"s{sid}",'
                   f'"host":"{host}","port":443,"addrs":["93.184.215.{sid % 250}"],"decision":"{d}",'
                   f'"reason":"{r}","rule":"{host}","dns_ms":3}}\n')
            if d == "allow":
                yield (f'{{"ts":"{ts}","event":"connect","phase":"close","server":"{srv}","session":"s{sid}",'
                       f'"host":"{host}","port":443,"remote":"93.184.215.{sid % 250}:443","decision":"allow",'
                       f'"bytes_up":{rng.randrange(100, 5000)},"bytes_down":{rng.randrange(1000, 900000)},'
                       f'"duration_ms":{rng.randrange(1, 900)}}}\n')
        elif k < 6:
            yield (f'{{"ts":"{ts}","event":"http","phase":"decision","server":"{srv}","session":"s{sid}",'
                   f'"host":"{host}","port":80,"method":"GET","decision":"would_deny","reason":"not_allowed",'
                   f'"package":"npm:pkg{sid % 97}@1.0.{sid % 7}","cache":"miss"}}\n')
        elif k < 8:
            yield (f'{{"ts":"{ts}","event":"dns","phase":"decision","server":"{srv}","host":"{host}",'
                   f'"addrs":["93.184.215.1","2001:db8::{sid % 9999:x}"],"decision":"allow","reason":"allowed",'
                   f'"rule":"{host}","dns_ms":1,"qtype":"A","rcode":"NOERROR"}}\n')
        elif k < 9:
            yield (f'{{"ts":"{ts}","event":"transparent","phase":"decision","server":"{srv}","session":"s{sid}",'
                   f'"host":"{host}","port":443,"sni":"{host}","decision":"deny","reason":"denied_by_rule",'
                   f'"rule":"{host}"}}\n')
        else:
            yield (f'{{"ts":"{ts}","event":"packet","phase":"decision","server":"{srv}","host":"203.0.113.{sid % 200}",'
                   f'"port":{rng.choice([22, 25, 8080, 5432])},"decision":"deny","reason":"not_allowed",'
                   f'"protocol":"{rng.choice(["tcp", "udp"])}"}}\n')


def main():
    want = int(float(sys.argv[1]) * 1024 * 1024)
    rng = random.Random(14)
    done = 0
    with open(sys.argv[2], "w") as out:
        buf = []
        for line in records(rng):
            buf.append(line)
            done += len(line)
            if len(buf) >= 4096:
                out.write("".join(buf))
                buf = []
            if done >= want:
                break
        out.write("".join(buf))


if __name__ == "__main__":
    main()
