"""``framecryptor demo``: encrypt and decrypt real sample frames of every codec.

Shows the wire layout of one frame, then hands that frame to ``inspect`` as a receiver
holding the passphrase would, and checks that inspect finds the key and the plaintext.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from .. import FrameCryptor, KeyProvider, KeyProviderOptions, key_fingerprint
from .._native import rbsp_unescape
from ..inspect import KeyCandidate, inspect_frame
from ..samples import sample_frames
from .common import EXIT_ERROR, EXIT_OK
from .inspect import render
from .keys import add_debug_option, add_key_options, key_options

__all__ = ["PASSPHRASE", "register", "run"]

PASSPHRASE = "framecryptor demo passphrase"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="encrypt and decrypt sample frames of every codec (offline, seconds)",
        description="Encrypts and decrypts real encoder output (Opus, VP8, VP9, AV1, H.264, H.265) "
        "with a passphrase key, as a LiveKit sender and receiver would, shows the wire layout of one "
        "frame and round-trips it through 'framecryptor inspect'.",
    )
    p.add_argument(
        "--passphrase",
        default=None,
        help=f"key material (UTF-8), same as --key; default: {PASSPHRASE!r}",
    )
    add_key_options(p)
    add_debug_option(p)
    p.set_defaults(func=run)


def hexcut(data: bytes, n: int = 12) -> str:
    return data[:n].hex() + ("…" if len(data) > n else "")


def _same_modulo_start_codes(a: bytes, b: bytes) -> bool:
    return a == b or a.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01") == b.replace(
        b"\x00\x00\x00\x01", b"\x00\x00\x01"
    )


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    opts = key_options(args)
    if args.passphrase is not None:
        key = KeyCandidate.passphrase(args.passphrase)
    elif opts.keys:
        key = opts.keys[0]
    else:
        key = KeyCandidate.passphrase(PASSPHRASE)
    identity = opts.participant if opts.participant is not None else "demo-sender"
    options = KeyProviderOptions(key_derivation_function=opts.kdf, ratchet_salt=opts.salt)
    sender_keys = KeyProvider(options)
    receiver_keys = KeyProvider(options)
    for kp in (sender_keys, receiver_keys):
        if opts.participant is not None:
            kp.set_key(identity, key.material)
        else:
            kp.set_shared_key(key.material)
    kdf = "PBKDF2-HMAC-SHA256 x100000" if opts.kdf.name == "PBKDF2" else "HKDF-SHA256"
    who = f"participant {identity!r}" if opts.participant is not None else "shared key"
    print(f"key: {key.source} (fingerprint {key_fingerprint(key.material)}), {kdf}, AES-128-GCM, {who}")
    print()
    print(f"{'codec':6} {'frame':6} {'plain':>6} {'wire':>6} {'clear':>5} {'escaped':8} {'IV':26} {'result'}")
    failures = 0
    example = None
    samples = sample_frames()
    for s in samples:
        tx = FrameCryptor(sender_keys, identity, s.codec)
        rx = FrameCryptor(receiver_keys, identity, s.codec)
        wire = tx.encrypt(s.data, key_frame=s.key_frame)
        got = rx.decrypt_frame(wire, s.key_frame if s.codec.is_video else None)
        ok = _same_modulo_start_codes(got.data, s.data)
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

        # The same frame through inspect, as a receiver holding the passphrase: no codec given.
        print()
        print(f"framecryptor inspect <that frame> --key … ({key.fingerprint}) --kdf {opts.kdf.name.lower()}:")
        report = inspect_frame(wire, keys=[key], kdfs=(opts.kdf,), salt=opts.salt)
        print("  " + render(report, candidates=1).replace("\n", "\n  "))
        found = (
            report.match is not None
            and report.match.fingerprint == key.fingerprint
            and report.codec is not None
            and report.codec.value == "h264"
            and _same_modulo_start_codes(report.match.plaintext, s.data)
        )
        print(
            f"inspect {'identified the key and decrypted the frame' if found else 'did NOT identify the key'}"
        )
        failures += not found
    print()
    total = len(samples)
    print(f"{total - min(failures, total)}/{total} frames round-tripped in {time.perf_counter() - t0:.2f} s")
    return EXIT_ERROR if failures else EXIT_OK
