"""Synthetic encoded frames with the structure each codec's clear-header rule looks at.

Used by the tests and by tests/interop_jsref.py. Payload bytes are random but
valid where the codec cares (H.26x NAL payloads carry emulation prevention).
"""

from __future__ import annotations

import random

SC4 = b"\x00\x00\x00\x01"
SC3 = b"\x00\x00\x01"


def _rand(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n) if n > 0 else b""


def nal_payload(rng: random.Random, n: int) -> bytes:
    """n random bytes that contain no 00 00 0x (x <= 3) sequence (a valid escaped NAL payload)."""
    out = bytearray()
    zeros = 0
    while len(out) < n:
        b = rng.randrange(256)
        if zeros >= 2 and b <= 3:
            b = rng.randrange(4, 256)
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    # a NAL unit must not end with 00 (it would read as trailing zero padding)
    if out and out[-1] == 0:
        out[-1] = 0x80
    return bytes(out)


def opus(rng: random.Random, n: int) -> bytes:
    return bytes([rng.choice([0x78, 0xF8, 0xFC, 0x48])]) + _rand(rng, n - 1) if n > 0 else b""


def vp8(rng: random.Random, n: int, key: bool) -> bytes:
    if n == 0:
        return b""
    b0 = (rng.randrange(256) & 0xFE) | (0 if key else 1)
    body = bytearray(_rand(rng, n - 1))
    if key and n >= 6:
        body[2:5] = b"\x9d\x01\x2a"  # key frame start code
    return bytes([b0]) + bytes(body)


def random_bytes(rng: random.Random, n: int) -> bytes:
    return _rand(rng, n)


H264_SPS = bytes.fromhex("6742e01f8d8d402802dd806d0a1350")
H264_PPS = bytes.fromhex("68ce3c80")
H264_SEI = bytes.fromhex("06050311223380")
H264_AUD = bytes.fromhex("0910")
H265_VPS = bytes.fromhex("40010c01ffff016000000300900000030000030078959809")
H265_SPS = bytes.fromhex("420101016000000300900000030000030078a00280802d165959a4932bc05a")
H265_PPS = bytes.fromhex("4401c172b46240")
H265_AUD = bytes.fromhex("460150")


def h264(rng: random.Random, n: int, key: bool, *, short_codes: bool = False, sei: bool = False) -> bytes:
    sc = SC3 if short_codes else SC4
    parts = []
    if sei:
        parts += [SC4, H264_AUD]
    if key:
        parts += [sc, H264_SPS, sc, H264_PPS]
    if sei:
        parts += [sc, H264_SEI]
    head = b"".join(parts) + sc + bytes([0x65 if key else rng.choice([0x41, 0x21, 0x01])])
    return head + nal_payload(rng, max(1, n - len(head)))


def h265(rng: random.Random, n: int, key: bool, *, short_codes: bool = False, aud: bool = False) -> bytes:
    sc = SC3 if short_codes else SC4
    parts = []
    if aud:
        parts += [SC4, H265_AUD]
    if key:
        parts += [sc, H265_VPS, sc, H265_SPS, sc, H265_PPS]
        nal = rng.choice([b"\x26\x01", b"\x2a\x01"])  # IDR_W_RADL, CRA
    else:
        nal = rng.choice([b"\x02\x01", b"\x00\x01"])  # TRAIL_R, TRAIL_N
    head = b"".join(parts) + sc + nal
    return head + nal_payload(rng, max(1, n - len(head)))


def tiny_annexb(rng: random.Random) -> bytes:
    """Short H.26x frames where the slice may sit in the last bytes (the hard cases)."""
    nal = rng.choice([0x65, 0x41, 0x01, 0x26, 0x02, 0x09, 0x67])
    sc = rng.choice([SC3, SC4])
    return sc + bytes([nal]) + nal_payload(rng, rng.randrange(0, 6))


def frame(rng: random.Random, codec: str, n: int, key: bool) -> bytes:
    """A frame of about n bytes for codec (exactly n for opus/vp8/vp9/av1)."""
    if codec == "opus":
        return opus(rng, n)
    if codec == "vp8":
        return vp8(rng, n, key)
    if codec in ("vp9", "av1"):
        return random_bytes(rng, n)
    if codec == "h264":
        return h264(rng, n, key, short_codes=rng.random() < 0.2, sei=rng.random() < 0.2)
    if codec == "h265":
        return h265(rng, n, key, short_codes=rng.random() < 0.2, aud=rng.random() < 0.2)
    raise ValueError(codec)
