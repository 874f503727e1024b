#!/usr/bin/env python3
"""registry.py: the package registries' contents for the cache tests, made
locally (nothing is fetched). cache_world.sh drives it:

  npm-sources SRC N    N package folders (one per version) for `npm pack`,
                       under SRC/<name>@<version>/, and SRC/project/package.json
  npm-registry OUT SRC PACK.json TGZDIR
                       the registry layout from `npm pack --json`'s output
                       (the tarballs in TGZDIR, made from SRC's folders):
                       OUT/<name>/index.json (the packument) and
                       OUT/<name>/-/<base>-<version>.tgz, scoped names as
                       OUT/@scope/base/...; dist.tarball names
                       https://registry.npmjs.org/
  pypi OUT             tiny wheels and a PEP 503 simple index:
                       OUT/pypi.org/simple/<project>/index.html and
                       OUT/files/packages/<b2>/<b2>/<b2...>/<file>

The npm set is a dependency tree: package i depends on i+1 and i+4 (so one
root dependency reaches them all), every third package has 1.0.0 and 1.1.0,
every fifth also 2.0.0, and some dependents ask for ^2.0.0 while the project
asks for ^1.0.0, so the tree holds two versions of one name (nested).
Every fourth name is scoped (@sluice-test/lib-NN). One package carries
a 1 MiB incompressible file (sluice-pkg-02), so one tarball is big
enough to stream.
"""
import base64
import hashlib
import io
import json
import os
import random
import sys
import zipfile

REGISTRY = "https://registry.npmjs.org"
FILES = "https://files.pythonhosted.org"
TIME = "2026-01-01T00:00:00.000Z"


def npm_name(i):
    return "@sluice-test/lib-%02d" % i if i % 4 == 3 else "sluice-pkg-%02d" % i


def npm_versions(i):
    v = ["1.0.0"]
    if i % 3 == 0:
        v.append("1.1.0")
    if i % 5 == 0:
        v.append("2.0.0")
    return v


def npm_deps(i, n, version):
    if version.startswith("2."):
        return {}
    deps = {}
    for j in (i + 1, i + 4):
        if j < n:
            want2 = "2.0.0" in npm_versions(j) and i % 2 == 0
            deps[npm_name(j)] = "^2.0.0" if want2 else "^1.0.0"
    return deps


def npm_sources(src, n):
    n = int(n)
    for i in range(n):
        name = npm_name(i)
        for v in npm_versions(i):
            d = os.path.join(src, "%s@%s" % (name.replace("/", "+"), v))
            os.makedirs(d, exist_ok=True)
            manifest = {
                "name": name,
                "version": v,
                "description": "sluice cache test package %d" % i,
                "main": "index.js",
                "license": "MIT",
                "dependencies": npm_deps(i, n, v),
            }
            with open(os.path.join(d, "package.json"), "w") as f:
                json.dump(manifest, f, indent=2)
            with open(os.path.join(d, "index.js"), "w") as f:
                f.write("module.exports = %s;\n" % json.dumps("%s@%s" % (name, v)))
            if i == 2:
                rnd = random.Random(n)
                with open(os.path.join(d, "blob.bin"), "wb") as f:
                    f.write(rnd.randbytes(1 << 20))
    # the project: a few roots; 0 reaches every package, 5 and 10 are asked
    # for at ^1 here and at ^2 by 4 and 9, so they nest
    proj = os.path.join(src, "project")
    os.makedirs(proj, exist_ok=True)
    deps = {npm_name(i): "^1.0.0" for i in (0, 3, 5, 10) if i < n}
    with open(os.path.join(proj, "package.json"), "w") as f:
        json.dump({"name": "sluice-cache-project", "version": "1.0.0", "private": True,
                   "dependencies": deps}, f, indent=2)


def npm_registry(out, src, packjson, tgzdir):
    with open(packjson) as f:
        packed = json.load(f)
    docs = {}
    for p in packed:
        name, v = p["name"], p["version"]
        base = name.split("/")[-1]
        tgz = "%s-%s.tgz" % (base, v)
        d = os.path.join(out, name, "-")
        os.makedirs(d, exist_ok=True)
        os.replace(os.path.join(tgzdir, p["filename"]), os.path.join(d, tgz))
        with open(os.path.join(d, tgz), "rb") as f:
            data = f.read()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        assert integrity == p["integrity"], (name, v)
        # the manifest as packed, plus what the registry adds
        with open(os.path.join(src, "%s@%s" % (name.replace("/", "+"), v), "package.json")) as f:
            man = json.load(f)
        man.update({
            "_id": "%s@%s" % (name, v),
            "dist": {
                "integrity": integrity,
                "shasum": hashlib.sha1(data).hexdigest(),
                "tarball": "%s/%s/-/%s" % (REGISTRY, name, tgz),
                "fileCount": len(p.get("files", [])),
                "unpackedSize": p.get("unpackedSize", 0),
            },
        })
        doc = docs.setdefault(name, {"_id": name, "name": name, "dist-tags": {},
                                     "versions": {}, "time": {"created": TIME, "modified": TIME},
                                     "modified": TIME})
        doc["versions"][v] = man
        doc["time"][v] = TIME
    for name, doc in docs.items():
        doc["dist-tags"]["latest"] = max(doc["versions"], key=lambda s: tuple(map(int, s.split("."))))
        with open(os.path.join(out, name, "index.json"), "w") as f:
            json.dump(doc, f, indent=1)
    print(len(docs), sum(len(d["versions"]) for d in docs.values()))


def wheel(project, version, requires, body):
    """A minimal valid wheel (PEP 427): module, METADATA, WHEEL, RECORD."""
    mod = project.replace("-", "_")
    di = "%s-%s.dist-info" % (mod, version)
    meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: sluice cache test wheel\n" % (
        project, version)
    meta += "".join("Requires-Dist: %s\n" % r for r in requires)
    files = [
        ("%s/__init__.py" % mod, body.encode()),
        ("%s/METADATA" % di, meta.encode()),
        ("%s/WHEEL" % di, b"Wheel-Version: 1.0\nGenerator: sluice-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = ""
    for path, data in files:
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\n" % (path, h, len(data))
    record += "%s/RECORD,,\n" % di
    files.append(("%s/RECORD" % di, record.encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return "%s-%s-py3-none-any.whl" % (mod, version), buf.getvalue()


def pypi(out):
    wheels = {
        "sluice-test-hello": [wheel("sluice-test-hello", v, [], "VERSION = %r\n" % v)
                              for v in ("1.0.0", "1.1.0")],
        "sluice-test-dep": [wheel("sluice-test-dep", "1.0.0", ["sluice-test-hello>=1.0"],
                                  "from sluice_test_hello import VERSION\n")],
    }
    simple = os.path.join(out, "pypi.org", "simple")
    os.makedirs(simple, exist_ok=True)
    for project, files in wheels.items():
        links = ""
        for fname, data in files:
            b2 = hashlib.blake2b(data, digest_size=32).hexdigest()
            rel = "packages/%s/%s/%s/%s" % (b2[:2], b2[2:4], b2[4:], fname)
            path = os.path.join(out, "files", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            sha = hashlib.sha256(data).hexdigest()
            links += '    <a href="%s/%s#sha256=%s">%s</a><br/>\n' % (FILES, rel, sha, fname)
            print(project, fname, sha, "%s/%s" % (FILES, rel))
        os.makedirs(os.path.join(simple, project), exist_ok=True)
        with open(os.path.join(simple, project, "index.html"), "w") as f:
            f.write("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" "
                    "content=\"1.0\">\n    <title>Links for %s</title>\n  </head>\n  <body>\n"
                    "    <h1>Links for %s</h1>\n%s  </body>\n</html>\n" % (project, project, links))
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write("<!DOCTYPE html>\n<html>\n  <body>\n%s  </body>\n</html>\n" % "".join(
            '    <a href="/simple/%s/">%s</a>\n' % (p, p) for p in sorted(wheels)))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"npm-sources": npm_sources, "npm-registry": npm_registry, "pypi": pypi}[cmd](*args)
