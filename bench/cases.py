"""The benchmark cases and the operations measured on them (shared by the pytest-benchmark
files and by the report script).

Every operation processes one list of distinct frames per call, so its cost per frame is
(time per call) / (frames per call), whatever the API:

========== ==============================================================================
impl       what one call does
========== ==============================================================================
single     a Python loop of ``FrameCryptor.encrypt``/``decrypt`` calls, one per frame
batch      one ``encrypt_many``/``decrypt_many`` call with ``threads=1``
batch2     the same with ``threads=2``
pyref      a Python loop over ``bench.pyref.PyFrameCryptor`` (pure Python on ``cryptography``)
limit      ``_native._raw_gcm_loop``: raw AES-128-GCM over the same bytes (clear header as
           AAD, the rest encrypted), one keyed OpenSSL context, hot buffers: the physical limit
           of the libcrypto framecryptor is built on
aesgcm     (reference, not in IMPLS) one ``cryptography`` ``AESGCM.encrypt``/``decrypt`` call
           per frame over the same bytes: AES-GCM of the OpenSSL that ``cryptography`` bundles
limit2     (reference) the limit loop on two threads at once, each doing half the frames:
           what two cores deliver right now (the control for ``batch2``)
========== ==============================================================================

``limit2`` processes LIMIT2_REPEAT times the setup's frames per call (thread start-up would
dominate otherwise): use :meth:`Setup.frames_per_call`.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import framecryptor as fc
from framecryptor import _native

from . import frames, pyref

__all__ = [
    "CODEC_CASES",
    "DIRECTIONS",
    "IMPLS",
    "REFERENCE_IMPLS",
    "SWEEP_SIZES",
    "TARGET_CASES",
    "Case",
    "Setup",
    "setup",
]

IMPLS = ("single", "batch", "batch2", "pyref", "limit")
REFERENCE_IMPLS = ("aesgcm", "limit2")
LIMIT2_REPEAT = 16
DIRECTIONS = ("encrypt", "decrypt")

# Key material of every benchmark cryptor (HKDF: set-up stays cheap; the KDF plays no
# part in the per-frame cost).
MATERIAL = b"framecryptor benchmark key material"
IDENTITY = "bench"

_CODEC_LABELS = {"opus": "Opus", "vp8": "VP8", "vp9": "VP9", "av1": "AV1", "h264": "H.264", "h265": "H.265"}


def _size_label(size: int) -> str:
    if size >= 1000:
        return f"{size / 1000:g} KB"
    return f"{size} B"


@dataclasses.dataclass(frozen=True)
class Case:
    """One kind of frame: codec, size in bytes, key or delta frame."""

    codec: str
    size: int
    key_frame: bool = False

    @property
    def name(self) -> str:
        kind = "" if self.codec == "opus" else ("-key" if self.key_frame else "-delta")
        return f"{self.codec}{kind}-{self.size}"

    @property
    def label(self) -> str:
        kind = "" if self.codec == "opus" else (" key" if self.key_frame else " delta")
        return f"{_CODEC_LABELS[self.codec]}{kind} {_size_label(self.size)}"

    @property
    def batch_frames(self) -> int:
        """Frames per call: about 400 KB per batch, 32..1024 frames."""
        return max(32, min(1024, 400_000 // self.size))


# The cases of the performance targets.
TARGET_CASES = (
    Case("opus", 160),
    Case("vp8", 1200),
    Case("vp8", 50_000, key_frame=True),
    Case("h264", 1200),
    Case("h264", 50_000, key_frame=True),
)

# Every codec at 160 B and 1.2 KB (delta frames) and 50 KB (key frames).
CODEC_CASES = tuple(
    Case(codec, size, key_frame=size >= 50_000 and codec != "opus")
    for codec in pyref.CODECS
    for size in (160, 1200, 50_000)
)

# Frame sizes of the throughput-vs-size plot (VP8 and H.264 delta frames).
SWEEP_SIZES = (64, 160, 400, 1200, 4000, 16_000, 50_000, 200_000)


@dataclasses.dataclass
class Setup:
    """Frames, their encrypted forms and the cryptors of one case, checked to agree."""

    case: Case
    frames: list[bytes]
    wire: list[bytes]  # framecryptor's encryption of frames
    py_wire: list[bytes]  # pyref's encryption of frames
    sender: fc.FrameCryptor
    receiver: fc.FrameCryptor
    py: pyref.PyFrameCryptor
    header_len: int

    @property
    def count(self) -> int:
        return len(self.frames)

    def frames_per_call(self, impl: str) -> int:
        return self.count * LIMIT2_REPEAT if impl == "limit2" else self.count

    @property
    def bytes_per_call(self) -> int:
        return sum(len(f) for f in self.frames)

    def operation(self, impl: str, direction: str) -> Callable[[], object]:
        """A callable that processes every frame of the setup once."""
        kf = self.case.key_frame
        encrypting = direction == "encrypt"
        if direction not in DIRECTIONS:
            raise ValueError(direction)
        if impl == "single":
            fn = self.sender.encrypt if encrypting else self.receiver.decrypt
            items = self.frames if encrypting else self.wire

            def single() -> None:
                for f in items:
                    fn(f, kf)

            return single
        if impl in ("batch", "batch2"):
            threads = 1 if impl == "batch" else 2
            many = self.sender.encrypt_many if encrypting else self.receiver.decrypt_many
            items = self.frames if encrypting else self.wire
            return functools.partial(many, items, kf, threads=threads)
        if impl == "pyref":
            pfn = self.py.encrypt if encrypting else self.py.decrypt
            items = self.frames if encrypting else self.py_wire

            def pure_python() -> None:
                for f in items:
                    pfn(f, kf)

            return pure_python
        if impl == "limit":
            return functools.partial(
                _native._raw_gcm_loop, self.case.size, self.count, not encrypting, self.header_len
            )
        if impl == "limit2":
            total = self.count * LIMIT2_REPEAT
            half = total // 2
            args = (self.case.size, half, not encrypting, self.header_len)
            rest = (self.case.size, total - half, not encrypting, self.header_len)

            def limit_two_threads() -> None:
                t = threading.Thread(target=_native._raw_gcm_loop, args=args)
                t.start()
                _native._raw_gcm_loop(*rest)
                t.join()

            return limit_two_threads
        if impl == "aesgcm":
            aead = AESGCM(pyref.derive_key(MATERIAL, kdf="hkdf"))
            iv = bytes(12)
            h = self.header_len
            pairs = [(f[:h], f[h:]) for f in self.frames]
            if encrypting:

                def aesgcm_encrypt() -> None:
                    for header, body in pairs:
                        aead.encrypt(iv, body, header)

                return aesgcm_encrypt
            sealed = [(header, aead.encrypt(iv, body, header)) for header, body in pairs]

            def aesgcm_decrypt() -> None:
                for header, ct in sealed:
                    aead.decrypt(iv, ct, header)

            return aesgcm_decrypt
        raise ValueError(impl)

    def round_trip(self, impl: str) -> Callable[[], object]:
        """A callable that encrypts and then decrypts every frame of the setup once
        (``single``: framecryptor's per-frame API; ``pyref``: the pure-Python baseline)."""
        kf = self.case.key_frame
        items = self.frames
        enc: Callable[[bytes, bool], bytes]
        dec: Callable[[bytes, bool], bytes]
        if impl == "single":
            enc, dec = self.sender.encrypt, self.receiver.decrypt
        elif impl == "pyref":
            enc, dec = self.py.encrypt, self.py.decrypt
        else:
            raise ValueError(impl)

        def round_trip() -> None:
            for f in items:
                dec(enc(f, kf), kf)

        return round_trip


def setup(case: Case, count: int | None = None) -> Setup:
    """Builds and cross-checks a case: framecryptor and pyref decrypt each other's frames."""
    n = case.batch_frames if count is None else count
    plain = frames.frames(case.codec, case.size, case.key_frame, n)
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF))
    kp.set_key(IDENTITY, MATERIAL)
    sender = fc.FrameCryptor(kp, IDENTITY, case.codec)
    receiver = fc.FrameCryptor(kp, IDENTITY, case.codec)
    py = pyref.PyFrameCryptor(pyref.derive_key(MATERIAL, kdf="hkdf"), case.codec)
    kf = case.key_frame
    wire = [sender.encrypt(f, kf) for f in plain]
    py_wire = [py.encrypt(f, kf) for f in plain]
    for f, w, pw in zip(plain, wire, py_wire):
        expected = pyref.received_plaintext(case.codec, f, kf)
        if receiver.decrypt(w, kf) != expected or py.decrypt(w, kf) != expected:
            raise AssertionError(f"{case.name}: framecryptor frame does not decrypt to the original")
        if receiver.decrypt(pw, kf) != expected or py.decrypt(pw, kf) != expected:
            raise AssertionError(f"{case.name}: pyref frame does not decrypt to the original")
    header_len = pyref.clear_header(case.codec, plain[0], kf)[0]
    return Setup(case, plain, wire, py_wire, sender, receiver, py, header_len)
