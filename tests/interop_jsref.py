"""Interop check against the real livekit-client 2.23.0 E2EE worker (../shared/tools/jsref).

Not part of the test suite (it needs Node and the jsref tool installed); run by hand:

    d=$(mktemp -d) && cp -r ../shared/tools/jsref "$d" && (cd "$d/jsref" && npm ci)
    python tests/interop_jsref.py --jsref "$d/jsref" --frames 200

For every codec livekit-client supports (opus, vp8, vp9, h264, h265), raw (HKDF) and
passphrase (PBKDF2) keys, AES-128 and AES-256, several key indexes:
  1. frames framecryptor encrypts must decrypt in livekit-client to the same bytes;
  2. frames livekit-client encrypts must decrypt in framecryptor to what livekit-client
     itself decrypts (and, where livekit-client cannot decrypt its own frame, to the
     plaintext).
Exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import framecryptor as fc

import framegen

SIZES = [1, 2, 3, 5, 9, 10, 11, 20, 60, 160, 400, 1200, 5000, 50_000]

#: key type, key (hex or passphrase), key index, key size in bits
COMBOS = [
    ("raw", "8d0c1a2b3c4d5e6f708192a3b4c5d6e7", 0, 128),
    ("passphrase", "interop pässphrase", 1, 128),
    ("raw", "521536a2e705d6b346ec4ca9e94811801d4f16ef739ade820d4f8c6029934801", 15, 128),
    ("passphrase", "aes-256 room", 3, 256),
]


class JsRef:
    def __init__(self, path: str) -> None:
        self.proc = subprocess.Popen(
            ["node", "jsref.mjs"], cwd=path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.n = 0

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        req = {"id": self.n, **req}
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        assert reply.get("id") == self.n, reply
        return reply

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def make_frames(rng: random.Random, codec: str, count: int) -> list[tuple[bytes, bool]]:
    frames = []
    for i in range(count):
        key = rng.random() < 0.3 if codec != "opus" else False
        if codec in ("h264", "h265") and i % 5 == 4:
            frames.append((framegen.tiny_annexb(rng), key))
            continue
        n = SIZES[i % len(SIZES)]
        frames.append((framegen.frame(rng, codec, n, key), key))
    return frames


def frame_type(codec: str, key: bool) -> str:
    return "audio" if codec == "opus" else ("key" if key else "delta")


def run(jsref: str, per_combo: int, seed: int) -> int:
    rng = random.Random(seed)
    ref = JsRef(jsref)
    failures = 0
    checked = {"ours->js": 0, "js->ours": 0, "js-own-failures-we-decrypt": 0, "refused": 0}
    for codec in ["opus", "vp8", "vp9", "h264", "h265"]:
        for key_type, key, key_index, key_bits in COMBOS:
            kdf = fc.KeyDerivationFunction.HKDF if key_type == "raw" else fc.KeyDerivationFunction.PBKDF2
            material = bytes.fromhex(key) if key_type == "raw" else key.encode()
            kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=kdf, key_size=key_bits // 8))
            kp.set_key("alice", material, key_index)
            sender = fc.FrameCryptor(kp, "alice", codec, key_index=key_index)
            receiver = fc.FrameCryptor(kp, "alice", codec)
            common = {
                "key": key,
                "keyType": key_type,
                "keyIndex": key_index,
                "codec": codec,
                "keySize": key_bits,
                "ratchetWindowSize": 0,
                "failureTolerance": -1,
                "participant": "alice",
            }
            frames = make_frames(rng, codec, per_combo)
            # 1. ours -> livekit-client
            ours = []
            for data, key_frame in frames:
                try:
                    ours.append(sender.encrypt(data, key_frame=key_frame))
                except fc.InvalidFrameError:
                    ours.append(None)  # too short for the clear header (livekit-client refuses too)
                    checked["refused"] += 1
            batch = [
                {"data": w.hex(), "frameType": frame_type(codec, k)}
                for w, (_, k) in zip(ours, frames)
                if w is not None
            ]
            reply = ref.call({"op": "decrypt", "ctx": f"dec-{key_bits}", "frames": batch, **common})
            results = iter(reply["results"])
            for w, (data, k) in zip(ours, frames):
                if w is None:
                    continue
                r = next(results)
                expected = receiver.decrypt(w, k if codec != "opus" else None)
                checked["ours->js"] += 1
                if not r["ok"] or bytes.fromhex(r["data"]) != expected:
                    failures += 1
                    print(f"FAIL ours->js {codec} {key_type} k{key_index} len={len(data)}: {r}")
            # 2. livekit-client -> ours
            # One request per frame: a frame livekit-client refuses (too short) throws in
            # its transform and would take the rest of a batch down with it.
            wires = []
            for d, k in frames:
                r = ref.call(
                    {
                        "op": "encrypt",
                        "ctx": f"enc-{key_bits}",
                        "data": d.hex(),
                        "frameType": frame_type(codec, k),
                        **common,
                    }
                )
                wires.append(bytes.fromhex(r["data"]) if r["ok"] else None)
            js_dec = ref.call(
                {
                    "op": "decrypt",
                    "ctx": f"dec-{key_bits}",
                    "frames": [
                        {"data": w.hex(), "frameType": frame_type(codec, k)}
                        for w, (_, k) in zip(wires, frames)
                        if w is not None
                    ],
                    **common,
                }
            )
            dec_iter = iter(js_dec["results"])
            for w, (data, k) in zip(wires, frames):
                if w is None:
                    continue
                js = next(dec_iter)
                try:
                    mine = receiver.decrypt(w, k if codec != "opus" else None)
                except fc.E2EEError as e:
                    mine = None
                    err = e
                checked["js->ours"] += 1
                if js["ok"]:
                    if mine != bytes.fromhex(js["data"]):
                        failures += 1
                        print(f"FAIL js->ours {codec} {key_type} len={len(data)}: {mine!r} vs {js} {err!r}")
                elif mine is not None:
                    checked["js-own-failures-we-decrypt"] += 1
    ref.close()
    print(json.dumps(checked))
    print("FAILURES:", failures)
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsref", required=True, help="directory of an installed jsref tool (npm ci done)")
    ap.add_argument("--frames", type=int, default=100, help="frames per codec and key combination")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    return run(args.jsref, args.frames, args.seed)


if __name__ == "__main__":
    sys.exit(main())
