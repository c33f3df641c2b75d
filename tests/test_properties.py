"""Property tests (hypothesis): round trips for every codec and size class, tampering and
truncation always fail with the documented exception, every buffer type gives the same
result, AES-GCM agrees with `cryptography`, and the format helpers agree with the plain
restatements of livekit-client's rules in helpers.py.

Deterministic (derandomize=True, no example database), so CI cannot flake. Scale up locally
with FRAMECRYPTOR_PROPERTY_EXAMPLES=2000 python -m pytest tests/test_properties.py.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framecryptor as fc
from framecryptor import _native

import framegen
from helpers import ANNEXB, CODECS, aes_key, js_find_nalu_indices, js_layout, js_parse_rbsp, js_write_rbsp

EXAMPLES = int(os.environ.get("FRAMECRYPTOR_PROPERTY_EXAMPLES", "500"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Exhaustive tampering loops over every byte: fewer, smaller examples.
TAMPER = settings(PROPERTY, max_examples=max(10, EXAMPLES // 2))

KEY = b"property-test-key-material"
TAMPER_ERRORS = (fc.DecryptionError, fc.InvalidFrameError, fc.MissingKeyError)


# -- helpers ----------------------------------------------------------------------------


@functools.cache
def provider() -> fc.KeyProvider:
    """alice's key at index 0 only (HKDF: cheap). No ratchet window: a failure is final and
    costs nothing; failure_tolerance -1: failures never invalidate the key."""
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(
            key_derivation_function=fc.KeyDerivationFunction.HKDF, ratchet_window_size=0, failure_tolerance=-1
        )
    )
    kp.set_key("alice", KEY)
    return kp


@functools.cache
def cryptors(
    codec: str, normalize: bool = True, packet_trailer: bool = False
) -> tuple[fc.FrameCryptor, fc.FrameCryptor]:
    """(sender, receiver) for alice's track."""
    kp = provider()
    return (
        fc.FrameCryptor(kp, "alice", codec, normalize_start_codes=normalize),
        fc.FrameCryptor(kp, "alice", codec, normalize_start_codes=normalize, packet_trailer=packet_trailer),
    )


def short_start_codes(data: bytes) -> int:
    return sum(
        1 for i in range(len(data) - 2) if data[i : i + 3] == b"\x00\x00\x01" and (i == 0 or data[i - 1])
    )


def normalize(data: bytes) -> bytes:
    out = bytearray()
    for i, b in enumerate(data):
        if data[i : i + 3] == b"\x00\x00\x01" and (i == 0 or data[i - 1]):
            out.append(0)
        out.append(b)
    return bytes(out)


def clear_header_len(codec: str, key_frame: bool, frame: bytes) -> int:
    return int(_native.js_layout(fc.Codec(codec).native_id, frame, key_frame)[0])


def sender_header_len(frame: bytes, header_len: int, escaped: bool, normalized: bool) -> int:
    """The clear header's length in the sender's frame, from its length on the wire."""
    if not (escaped and normalized):
        return header_len
    return next(h for h in range(len(frame) + 1) if h + short_start_codes(frame[:h]) == header_len)


def expected_plaintext(frame: bytes, header_len: int, escaped: bool, normalized: bool) -> bytes:
    """What the receiver gets back: with an escaped (H.26x slice) layout, the clear header's
    3-byte start codes come back as 4-byte ones."""
    h = sender_header_len(frame, header_len, escaped, normalized)
    return normalize(frame[:h]) + frame[h:] if escaped and normalized else frame


def open_independently(wire: bytes, header_len: int, escaped: bool) -> bytes:
    """Decrypts a wire frame with `cryptography`, parsing it per the format description."""
    header, tail = wire[:header_len], wire[header_len:]
    if escaped:
        tail = js_parse_rbsp(tail)
    assert tail[-2] == 12
    iv, ct = tail[-14:-2], tail[:-14]
    return header + AESGCM(aes_key(provider())).decrypt(iv, ct, header)


def encrypt_or_none(tx: fc.FrameCryptor, frame: bytes, key_frame: bool) -> bytes | None:
    """The wire frame, or None when the frame is legitimately not encryptable."""
    try:
        return tx.encrypt(frame, key_frame=key_frame)
    except fc.InvalidFrameError:
        # shorter than its clear header (fixed rules, or H.26x without a usable slice)
        assert len(frame) < clear_header_len(tx.codec.value, key_frame, frame)
        return None
    except fc.EncryptionError:
        # no IV gave an H.26x frame that receivers parse the way it was built (rare)
        assert tx.codec.value in ANNEXB
        return None


# -- strategies -------------------------------------------------------------------------

ZERO_HEAVY = st.lists(st.sampled_from([0, 0, 0, 0, 1, 2, 3, 0x65, 0x41, 0x26, 0x01, 0xFF]), max_size=96).map(
    bytes
)


@st.composite
def frames(draw: Any, codecs: list[str] = CODECS, max_size: int = 70_000) -> tuple[str, bool, bytes]:
    """(codec, key_frame, frame): sizes 0, just below / at / above the clear header, small
    and large; frames shaped like the codec's bitstream, random bytes, or start-code soup."""
    codec = draw(st.sampled_from(codecs))
    key_frame = draw(st.booleans())
    header = {"opus": 1, "vp8": 10 if key_frame else 3, "vp9": 0, "av1": 0}.get(codec, 10 if key_frame else 3)
    size = draw(
        st.one_of(
            st.sampled_from([0, max(header - 1, 0), header, header + 1]),
            st.integers(1, 300),
            st.integers(4000, max_size) if max_size >= 4000 else st.integers(1, max_size),
        )
    )
    kind = draw(st.sampled_from(["shaped", "random", "soup"]))
    if kind == "soup":
        return codec, key_frame, draw(ZERO_HEAVY)
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    frame = framegen.frame(rng, codec, size, key_frame) if kind == "shaped" else rng.randbytes(size)
    return codec, key_frame, frame


# -- round trips ------------------------------------------------------------------------


@PROPERTY
@given(case=frames(), normalized=st.booleans())
def test_round_trip(case: tuple[str, bool, bytes], normalized: bool) -> None:
    codec, key_frame, frame = case
    tx, rx = cryptors(codec, normalized)
    wire = encrypt_or_none(tx, frame, key_frame)
    if wire is None:
        return
    if not frame:
        assert wire == b""
        assert rx.decrypt(wire) == b""
        return
    assert len(wire) >= len(frame) + _native.FRAME_OVERHEAD
    info = rx.decrypt_frame(wire, key_frame=key_frame)
    assert info.kind == "decrypted" and info.key_index == 0
    expected = expected_plaintext(frame, info.header_len, info.escaped, normalized)
    assert info.data == expected
    assert wire[: info.header_len] == expected[: info.header_len]
    assert rx.decrypt(wire) == expected  # key-frame flag unknown
    assert open_independently(wire, info.header_len, info.escaped) == expected
    if info.escaped:
        assert codec in ANNEXB
        assert (
            b"\x00\x00\x00" not in wire[info.header_len :] and b"\x00\x00\x01" not in wire[info.header_len :]
        )


@PROPERTY
@given(case=frames(max_size=2000))
def test_encryption_never_repeats_an_iv_or_leaks_the_body(case: tuple[str, bool, bytes]) -> None:
    codec, key_frame, frame = case
    tx, rx = cryptors(codec)
    first = encrypt_or_none(tx, frame, key_frame)
    second = encrypt_or_none(tx, frame, key_frame)
    if not first or not second:
        return
    assert first != second  # fresh IV every time
    assert first[-14:-2] != second[-14:-2] or rx.decrypt_frame(first).escaped
    info = rx.decrypt_frame(first)
    body = frame[sender_header_len(frame, info.header_len, info.escaped, True) :]
    if len(body) >= 16:  # what is encrypted never shows (a chance match is 2^-128)
        assert body not in first[info.header_len :] and body not in second[info.header_len :]


# -- tampering --------------------------------------------------------------------------


def assert_documented_failure(rx: fc.FrameCryptor, wire: bytes, pos: int | None = None) -> None:
    """decrypt raises the documented exception for this kind of damage, and returns nothing."""
    with pytest.raises(TAMPER_ERRORS) as info:
        rx.decrypt(wire)
    if pos is not None and pos == len(wire) - 1:
        assert isinstance(info.value, fc.MissingKeyError)  # only index 0 holds a key
    elif pos is not None and pos == len(wire) - 2:
        assert isinstance(info.value, fc.InvalidFrameError)  # IV length byte
    elif pos is not None:
        assert isinstance(info.value, (fc.DecryptionError, fc.InvalidFrameError))
    if isinstance(info.value, fc.DecryptionError):
        assert str(info.value) == "decryption failed"  # opaque


@TAMPER
@given(case=frames(max_size=400), seed=st.integers(0, 2**32 - 1))
def test_any_single_flipped_byte_fails(case: tuple[str, bool, bytes], seed: int) -> None:
    codec, key_frame, frame = case
    tx, rx = cryptors(codec)
    wire = encrypt_or_none(tx, frame, key_frame)
    if not wire:
        return
    rng = random.Random(seed)
    for pos in range(len(wire)):
        bad = bytearray(wire)
        bad[pos] ^= rng.randrange(1, 256)
        assert_documented_failure(rx, bytes(bad), pos)
    assert rx.decrypt(wire) == rx.decrypt_frame(wire).data  # the receiver is unharmed


@TAMPER
@given(case=frames(max_size=400))
def test_any_truncation_fails(case: tuple[str, bool, bytes]) -> None:
    codec, key_frame, frame = case
    tx, rx = cryptors(codec)
    wire = encrypt_or_none(tx, frame, key_frame)
    if not wire:
        return
    for cut in range(1, len(wire)):
        assert_documented_failure(rx, wire[:-cut])
        assert_documented_failure(rx, wire[cut:])
    rx.decrypt(wire)


@PROPERTY
@given(
    data=st.binary(max_size=200),
    codec=st.sampled_from(CODECS),
    key_frame=st.sampled_from([None, False, True]),
)
def test_garbage_fails_cleanly(data: bytes, codec: str, key_frame: bool | None) -> None:
    _, rx = cryptors(codec)
    try:
        out = rx.decrypt_frame(data, key_frame=key_frame)
    except TAMPER_ERRORS:
        return
    # Only an empty frame passes (no SIF trailer is configured, and a forgery cannot authenticate).
    assert data == b"" and out.kind == "empty" and out.data == b""


# -- buffer types -----------------------------------------------------------------------

BUFFERS: dict[str, Callable[[bytes], Any]] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": lambda b: memoryview(bytes(b)),
    "numpy": lambda b: np.frombuffer(bytes(b), dtype=np.uint8).copy(),
}
OUTPUTS: dict[str, Callable[[int], Any]] = {
    "bytearray": bytearray,
    "memoryview": lambda n: memoryview(bytearray(n)),
    "numpy": lambda n: np.zeros(n, dtype=np.uint8),
}


@PROPERTY
@given(case=frames(max_size=5000), flip=st.integers(0, 2**16))
def test_buffer_types_give_identical_results(case: tuple[str, bool, bytes], flip: int) -> None:
    codec, key_frame, frame = case
    tx, rx = cryptors(codec)
    wires = {}
    for name, make in BUFFERS.items():
        wire = encrypt_or_none(tx, make(frame), key_frame)
        if wire is None:
            assert encrypt_or_none(tx, frame, key_frame) is None
            return
        wires[name] = wire
    expected = rx.decrypt(wires["bytes"], key_frame=key_frame)
    for name, make in BUFFERS.items():
        assert rx.decrypt(wires[name], key_frame=key_frame) == expected  # encrypted from any type
        assert rx.decrypt(make(wires["bytes"]), key_frame=key_frame) == expected  # decrypted from any type
        assert rx.decrypt_frame(make(wires["bytes"]), key_frame=key_frame).data == expected
    for make_out in OUTPUTS.values():
        out = make_out(rx.max_decrypted_size(len(wires["bytes"])))
        n = rx.decrypt_into(wires["bytes"], out, key_frame=key_frame)
        assert bytes(memoryview(out)[:n]) == expected
    if not wires["bytes"]:
        return
    # The same damage raises the same exception, with the same message, for every type.
    bad = bytearray(wires["bytes"])
    bad[flip % len(bad)] ^= 0x40
    outcomes = set()
    for make in BUFFERS.values():
        with pytest.raises(fc.E2EEError) as info:
            rx.decrypt(make(bytes(bad)))
        outcomes.add((type(info.value), str(info.value)))
    assert len(outcomes) == 1


def test_strided_and_wrong_buffers_are_refused() -> None:
    tx, rx = cryptors("vp8")
    wire = tx.encrypt(b"\x10" + bytes(range(60)))
    for bad in (memoryview(wire * 2)[::2], np.frombuffer(wire * 2, dtype=np.uint8)[::2], "text", 42, None):
        with pytest.raises(fc.InvalidBufferError):
            rx.decrypt(bad)  # type: ignore[arg-type]
        with pytest.raises(fc.InvalidBufferError):
            tx.encrypt(bad)  # type: ignore[arg-type]


# -- AES-GCM against an independent implementation --------------------------------------


@PROPERTY
@given(
    key=st.sampled_from([16, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    plaintext=st.binary(max_size=300),
    aad=st.binary(max_size=40),
    flip=st.integers(0, 2**16),
)
def test_aes_gcm_matches_cryptography(key: bytes, plaintext: bytes, aad: bytes, flip: int) -> None:
    ours = fc.AesGcmKey(key)
    ref = AESGCM(key)
    iv, sealed = ours.seal(plaintext, aad)
    assert len(iv) == 12 and len(sealed) == len(plaintext) + 16
    assert ref.decrypt(iv, sealed, aad) == plaintext
    assert ref.encrypt(iv, plaintext, aad) == sealed  # same key, IV, AAD: same bytes
    assert ours.open(iv, sealed, aad) == plaintext
    bad = bytearray(sealed)
    bad[flip % len(bad)] ^= 1 << (flip % 8)
    with pytest.raises(fc.DecryptionError):
        ours.open(iv, bytes(bad), aad)
    if aad:
        bad_aad = bytearray(aad)
        bad_aad[flip % len(aad)] ^= 1
        with pytest.raises(fc.DecryptionError):
            ours.open(iv, sealed, bytes(bad_aad))


# -- format helpers against the livekit-client restatements -----------------------------


@PROPERTY
@given(data=st.one_of(ZERO_HEAVY, st.binary(max_size=200)))
def test_rbsp_matches_livekit_client(data: bytes) -> None:
    escaped = _native.rbsp_escape(data)
    assert escaped == js_write_rbsp(data)
    assert _native.rbsp_unescape(escaped) == data
    assert _native.rbsp_unescape(data) == js_parse_rbsp(data)
    needs = any(data[i : i + 3] == b"\x00\x00\x03" for i in range(len(data) - 3))
    assert _native.rbsp_needs_unescape(data) == needs


@PROPERTY
@given(data=ZERO_HEAVY, key_frame=st.booleans())
def test_nal_scan_and_layout_match_livekit_client(data: bytes, key_frame: bool) -> None:
    units, leading = _native.find_nal_units(data)
    ref = js_find_nalu_indices(data)
    assert leading == (ref is None)
    assert [off for off, _ in units] == (ref or [])
    assert all(data[off] == header for off, header in units)
    for codec in CODECS:
        assert tuple(_native.js_layout(fc.Codec(codec).native_id, data, key_frame)) == js_layout(
            codec, key_frame, data
        )


# -- packet trailer ---------------------------------------------------------------------


@PROPERTY
@given(
    frame=st.binary(max_size=100),
    user_timestamp=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
    frame_id=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    user_data=st.one_of(st.none(), st.binary(min_size=1, max_size=200)),
)
def test_packet_trailer_round_trip(
    frame: bytes, user_timestamp: int | None, frame_id: int | None, user_data: bytes | None
) -> None:
    wire = fc.append_packet_trailer(
        frame, user_timestamp=user_timestamp, frame_id=frame_id, user_data=user_data
    )
    stripped, meta = fc.strip_packet_trailer(wire)
    if user_timestamp is None and frame_id is None and user_data is None:
        assert wire == frame
        # a frame that happens to end like a trailer is the caller's data, parsed or not
        return
    assert stripped == frame
    assert meta == fc.FrameMetadata(user_timestamp, frame_id, user_data)


@PROPERTY
@given(
    case=frames(max_size=3000), user_timestamp=st.integers(0, 2**64 - 1), frame_id=st.integers(0, 2**32 - 1)
)
def test_packet_trailer_through_the_cryptor(
    case: tuple[str, bool, bytes], user_timestamp: int, frame_id: int
) -> None:
    codec, key_frame, frame = case
    tx, rx = cryptors(codec, packet_trailer=True)
    wire = encrypt_or_none(tx, frame, key_frame)
    if wire is None:
        return
    out = rx.decrypt_frame(fc.append_packet_trailer(wire, user_timestamp=user_timestamp, frame_id=frame_id))
    assert out.metadata == fc.FrameMetadata(user_timestamp, frame_id, None)
    assert out.data == rx.decrypt(wire)
