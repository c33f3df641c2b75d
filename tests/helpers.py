"""Test helpers: providers, and plain-Python restatements of livekit-client's parsing
rules (FrameCryptor.ts / naluUtils.ts / utils.ts, livekit-client 2.23.0) used as oracles."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import framecryptor as fc

CODECS = ["opus", "vp8", "vp9", "av1", "h264", "h265"]
ANNEXB = ("h264", "h265")


def make_provider(
    kdf: fc.KeyDerivationFunction = fc.KeyDerivationFunction.HKDF, key: bytes = b"k" * 16, **options: object
) -> fc.KeyProvider:
    """A provider with `key` as alice's key at index 0 (HKDF keeps derivation cheap)."""
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=kdf, **options))  # type: ignore[arg-type]
    kp.set_key("alice", key)
    return kp


def aes_key(kp: fc.KeyProvider, identity: str = "alice", key_index: int = 0) -> bytes:
    """The AES key behind a slot, derived independently of the provider."""
    o = kp.options
    return fc.derive_key_material(
        kp.export_key(identity, key_index),
        salt=o.ratchet_salt,
        kdf=o.key_derivation_function,
        key_size=o.key_size,
    )


# -- livekit-client restatements ------------------------------------------------------


def js_write_rbsp(data: bytes) -> bytes:
    out = bytearray()
    zeros = 0
    for b in data:
        if b <= 3 and zeros >= 2:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def js_parse_rbsp(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        if n - i >= 3 and data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 3:
            out += data[i : i + 2]
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def js_find_nalu_indices(s: bytes) -> list[int] | None:
    """findNALUIndices; None where it throws (leading data)."""
    result: list[int] = []
    start = pos = 0
    search_length = len(s) - 3
    while pos < search_length:
        while pos < search_length:
            if pos < search_length - 1 and s[pos : pos + 4] == b"\x00\x00\x00\x01":
                break
            if s[pos : pos + 3] == b"\x00\x00\x01":
                break
            pos += 1
        if pos >= search_length:
            pos = len(s)
        end = pos
        while end > start and s[end - 1] == 0:
            end -= 1
        if start == 0:
            if end != start:
                return None
        else:
            result.append(start)
        code = 4 if pos < len(s) - 3 and s[pos : pos + 4] == b"\x00\x00\x00\x01" else 3
        start = pos = pos + code
    return result


def js_layout(codec: str, key_frame: bool, frame: bytes) -> tuple[int, bool]:
    """getUnencryptedBytes: (clear header bytes, requiresNALUProcessing)."""
    vp8 = 10 if key_frame else 3
    if codec == "opus":
        return 1, False
    if codec == "vp8":
        return vp8, False
    if codec in ("vp9", "av1"):
        return 0, False
    idx = js_find_nalu_indices(frame)
    if idx is None:
        return vp8, False
    for i in idx:
        if frame[i] & 0x1F in (1, 5):
            return i + 2, True
    for i in idx:
        t = (frame[i] >> 1) & 0x3F
        if t <= 9 or 16 <= t <= 21:
            return i + 2, True
    return vp8, False


def build_frame(
    key: bytes, iv: bytes, header: bytes, body: bytes, key_index: int = 0, escape: bool = False
) -> bytes:
    """A frame assembled from the format description (with `cryptography`, not our code)."""
    tail = AESGCM(key).encrypt(iv, body, header) + iv + bytes([12, key_index])
    return header + (js_write_rbsp(tail) if escape else tail)
