#!/usr/bin/env python3
"""pngstat.py FILE RRGGBB...: decode an 8-bit RGB/RGBA PNG (or a binary PPM)
with zlib alone and print, per colour, how many pixels match it (within 24
per channel), then how many are not near-white."""
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def png(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6), "only 8-bit RGB or RGBA"
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif f == 4:
            for i in range(stride):
                line[i] = (line[i] + paeth(line[i - bpp] if i >= bpp else 0, prev[i],
                                           prev[i - bpp] if i >= bpp else 0)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def ppm(data):
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P6" and parts[3] == b"255", "only binary PPM"
    w, h, px = int(parts[1]), int(parts[2]), parts[4]
    return w, h, 3, [px[y * w * 3:(y + 1) * w * 3] for y in range(h)]


def main():
    data = open(sys.argv[1], "rb").read()
    w, h, bpp, rows = png(data) if data[:4] == b"\x89PNG" else ppm(data)
    want = [tuple(int(c[i:i + 2], 16) for i in (0, 2, 4)) for c in sys.argv[2:]]
    counts, ink = [0] * len(want), 0
    for line in rows:
        for x in range(0, w * bpp, bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if r < 235 or g < 235 or b < 235:
                ink += 1
                for k, (R, G, B) in enumerate(want):
                    if abs(r - R) <= 24 and abs(g - G) <= 24 and abs(b - B) <= 24:
                        counts[k] += 1
    print(" ".join(str(c) for c in counts + [ink]))


if __name__ == "__main__":
    main()
