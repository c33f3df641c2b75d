"""Leak check: long encrypt/decrypt loops must keep the process's resident memory flat.

Used by bench/test_bench_memory.py (1M frames per loop), by tests/test_threads_and_buffers.py
(a cheaper 200k-frame run in the normal suite) and by the report.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
from collections.abc import Callable

import framecryptor as fc

from . import frames

__all__ = ["LoopResult", "leak_loops", "rss_bytes"]

WARMUP_FRAMES = 20_000


def rss_bytes() -> int:
    """Current resident set size of this process (Linux: /proc/self/statm)."""
    if not sys.platform.startswith("linux"):
        raise OSError("rss_bytes needs /proc/self/statm (Linux)")
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclasses.dataclass(frozen=True)
class LoopResult:
    name: str
    frames: int
    rss_after_warmup: int
    rss_after: int

    @property
    def growth(self) -> int:
        return self.rss_after - self.rss_after_warmup


def _measure(name: str, n: int, per_call: int, body: Callable[[], object]) -> LoopResult:
    for _ in range(max(1, WARMUP_FRAMES // per_call)):
        body()
    gc.collect()
    before = rss_bytes()
    for _ in range(max(1, n // per_call)):
        body()
    gc.collect()
    return LoopResult(name, n, before, rss_bytes())


def leak_loops(n: int = 1_000_000) -> list[LoopResult]:
    """Runs n frames (after a warm-up) through each API; returns RSS before and after each loop.

    Loops: single encrypt+decrypt (Opus 160 B), encrypt_into/decrypt_into caller buffers,
    batches of 1000 (two threads), and the failure paths (DecryptionError, MissingKeyError)
    whose exceptions must not keep anything alive.
    """
    import numpy as np

    kp = fc.KeyProvider(
        fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF, ratchet_window_size=0)
    )
    kp.set_key("leak", b"leak-check key material")
    sender = fc.FrameCryptor(kp, "leak", "opus")
    receiver = fc.FrameCryptor(kp, "leak", "opus")
    frame = frames.frame("opus", 160)
    wire = sender.encrypt(frame)
    results = []

    def single() -> None:
        receiver.decrypt(sender.encrypt(frame))

    results.append(_measure("encrypt+decrypt", n, 1, single))

    enc_out = np.empty(sender.max_encrypted_size(len(frame)), np.uint8)
    dec_out = np.empty(receiver.max_decrypted_size(len(wire)), np.uint8)
    src = np.frombuffer(frame, np.uint8)

    def into() -> None:
        k = sender.encrypt_into(src, enc_out)
        receiver.decrypt_into(enc_out[:k], dec_out)

    results.append(_measure("encrypt_into+decrypt_into", n, 1, into))

    batch = [frame] * 1000

    def many() -> None:
        receiver.decrypt_many(sender.encrypt_many(batch, threads=2), threads=2)

    results.append(_measure("encrypt_many+decrypt_many", n, len(batch), many))

    tampered = wire[:-20] + bytes([wire[-20] ^ 1]) + wire[-19:]
    unknown_index = wire[:-1] + b"\x07"

    def failures() -> None:
        for bad in (tampered, unknown_index):
            try:
                receiver.decrypt(bad)
            except (fc.DecryptionError, fc.MissingKeyError):
                pass
            else:
                raise AssertionError("a bad frame decrypted")

    # each call decrypts two bad frames; fewer: exceptions cost more than frames
    results.append(_measure("failed decrypts", n // 10, 2, failures))
    return results
