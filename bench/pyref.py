"""A pure-Python implementation of LiveKit's E2EE media frame format, on ``cryptography``.

The benchmarks' baseline: what an application would write without framecryptor.
It follows the wire format in the project docs and livekit-client 2.23.0's
behaviour (sender and receiver), with plain Python and the standard library;
AES-GCM, PBKDF2 and HKDF come from ``cryptography`` (OpenSSL underneath, like
framecryptor). ``tests/test_bench_pyref.py`` checks that it decrypts the real
livekit-client reference vectors and that its frames and framecryptor's decrypt
with each other, so the baseline measures the same work.

Frame layout::

    [clear header: N bytes][AES-GCM ciphertext][16-byte tag][IV: 12 bytes][0x0C][key index]

The clear header is the AAD. N per codec: Opus 1 (TOC byte), VP8 10 on key
frames / 3 on delta frames, VP9 and AV1 0 (AV1: the native SDKs' rule;
livekit-client refuses AV1), H.264/H.265 the offset of the first slice NAL
unit + 2, with everything after the header RBSP-escaped; an H.26x frame
without a slice (or with leading data) falls back to the VP8 rule unescaped.

Deliberately out of scope (framecryptor has them, a baseline does not need
them): the ratchet window, failure accounting, server-injected frames, LKTS
packet trailers.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

__all__ = [
    "CODECS",
    "FRAME_OVERHEAD",
    "IV_LENGTH",
    "DecryptError",
    "PyFrameCryptor",
    "clear_header",
    "derive_key",
    "find_nal_units",
    "needs_rbsp_unescape",
    "normalize_start_codes",
    "ratchet",
    "rbsp_escape",
    "rbsp_unescape",
    "received_plaintext",
]

CODECS = ("opus", "vp8", "vp9", "av1", "h264", "h265")
Kdf = Literal["pbkdf2", "hkdf"]

IV_LENGTH = 12
TAG_LENGTH = 16
FRAME_OVERHEAD = TAG_LENGTH + IV_LENGTH + 2
PBKDF2_ITERATIONS = 100_000
HKDF_INFO = bytes(128)
DEFAULT_SALT = b"LKFrameEncryptionKey"

_VP8_KEY_HEADER = 10
_VP8_DELTA_HEADER = 3


class DecryptError(Exception):
    """The frame could not be decrypted (authentication failed, or it is malformed)."""


# -- keys ---------------------------------------------------------------------------------


def _kdf32(material: bytes, salt: bytes, kdf: Kdf) -> bytes:
    if kdf == "pbkdf2":
        return PBKDF2HMAC(hashes.SHA256(), 32, salt, PBKDF2_ITERATIONS).derive(material)
    if kdf == "hkdf":
        return HKDF(hashes.SHA256(), 32, salt, HKDF_INFO).derive(material)
    raise ValueError(f"unknown kdf {kdf!r}")


def derive_key(material: bytes, salt: bytes = DEFAULT_SALT, kdf: Kdf = "pbkdf2", key_size: int = 16) -> bytes:
    """The AES key LiveKit derives from key material: the KDF's 32-byte output, truncated."""
    if key_size not in (16, 32):
        raise ValueError("key_size must be 16 or 32")
    return _kdf32(material, salt, kdf)[:key_size]


def ratchet(material: bytes, salt: bytes = DEFAULT_SALT, kdf: Kdf = "pbkdf2") -> bytes:
    """The material one ratchet step makes (the same KDF, 32 bytes)."""
    return _kdf32(material, salt, kdf)


# -- H.264 / H.265 byte streams ----------------------------------------------------------

# The regular-expression engine scans these short byte patterns several times
# faster than bytes.find does.
_START_CODE = re.compile(b"\x00\x00\x01")
_SHORT_START_CODE = re.compile(b"(?<!\x00)\x00\x00\x01")
# Two zero bytes followed by a byte <= 3: where an emulation prevention byte goes.
_NEEDS_ESCAPE = re.compile(b"\x00\x00(?=[\x00-\x03])")
_EMULATION = re.compile(b"\x00\x00\x03")


def _nal_units(frame: bytes) -> Iterator[int] | None:
    """Offsets of the NAL unit headers, lazily; None when the frame has leading data."""
    n = len(frame)
    if n <= 3:
        return iter(())  # too short for livekit-client's scan to start
    # The first start code the scan sees (its 01 is not the last byte) decides
    # whether there is leading data: only zero bytes may come before it.
    first = _START_CODE.search(frame, 0, n - 1)
    if first is None:
        return None if frame.count(0) != n else iter(())
    if frame.count(0, 0, first.start()) != first.start():
        return None
    # A unit that starts in the last three bytes is not reported.
    return (m.end() for m in _START_CODE.finditer(frame, first.start(), n - 1) if m.end() <= n - 4)


def find_nal_units(frame: bytes) -> list[int] | None:
    """Offsets of the NAL unit headers of an Annex-B frame (the byte after each start code).

    None when the frame does not begin with a start code (livekit-client throws
    "leading data" there). As in livekit-client's scan, a 4-byte start code is a
    3-byte one after a zero byte, and a unit that starts in the frame's last three
    bytes is not reported.
    """
    units = _nal_units(frame)
    return None if units is None else list(units)


def _is_h265_slice(header: int) -> bool:
    t = (header >> 1) & 0x3F
    return t <= 9 or 16 <= t <= 21


def clear_header(codec: str, frame: bytes, key_frame: bool) -> tuple[int, bool]:
    """(clear header length, RBSP escaping on) of a frame, by livekit-client's sender rules."""
    if codec == "opus":
        return 1, False
    if codec == "vp8":
        return (_VP8_KEY_HEADER if key_frame else _VP8_DELTA_HEADER), False
    if codec in ("vp9", "av1"):
        return 0, False
    if codec not in ("h264", "h265"):
        raise ValueError(f"unknown codec {codec!r}")
    units = _nal_units(frame)
    if units is not None:
        # An H.264 slice anywhere outranks an H.265 one (livekit-client detects the
        # codec from the bytes first), so the scan stops at the first H.264 slice.
        h265 = -1
        for off in units:
            header = frame[off]
            if header & 0x1F in (1, 5):
                return off + 2, True
            if h265 < 0 and _is_h265_slice(header):
                h265 = off
        if h265 >= 0:
            return h265 + 2, True
    return (_VP8_KEY_HEADER if key_frame else _VP8_DELTA_HEADER), False


def normalize_start_codes(header: bytes) -> bytes:
    """3-byte start codes rewritten as 4-byte ones (what the receiving depacketizer delivers)."""
    return _SHORT_START_CODE.sub(b"\x00\x00\x00\x01", header)


def received_plaintext(codec: str, frame: bytes, key_frame: bool) -> bytes:
    """What a receiver decrypts from ``PyFrameCryptor.encrypt(frame, key_frame)``: the frame,
    with 3-byte start codes in an H.26x clear header sent as 4-byte ones."""
    n, escaped = clear_header(codec, frame, key_frame)
    return normalize_start_codes(frame[:n]) + frame[n:] if escaped else frame


def rbsp_escape(data: bytes) -> bytes:
    """Emulation prevention: 0x03 inserted after two zero bytes followed by a byte <= 3."""
    return _NEEDS_ESCAPE.sub(b"\x00\x00\x03", data)


def needs_rbsp_unescape(data: bytes) -> bool:
    """Whether 00 00 03 starts before the last three bytes (livekit-client's test)."""
    return _EMULATION.search(data, 0, len(data) - 1) is not None


def rbsp_unescape(data: bytes) -> bytes:
    """Emulation prevention bytes removed (every 00 00 03 becomes 00 00, left to right)."""
    return _EMULATION.sub(b"\x00\x00", data)


def _receiver_unescape(body: bytes) -> bytes:
    """livekit-client's receiver: unescape only when needs_rbsp_unescape(body), in one pass.

    A 00 00 03 in the last three bytes is always found by the left-to-right scan, so a
    single match there is the one case where the receiver does not unescape.
    """
    unescaped, count = _EMULATION.subn(b"\x00\x00", body)
    if count == 0 or (count == 1 and body.endswith(b"\x00\x00\x03")):
        return body
    return unescaped


# -- frames -------------------------------------------------------------------------------


class PyFrameCryptor:
    """Encrypts and decrypts one codec's frames with one AES key.

    IVs: 8 random bytes per cryptor, then a 32-bit big-endian frame counter (like
    framecryptor's, so the baseline does the same work; livekit-client builds its IV
    from the SSRC, RTP timestamp and a send counter, which a library without RTP
    metadata cannot). Thread-safe.
    """

    def __init__(self, key: bytes, codec: str, key_index: int = 0) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}")
        if not 0 <= key_index <= 255:
            raise ValueError("key_index must be 0..255")
        self._aead = AESGCM(key)
        self.codec = codec
        self.key_index = key_index
        self._trailer = bytes((IV_LENGTH, key_index))
        self._iv_prefix = os.urandom(8)
        self._counter = 0
        self._lock = threading.Lock()
        self._annexb = codec in ("h264", "h265")

    def _next_iv(self) -> bytes:
        with self._lock:
            n = self._counter
            if n >= 1 << 32:
                raise OverflowError("IV space of this key exhausted")
            self._counter = n + 1
        return self._iv_prefix + n.to_bytes(4, "big")

    def encrypt(self, frame: bytes, key_frame: bool = False) -> bytes:
        """The frame on the wire; empty frames pass through."""
        if not frame:
            return frame
        n, escaped = clear_header(self.codec, frame, key_frame)
        if n > len(frame):
            raise ValueError(f"frame of {len(frame)} bytes is shorter than its {n}-byte clear header")
        header = frame[:n]
        if escaped:
            header = normalize_start_codes(header)
        iv = self._next_iv()
        tail = self._aead.encrypt(iv, frame[n:], header) + iv + self._trailer
        return header + (rbsp_escape(tail) if escaped else tail)

    def decrypt(self, frame: bytes, key_frame: bool | None = None) -> bytes:
        """The plaintext of a frame of this cryptor's key; raises DecryptError.

        key_frame=None: VP8's frame tag decides (bit 0 of byte 0 is 0 on key frames); for
        an H.26x frame without a slice, both VP8-rule fallbacks are tried.
        """
        if not frame:
            return frame
        if key_frame is None and self.codec == "vp8":
            key_frame = not frame[0] & 1
        if key_frame is None and self._annexb:
            candidates = [clear_header(self.codec, frame, True), clear_header(self.codec, frame, False)]
            if candidates[0] == candidates[1]:
                del candidates[1]
        else:
            candidates = [clear_header(self.codec, frame, bool(key_frame))]
        for i, (n, escaped) in enumerate(candidates):
            try:
                return self._open(frame, n, escaped)
            except DecryptError:
                if i == len(candidates) - 1:
                    raise
        raise AssertionError("unreachable")

    def _open(self, frame: bytes, n: int, escaped: bool) -> bytes:
        header = frame[:n]
        body = frame[n:]
        if escaped:
            body = _receiver_unescape(body)
        if len(body) < FRAME_OVERHEAD:
            raise DecryptError("frame too short")
        if body[-2] != IV_LENGTH:
            raise DecryptError("bad IV length byte")
        if body[-1] != self.key_index:
            raise DecryptError("frame was encrypted under another key index")
        iv = body[-FRAME_OVERHEAD + TAG_LENGTH : -2]
        try:
            return header + self._aead.decrypt(iv, body[: -IV_LENGTH - 2], header)
        except InvalidTag:
            raise DecryptError("decryption failed") from None
