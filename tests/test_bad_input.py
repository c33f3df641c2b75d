"""Bad input: a clear exception every time, never a crash, a hang or wrong output, and the
next good frame still decrypts."""

from __future__ import annotations

import mmap
import random

import numpy as np
import pytest

import framecryptor as fc

from helpers import CODECS, make_provider

GOOD_PLAIN = b"\xb1" + bytes(range(120))


@pytest.fixture
def pair(kp: fc.KeyProvider) -> tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]:
    tx = fc.FrameCryptor(kp, "alice", "vp8")
    rx = fc.FrameCryptor(kp, "alice", "vp8")
    return tx, rx, tx.encrypt(GOOD_PLAIN)


def still_works(rx: fc.FrameCryptor, good: bytes) -> None:
    assert rx.decrypt(good) == GOOD_PLAIN


@pytest.mark.parametrize("n", range(1, 30))
def test_frames_shorter_than_the_trailer(
    n: int, pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]
) -> None:
    _, rx, good = pair
    with pytest.raises(fc.InvalidFrameError, match="too short"):
        rx.decrypt(good[:n])
    still_works(rx, good)


def test_every_truncation_of_a_frame_fails(pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]) -> None:
    _, rx, good = pair
    for cut in range(1, len(good)):
        with pytest.raises(fc.E2EEError):
            rx.decrypt(good[:-cut])
        with pytest.raises(fc.E2EEError):
            rx.decrypt(good[cut:])
    still_works(rx, good)


def test_every_single_byte_change_fails(pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]) -> None:
    _, rx, good = pair
    for pos in range(len(good) - 1):  # the key index byte is tested separately
        bad = bytearray(good)
        bad[pos] ^= 0x01
        with pytest.raises((fc.DecryptionError, fc.InvalidFrameError)):
            rx.decrypt(bytes(bad))
    still_works(rx, good)


def test_wrong_iv_length_byte(pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]) -> None:
    _, rx, good = pair
    for value in (0, 11, 13, 255):
        bad = bytearray(good)
        bad[-2] = value
        with pytest.raises(fc.InvalidFrameError, match="IV length"):
            rx.decrypt(bytes(bad))
    still_works(rx, good)


def test_wrong_key_index(pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]) -> None:
    _, rx, good = pair
    for index in (1, 15, 16, 200, 255):  # empty slot, beyond the ring
        bad = bytearray(good)
        bad[-1] = index
        with pytest.raises(fc.MissingKeyError) as info:
            rx.decrypt(bytes(bad))
        assert info.value.key_index == index
    still_works(rx, good)


def test_garbage_frames(pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]) -> None:
    _, rx, good = pair
    rng = random.Random(5)
    for _ in range(2000):
        data = rng.randbytes(rng.randrange(0, 300))
        if rng.random() < 0.5 and len(data) > 2:
            data = data[:-2] + b"\x0c\x00"
        try:
            out = rx.decrypt(data)
        except fc.E2EEError:
            continue
        assert out == data == b""  # only the empty frame "decrypts" (passes through)
    still_works(rx, good)


@pytest.mark.parametrize("codec", CODECS)
def test_garbage_frames_every_codec(codec: str, kp: fc.KeyProvider) -> None:
    rx = fc.FrameCryptor(kp, "alice", codec)
    rng = random.Random(codec)
    for _ in range(500):
        data = bytes(
            rng.choice([0, 0, 1, 3, 0x0C, 0x65, rng.randrange(256)]) for _ in range(rng.randrange(1, 80))
        )
        with pytest.raises(fc.E2EEError):
            rx.decrypt(data)


@pytest.mark.parametrize(
    "value",
    ["a str frame", 123, None, 1.5, ["list"], object()],
    ids=["str", "int", "None", "float", "list", "object"],
)
def test_wrong_types_raise_type_errors(
    value: object, pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]
) -> None:
    tx, rx, good = pair
    for fn in (tx.encrypt, rx.decrypt):
        with pytest.raises(TypeError) as info:
            fn(value)
        assert isinstance(info.value, fc.InvalidBufferError)
    still_works(rx, good)


def test_non_contiguous_buffers_refused(pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]) -> None:
    tx, rx, good = pair
    strided = memoryview(good * 2)[::2]
    arr = np.frombuffer(good * 2, dtype=np.uint8)[::2]
    for value in (strided, arr):
        with pytest.raises(fc.InvalidBufferError, match="contiguous"):
            rx.decrypt(value)
        with pytest.raises(fc.InvalidBufferError, match="contiguous"):
            tx.encrypt(value)
    still_works(rx, good)


def test_every_buffer_type_gives_the_same_result(
    pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes],
) -> None:
    _, rx, good = pair
    for value in (
        good,
        bytearray(good),
        memoryview(good),
        np.frombuffer(good, dtype=np.uint8),
        np.frombuffer(good + b"\x00", dtype=np.uint8)[:-1],
        memoryview(bytearray(b"xx" + good))[2:],
    ):
        assert rx.decrypt(value) == GOOD_PLAIN


def test_output_buffers_checked(pair: tuple[fc.FrameCryptor, fc.FrameCryptor, bytes]) -> None:
    tx, rx, good = pair
    with pytest.raises(fc.InvalidBufferError, match="writable"):
        tx.encrypt_into(GOOD_PLAIN, bytes(500))
    with pytest.raises(fc.InvalidArgumentError, match="needs"):
        tx.encrypt_into(GOOD_PLAIN, bytearray(10))
    with pytest.raises(fc.InvalidArgumentError, match="needs"):
        rx.decrypt_into(good, bytearray(10))
    still_works(rx, good)


def test_oversized_frame_refused_before_reading(kp: fc.KeyProvider) -> None:
    size = fc._native.MAX_FRAME_SIZE + 1
    with mmap.mmap(-1, size) as m:  # untouched anonymous pages: nothing is allocated
        view = memoryview(m)
        with pytest.raises(fc.InvalidArgumentError, match="too large"):
            fc.FrameCryptor(kp, "alice", "vp9").encrypt(view)
        view.release()


def test_unknown_codecs(kp: fc.KeyProvider) -> None:
    for codec in ("mp3", "", "h266", 5, None):
        with pytest.raises(fc.UnsupportedCodecError):
            fc.FrameCryptor(kp, "alice", codec)  # type: ignore[arg-type]
    assert fc.FrameCryptor(kp, "alice", "video/H264").codec is fc.Codec.H264
    assert fc.FrameCryptor(kp, "alice", fc.Codec.AV1).codec is fc.Codec.AV1
    assert issubclass(fc.UnsupportedCodecError, ValueError)


def test_bad_keys_and_options() -> None:
    kp = make_provider()
    for key in (b"", "", None, 12, ["k"]):
        with pytest.raises(fc.InvalidKeyError):
            kp.set_key("alice", key)  # type: ignore[arg-type]
    for index in (-1, 16, 1000):
        with pytest.raises(fc.InvalidArgumentError):
            kp.set_key("alice", b"k", index)
    with pytest.raises(fc.InvalidArgumentError):
        kp.set_key(42, b"k")  # type: ignore[arg-type]
    with pytest.raises(fc.MissingKeyError):
        kp.export_key("nobody")
    with pytest.raises(fc.MissingKeyError):
        kp.ratchet_key("alice", 3)
    for kw in (
        {"key_ring_size": 0},
        {"key_ring_size": 257},
        {"key_size": 24},
        {"ratchet_window_size": -1},
        {"failure_tolerance": -2},
        {"key_derivation_function": 7},
        {"ratchet_salt": 5},
        {"key_ring_size": True},
    ):
        with pytest.raises(fc.InvalidArgumentError):
            fc.KeyProviderOptions(**kw)  # type: ignore[arg-type]
    for key in (b"", bytes(15), bytes(24), "x" * 16):
        with pytest.raises((fc.InvalidKeyError, fc.InvalidBufferError)):
            fc.AesGcmKey(key)


def test_exceptions_carry_no_key_material() -> None:
    secret = "correct horse battery staple"
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(
            shared_key=secret.encode(), key_derivation_function=fc.KeyDerivationFunction.HKDF
        )
    )
    aes = fc.derive_key_material(secret, kdf=fc.KeyDerivationFunction.HKDF)
    rx = fc.FrameCryptor(kp, "alice", "vp8")
    texts = [repr(kp), repr(kp.options), repr(rx), repr(kp._handler(None).ring.get(0)), str(kp.options)]
    wrong = fc.FrameCryptor(make_provider(key=b"other"), "alice", "vp8").encrypt(GOOD_PLAIN)
    for frame in (wrong, wrong[:10], wrong[:-1] + b"\x09"):
        with pytest.raises(fc.E2EEError) as info:
            rx.decrypt(frame)
        texts.append(str(info.value) + repr(info.value))
    for t in texts:
        assert secret not in t and aes.hex() not in t and secret.encode().hex() not in t
    assert fc.key_fingerprint(secret) in repr(kp.options)


def test_authentication_failures_are_one_opaque_error(kp: fc.KeyProvider) -> None:
    rx = fc.FrameCryptor(make_provider(ratchet_window_size=0), "alice", "opus")
    tx = fc.FrameCryptor(kp, "alice", "opus")
    messages = set()
    wire = tx.encrypt(b"\x78" + bytes(40))
    for pos in (0, 5, len(wire) - 20, len(wire) - 5):  # header, ciphertext, tag, IV
        bad = bytearray(wire)
        bad[pos] ^= 1
        with pytest.raises(fc.DecryptionError) as info:
            rx.decrypt(bytes(bad))
        messages.add((type(info.value), str(info.value)))
    assert messages == {(fc.DecryptionError, "decryption failed")}


def test_disabled_cryptor_checks_output_buffers_like_enabled(kp: fc.KeyProvider) -> None:
    for enabled in (True, False):
        c = fc.FrameCryptor(kp, "alice", "vp8", enabled=enabled)
        for out in (5, "text", bytes(500), np.zeros(1000, dtype=np.uint8)[::2]):
            with pytest.raises(fc.InvalidBufferError):
                c.encrypt_into(GOOD_PLAIN, out)
        with pytest.raises(fc.InvalidArgumentError):
            c.encrypt_into(GOOD_PLAIN, bytearray(3))
    out = np.zeros((4, 100), dtype=np.uint8)  # any writable C-contiguous buffer
    n = fc.FrameCryptor(kp, "alice", "vp8", enabled=False).encrypt_into(GOOD_PLAIN, out)
    assert out.tobytes()[:n] == GOOD_PLAIN


@pytest.mark.parametrize(
    "kw",
    [
        {"user_timestamp": -1},
        {"user_timestamp": 2**64},
        {"frame_id": 2**32},
        {"frame_id": True},
        {"user_data": b"x" * 300},
    ],
)
def test_packet_trailer_fields_out_of_range(kw: dict[str, object]) -> None:
    with pytest.raises(fc.InvalidArgumentError):
        fc.append_packet_trailer(b"frame", **kw)  # type: ignore[arg-type]
