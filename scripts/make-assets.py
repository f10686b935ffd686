#!/usr/bin/env python3
"""Regenerates the web root's media (assets/www/network.png, assets/www/chime.wav).

Everything is drawn and synthesised here, with the standard library only, so the web server's
sample site carries no third-party media. Deterministic: running it twice gives the same bytes.
"""
import math
import struct
import wave
import zlib
from pathlib import Path

WWW = Path(__file__).resolve().parent.parent / "assets" / "www"
W, H = 480, 270


def png(path, pixels):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)


def network_picture():
    """A tracker in the middle, four peers around it, links between all of them."""
    img = [[0] * (W * 3) for _ in range(H)]

    def put(x, y, c, alpha=1.0):
        if 0 <= x < W and 0 <= y < H:
            row = img[y]
            for k in range(3):
                row[x * 3 + k] = int(row[x * 3 + k] * (1 - alpha) + c[k] * alpha)

    for y in range(H):  # background: a dark vertical gradient
        for x in range(W):
            t = y / H
            put(x, y, (int(16 + 18 * t), int(20 + 22 * t), int(38 + 40 * t)))

    def line(a, b, c, width=2.0):
        (x0, y0), (x1, y1) = a, b
        steps = int(max(abs(x1 - x0), abs(y1 - y0)) * 2) + 1
        for i in range(steps + 1):
            t = i / steps
            cx, cy = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            for dx in range(-2, 3):
                for dy in range(-2, 3):
                    d = math.hypot(dx, dy)
                    if d <= width / 2 + 0.5:
                        put(int(cx) + dx, int(cy) + dy, c, 0.35 if d > width / 2 else 0.8)

    def disc(cx, cy, r, c):
        for y in range(int(cy - r - 2), int(cy + r + 3)):
            for x in range(int(cx - r - 2), int(cx + r + 3)):
                d = math.hypot(x - cx, y - cy)
                if d <= r - 0.5:
                    shade = 1.0 - 0.35 * (d / r)
                    put(x, y, tuple(min(255, int(v * shade + 40 * (1 - d / r))) for v in c))
                elif d <= r + 0.5:
                    put(x, y, c, r + 0.5 - d)

    tracker = (W // 2, H // 2)
    peers = [(80, 60), (400, 60), (80, 210), (400, 210)]
    colours = [(92, 200, 255), (120, 230, 120), (255, 196, 70), (240, 110, 200)]
    for i, a in enumerate(peers):  # peer-to-peer links
        for b in peers[i + 1:]:
            line(a, b, (90, 110, 150), 1.5)
    for p in peers:  # tracker links
        line(p, tracker, (170, 170, 190), 1.0)
    disc(*tracker, 26, (230, 230, 240))
    for p, c in zip(peers, colours):
        disc(*p, 20, c)
    # Chunks on their way: small squares along the links, coloured by their sender.
    for i, (a, c) in enumerate(zip(peers, colours)):
        b = peers[(i + 1) % 4]
        for k in range(1, 4):
            t = k / 4
            x, y = int(a[0] + (b[0] - a[0]) * t), int(a[1] + (b[1] - a[1]) * t)
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    put(x + dx, y + dy, c)
    return img


def chime(path, rate=16000):
    """Three decaying notes (C6, E6, G6), about 1.5 s, mono 16-bit."""
    notes = [(1046.5, 0.0), (1318.5, 0.25), (1568.0, 0.5)]
    length = int(rate * 1.5)
    frames = bytearray()
    for n in range(length):
        t = n / rate
        v = 0.0
        for freq, start in notes:
            if t >= start:
                u = t - start
                v += math.sin(2 * math.pi * freq * u) * math.exp(-4.0 * u) * 0.3
        frames += struct.pack("<h", int(max(-1.0, min(1.0, v)) * 32767))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


if __name__ == "__main__":
    WWW.mkdir(parents=True, exist_ok=True)
    png(WWW / "network.png", network_picture())
    chime(WWW / "chime.wav")
    for name in ("network.png", "chime.wav"):
        print(f"{WWW / name}: {(WWW / name).stat().st_size} bytes")
