"""Atheris fuzz target over the Python entry points that take untrusted frames:
FrameCryptor.decrypt / decrypt_frame / decrypt_into, and _native.rbsp_unescape,
find_nal_units, parse_packet_trailer, read_trailer, js_layout, receiver_layouts.

Any exception that is not an E2EEError is a finding, and so is a decrypted frame that
does not open with an independent AES-GCM (`cryptography`), or entry points that disagree.
Not collected by pytest (the file name does not start with test_).

    cpp/fuzz/run.sh --python                        # 60 s, seeded from the vectors
    python tests/fuzz_atheris.py CORPUS_DIR SEED_DIR -max_total_time=3600
    python tests/fuzz_atheris.py CRASH_FILE         # replay one input

Input: [operation][codec][flags][frame]
    operation % 8: 0 decrypt, 1 decrypt_frame, 2 decrypt_into, 3 rbsp_unescape,
                   4 find_nal_units, 5 parse_packet_trailer, 6 read_trailer, 7 layouts
    codec % 6 (opus, vp8, vp9, av1, h264, h265)
    flags: bits 0-1 key_frame (None, False, True, None); bit 2 SIF trailer configured;
           bit 3 LKTS trailer handling on; bits 4-5 buffer type (bytes, bytearray,
           memoryview, numpy); bit 6 a strided view (must be refused); bit 7 ratchet window 2
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import atheris  # type: ignore[import-untyped]
import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

with atheris.instrument_imports():
    import framecryptor as fc
    from framecryptor import _native

CODECS = ["opus", "vp8", "vp9", "av1", "h264", "h265"]
# The raw key of the reference vectors' "raw-k*-r0" frames (HKDF, AES-128), at their key indices.
MATERIAL = bytes.fromhex("521536a2e705d6b346ec4ca9e94811801d4f16ef739ade820d4f8c6029934801")
AES_KEY = bytes.fromhex("bd4e3e345e23ef7a63cc20ddcdbec6e7")
KEY_INDICES = (0, 1, 15)
SIF_TRAILER = bytes.fromhex("4f27253ac674c3b2")
BUFFERS: list[Callable[[bytes], Any]] = [
    bytes,
    bytearray,
    lambda b: memoryview(bytes(b)),
    lambda b: np.frombuffer(bytes(b), dtype=np.uint8),
]


class Finding(AssertionError):
    """An invariant of the entry points does not hold."""


def check(cond: bool, what: str) -> None:
    if not cond:
        raise Finding(what)


def make_cryptor(codec: str, flags: int) -> fc.FrameCryptor:
    """A fresh provider per input: ratchets, failure counts and windows never carry over."""
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(
            key_derivation_function=fc.KeyDerivationFunction.HKDF,
            ratchet_window_size=2 if flags & 0x80 else 0,
            failure_tolerance=-1,
        )
    )
    for i in KEY_INDICES:
        kp.set_key("bob", MATERIAL, key_index=i)
    if flags & 0x04:
        kp.set_sif_trailer(SIF_TRAILER)
    return fc.FrameCryptor(kp, "bob", codec, packet_trailer=bool(flags & 0x08))


def unescape_js(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i : i + 3] == b"\x00\x00\x03":
            out += b"\x00\x00"
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def check_genuine(frame: bytes, info: fc.DecryptedFrame) -> None:
    """A decrypted frame opens with an independent AES-GCM under the vectors' key (or a
    ratchet of it, which only the ratchet window produces: skipped)."""
    if info.kind != "decrypted" or info.ratchet_steps:
        return
    wire = frame
    if info.metadata is not None:
        wire, _ = fc.strip_packet_trailer(frame)
    header, tail = wire[: info.header_len], wire[info.header_len :]
    if info.escaped and any(tail[i : i + 3] == b"\x00\x00\x03" for i in range(len(tail) - 3)):
        tail = unescape_js(tail)
    check(len(tail) >= 30 and tail[-2] == 12, "decrypted frame without a trailer")
    body = AESGCM(AES_KEY).decrypt(tail[-14:-2], tail[:-14], header)  # raises InvalidTag on a forgery
    check(info.data == header + body, "plaintext differs from an independent decryption")


def run_decrypt(op: int, codec: str, flags: int, frame: bytes, buf: Any) -> tuple[str, Any]:
    """("ok", plaintext) or ("error", exception class) of one entry point, on a fresh receiver
    (so no ratchet, failure or window state is shared between the calls)."""
    rx = make_cryptor(codec, flags)
    key_frame = (None, False, True, None)[flags & 3]
    try:
        if op == 0:
            return "ok", rx.decrypt(buf, key_frame=key_frame)
        if op == 1:
            return "ok", rx.decrypt_frame(buf, key_frame=key_frame).data
        target = bytearray(max(rx.max_decrypted_size(len(frame)), len(frame)))
        n = rx.decrypt_into(buf, target, key_frame=key_frame)
        return "ok", bytes(target[:n])
    except fc.E2EEError as e:
        return "error", type(e)


def decrypt_ops(op: int, codec: str, flags: int, frame: bytes, buf: Any) -> None:
    outcome = run_decrypt(op, codec, flags, frame, buf)
    # Every entry point and buffer type reaches the same outcome.
    for other in range(3):
        check(
            run_decrypt(other, codec, flags, frame, frame) == outcome,
            f"entry points {op} and {other} disagree",
        )
    if outcome[0] == "ok":
        key_frame = (None, False, True, None)[flags & 3]
        check_genuine(frame, make_cryptor(codec, flags).decrypt_frame(frame, key_frame=key_frame))


def format_ops(op: int, codec: str, frame: bytes, buf: Any) -> None:
    cid = fc.Codec(codec).native_id
    if op == 3:
        un = _native.rbsp_unescape(buf)
        check(un == unescape_js(frame), "rbsp_unescape differs from livekit-client's rule")
        check(_native.rbsp_unescape(_native.rbsp_escape(buf)) == frame, "escape/unescape round trip")
    elif op == 4:
        units, leading = _native.find_nal_units(buf)
        check(not (leading and units), "units reported with leading data")
        check(all(0 < off < len(frame) and frame[off] == h for off, h in units), "bad unit offsets")
    elif op == 5:
        parsed = _native.parse_packet_trailer(buf)
        if parsed is not None:
            size, ts, fid, ud = parsed
            check(0 <= size <= len(frame) - 5 and frame.endswith(b"LKTS"), "bad packet trailer parse")
            check(ts is not None or fid is not None or ud is not None, "empty packet trailer accepted")
    elif op == 6:
        key_index, iv_len = _native.read_trailer(buf)
        check(len(frame) >= 30 and (key_index, iv_len) == (frame[-1], 12), "bad trailer read")
    else:
        header_len, escaped = _native.js_layout(cid, buf, bool(frame[:1] and frame[0] & 1))
        check(not escaped or header_len < len(frame), "escaped layout past the frame")
        layouts = _native.receiver_layouts(cid, buf)
        check(
            1 <= len(layouts) <= 6 and len(set(map(tuple, layouts))) == len(layouts), "bad receiver layouts"
        )


def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    op, codec, flags = data[0] % 8, CODECS[data[1] % 6], data[2]
    frame = bytes(data[3:])
    buf: Any = BUFFERS[(flags >> 4) & 3](frame)
    if flags & 0x40 and len(frame) >= 2:
        # A strided view of the frame (two or more items: a one-item view counts as
        # contiguous): refused with InvalidBufferError, never read.
        strided = memoryview(frame * 2)[::2]
        try:
            if op <= 2:
                make_cryptor(codec, flags).decrypt(strided)
            else:
                _native.rbsp_unescape(strided)
        except fc.InvalidBufferError:
            return
        raise Finding("strided buffer accepted")
    try:
        if op <= 2:
            decrypt_ops(op, codec, flags, frame, buf)
        else:
            format_ops(op, codec, frame, buf)
    except fc.E2EEError:
        pass  # the documented outcome for bad input


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
