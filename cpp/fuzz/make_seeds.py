#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the reference vectors.

    python3 cpp/fuzz/make_seeds.py OUT_DIR            # OUT_DIR/{decrypt,roundtrip,parsers,atheris}/
    python3 cpp/fuzz/make_seeds.py --write-keys       # regenerate cpp/fuzz/vector_keys.inc

Input formats (first bytes of each fuzz input; see the targets):
  decrypt:   [flags][key selector][wire frame]   flags: bits 0-2 codec, bits 3-4 key-frame hint
             (0 unknown, 1 delta, 2 key), bit 5 LKTS trailer handling, bit 6 SIF trailer configured
  roundtrip: [flags][mutation][plaintext]        flags: bits 0-2 codec, bit 3 key frame, bit 4 no
             start-code normalization, bit 5 AES-256, bit 6 append an LKTS trailer
  parsers:   raw bytes
  atheris:   [operation][codec][flags][frame]    (tests/fuzz_atheris.py)

Standard library only, deterministic output (file names are content hashes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VECTORS = ROOT / "tests" / "vectors" / "livekit-client-2.23.0.jsonl"
KEYS_INC = HERE / "vector_keys.inc"
CODECS = {"opus": 0, "vp8": 1, "vp9": 2, "av1": 3, "h264": 4, "h265": 5}
SIF_TRAILER = bytes.fromhex("4f27253ac674c3b2")
# The AES key behind the raw material the atheris target sets at key indices 0, 1 and 15.
ATHERIS_KEY = "bd4e3e345e23ef7a63cc20ddcdbec6e7"


def vectors() -> list[dict]:
    with VECTORS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def vector_keys(vs: list[dict]) -> list[str]:
    """Distinct AES keys of the frame and receiver vectors, in file order."""
    keys: list[str] = []
    for v in vs:
        k = (
            v.get("key")
            if v["vtype"] == "frame"
            else v.get("receiverKey")
            if v["vtype"] == "frame-decrypt"
            else None
        )
        if k and k["aesKey"] not in keys:
            keys.append(k["aesKey"])
    return keys


def read_keys_inc() -> list[str]:
    return re.findall(r'^"([0-9a-f]+)",$', KEYS_INC.read_text(encoding="utf-8"), flags=re.MULTILINE)


def write_keys_inc(keys: list[str]) -> None:
    lines = [
        "// The distinct AES keys of tests/vectors/livekit-client-2.23.0.jsonl (frame and",
        "// frame-decrypt vectors), in file order: fuzz_decrypt.cpp opens real frames with them.",
        "// Regenerate with: python3 cpp/fuzz/make_seeds.py --write-keys",
    ] + [f'"{k}",' for k in keys]
    KEYS_INC.write_text("\n".join(lines) + "\n", encoding="utf-8")


def lkts(timestamp: int, frame_id: int, user_data: bytes = b"") -> bytes:
    """An LKTS packet trailer (built from the format description, not from the core)."""
    tlv = bytes([0x01, 8]) + timestamp.to_bytes(8, "big") + bytes([0x02, 4]) + frame_id.to_bytes(4, "big")
    if user_data:
        tlv += bytes([0x03, len(user_data)]) + user_data
    body = bytes(b ^ 0xFF for b in tlv)
    return body + bytes([(len(body) + 5) ^ 0xFF]) + b"LKTS"


def hint_bits(frame_type: str) -> int:
    return {"delta": 1, "key": 2}.get(frame_type, 0) << 3


def seeds(vs: list[dict], keys: list[str]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {"decrypt": [], "roundtrip": [], "parsers": [], "atheris": []}

    def key_sel(k: dict) -> int:
        if k["aesKey"] not in keys:
            sys.exit(f"{KEYS_INC.name} lacks a vector key: run make_seeds.py --write-keys")
        return keys.index(k["aesKey"])

    for v in vs:
        t = v["vtype"]
        if t == "frame":
            codec = CODECS[v["codec"]]
            plain = bytes.fromhex(v["plaintext"])
            kf = v["frameType"] == "key"
            out["roundtrip"].append(bytes([codec | (8 if kf else 0), 0]) + plain)
            out["parsers"].append(plain)
            if v["ciphertext"] is None:
                continue
            wire = bytes.fromhex(v["ciphertext"])
            sel = key_sel(v["key"])
            out["decrypt"].append(bytes([codec | hint_bits(v["frameType"]), sel]) + wire)
            out["parsers"].append(wire)
            if wire:
                with_lkts = wire + lkts(int(v.get("timestamp") or 0), int(v.get("ssrc") or 0), b"seed")
                out["decrypt"].append(bytes([codec | 0x20, sel]) + with_lkts)
                out["parsers"].append(with_lkts)
            if v["key"]["aesKey"] == ATHERIS_KEY:
                flags = {"delta": 1, "key": 2}.get(v["frameType"], 0)
                for op in range(3):  # decrypt, decrypt_frame, decrypt_into
                    out["atheris"].append(bytes([op, codec, flags]) + wire)
        elif t == "frame-decrypt":
            wire = bytes.fromhex(v["received"])
            codec = CODECS[v["codec"]]
            out["decrypt"].append(
                bytes([codec | hint_bits(v["frameType"]), key_sel(v["receiverKey"])]) + wire
            )
            out["parsers"].append(wire)
            out["atheris"].append(bytes([0, codec, 0]) + wire)
        elif t == "sif":
            wire = bytes.fromhex(v["received"])
            codec = CODECS[v["codec"]]
            out["decrypt"].append(bytes([codec | 0x40, 0]) + wire)
            out["parsers"].append(wire)
            out["atheris"].append(bytes([0, codec, 4]) + wire)  # flag 4: SIF trailer configured
    # Parser-only ops of the atheris target, over a few wire frames.
    for wire in out["parsers"][:40]:
        for op in range(3, 8):
            out["atheris"].append(bytes([op, 4, 0]) + wire)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", type=Path, help="output directory")
    ap.add_argument("--write-keys", action="store_true", help=f"regenerate {KEYS_INC.name}")
    args = ap.parse_args()
    vs = vectors()
    if args.write_keys:
        write_keys_inc(vector_keys(vs))
        return 0
    if args.out is None:
        ap.error("give an output directory (or --write-keys)")
    keys = read_keys_inc()
    counts = {}
    for name, items in seeds(vs, keys).items():
        d = args.out / name
        d.mkdir(parents=True, exist_ok=True)
        unique = {hashlib.sha1(b).hexdigest(): b for b in items}
        for digest, data in unique.items():
            (d / digest).write_bytes(data)
        counts[name] = len(unique)
    print("seeds: " + ", ".join(f"{k} {n}" for k, n in counts.items()) + f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
