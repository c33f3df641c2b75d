"""``framecryptor demo``: encrypt and decrypt real sample frames of every codec."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .. import FrameCryptor, KeyDerivationFunction, KeyProvider, KeyProviderOptions, key_fingerprint
from .._native import rbsp_unescape
from ..samples import sample_frames

PASSPHRASE = "framecryptor demo passphrase"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="encrypt and decrypt sample frames of every codec (offline, seconds)",
        description="Encrypts and decrypts real encoder output (Opus, VP8, VP9, AV1, H.264, H.265) "
        "with a passphrase key, as a LiveKit sender and receiver would, and shows the wire layout.",
    )
    p.add_argument("--passphrase", default=PASSPHRASE, help="key material (UTF-8), default: %(default)r")
    p.set_defaults(func=run)


def hexcut(data: bytes, n: int = 12) -> str:
    return data[:n].hex() + ("…" if len(data) > n else "")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    options = KeyProviderOptions(key_derivation_function=KeyDerivationFunction.PBKDF2)
    sender_keys = KeyProvider(options)
    receiver_keys = KeyProvider(options)
    sender_keys.set_shared_key(args.passphrase)
    receiver_keys.set_shared_key(args.passphrase)
    print(f"key: passphrase (fingerprint {key_fingerprint(args.passphrase)}), PBKDF2-HMAC-SHA256 x100000, AES-128-GCM")
    print()
    print(f"{'codec':6} {'frame':6} {'plain':>6} {'wire':>6} {'clear':>5} {'escaped':8} {'IV':26} {'result'}")
    failures = 0
    example = None
    for s in sample_frames():
        tx = FrameCryptor(sender_keys, "demo-sender", s.codec)
        rx = FrameCryptor(receiver_keys, "demo-sender", s.codec)
        wire = tx.encrypt(s.data, key_frame=s.key_frame)
        got = rx.decrypt_frame(wire, s.key_frame if s.codec.is_video else None)
        ok = got.data == s.data or (
            got.data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01") == s.data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01")
        )
        failures += not ok
        tail = rbsp_unescape(wire[got.header_len :]) if got.escaped else wire[got.header_len :]
        kind = ("key" if s.key_frame else "delta") if s.codec.is_video else "audio"
        print(
            f"{s.codec.value:6} {kind:6} {len(s.data):6} {len(wire):6} {got.header_len:5} "
            f"{'yes' if got.escaped else 'no':8} {tail[-14:-2].hex():26} {'decrypted OK' if ok else 'MISMATCH'}"
        )
        if s.codec.value == "h264" and s.key_frame:
            example = (s, wire, got, tail)
    if example:
        s, wire, got, tail = example
        h = got.header_len
        print()
        print(f"wire layout of the H.264 key frame ({len(wire)} bytes):")
        print(f"  clear header  {h:5} B  {hexcut(wire[:h], 16)}  (SPS, PPS, slice NAL header + 1 byte; AAD)")
        print(f"  ciphertext    {len(tail) - 30:5} B  {hexcut(tail[:-30])}")
        print(f"  tag              16 B  {tail[-30:-14].hex()}")
        print(f"  IV               12 B  {tail[-14:-2].hex()}  (8 random bytes + 32-bit counter)")
        print(f"  IV length         1 B  {tail[-2]:02x}")
        print(f"  key index         1 B  {tail[-1]:02x}")
        print(f"  RBSP escapes  {len(wire) - h - len(tail):5} B  inserted after the clear header")
    print()
    print(f"{len(sample_frames()) - failures}/{len(sample_frames())} frames round-tripped in {time.perf_counter() - t0:.2f} s")
    return 1 if failures else 0
