"""FrameCryptor behaviour: round trips, layouts receivers agree on, states, ratchets, IVs."""

from __future__ import annotations

import random
from typing import Any

import pytest

import framecryptor as fc
from framecryptor import _native

import framegen
from helpers import ANNEXB, CODECS, aes_key, build_frame, js_layout, make_provider

SIZES = [0, 1, 2, 3, 9, 10, 11, 31, 160, 1200, 50_000]


def gen(rng: random.Random, codec: str, n: int, key: bool) -> bytes:
    return framegen.frame(rng, codec, n, key) if n else b""


# -- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("key_size", [16, 32])
@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_every_codec_and_size(codec: str, key_size: int, rng: random.Random) -> None:
    kp = make_provider(key_size=key_size)
    tx = fc.FrameCryptor(kp, "alice", codec)
    rx = fc.FrameCryptor(kp, "alice", codec)
    for n in SIZES:
        for key in (True, False):
            plain = gen(rng, codec, n, key)
            try:
                wire = tx.encrypt(plain, key_frame=key)
            except fc.InvalidFrameError:
                # only frames shorter than their clear header (VP8 / H.26x VP8-rule fallback)
                assert len(plain) < 10 and codec in ("vp8", "h264", "h265")
                continue
            if not plain:
                assert wire == b""
                continue
            assert wire != plain and len(wire) >= len(plain) + 30
            got = rx.decrypt(wire, key if codec != "opus" else None)
            if codec in ANNEXB:
                # 3-byte start codes in the clear header come back as 4-byte ones
                assert got.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01") == plain.replace(
                    b"\x00\x00\x00\x01", b"\x00\x00\x01"
                )
            else:
                assert got == plain
    assert tx.state is fc.EncryptionState.OK and rx.state is fc.EncryptionState.OK


@pytest.mark.parametrize("codec", CODECS)
def test_clear_header_is_plaintext_and_authenticated(
    codec: str, rng: random.Random, kp: fc.KeyProvider
) -> None:
    c = fc.FrameCryptor(kp, "alice", codec)
    plain = framegen.frame(rng, codec, 500, key=True)
    wire = c.encrypt(plain, key_frame=True)
    header_len = c.decrypt_frame(wire, True).header_len
    expected = {"opus": 1, "vp8": 10, "vp9": 0, "av1": 0}.get(codec)
    if expected is not None:
        assert header_len == expected
    else:
        assert header_len == js_layout(codec, True, wire)[0] > 4
    assert wire[:header_len] == plain[:header_len] or codec in ANNEXB
    for pos in range(header_len):  # any header byte changed: authentication fails
        bad = bytearray(wire)
        bad[pos] ^= 0x40
        with pytest.raises(fc.E2EEError):
            fc.FrameCryptor(kp, "alice", codec).decrypt(bytes(bad), True)


def test_output_matches_the_format_description(kp: fc.KeyProvider) -> None:
    """header | AES-GCM(rest, aad=header) | IV | 0x0C | key index, checked with `cryptography`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kp.set_key("alice", b"second key", 5)
    c = fc.FrameCryptor(kp, "alice", "vp8", key_index=5)
    plain = bytes([0xB1]) + bytes(range(200))
    wire = c.encrypt(plain)
    assert wire[:3] == plain[:3]
    assert wire[-2:] == b"\x0c\x05"
    iv = wire[-14:-2]
    assert AESGCM(aes_key(kp, "alice", 5)).decrypt(iv, wire[3:-14], wire[:3]) == plain[3:]


def test_frames_built_by_the_format_description_decrypt(kp: fc.KeyProvider) -> None:
    key = aes_key(kp)
    rx = fc.FrameCryptor(kp, "alice", "h264")
    header = b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x65\x88"
    body = b"\x00\x00\x00\x01\x02" * 40
    wire = build_frame(key, b"\x00\x00\x00\x00\x00\x01\x02\x03\x00\x00\x00\x02", header, body, escape=True)
    assert rx.decrypt(wire) == header + body


def test_native_h26x_frames_without_slice_decrypt(kp: fc.KeyProvider) -> None:
    """Native senders encrypt a slice-less H.264 frame whole (header 0) and escape it."""
    key = aes_key(kp)
    plain = b"\x00\x00\x00\x01\x09\x10\x00\x00\x00\x01\x06\x05\x01\x80" * 3
    wire = build_frame(key, bytes(range(12)), b"", plain, escape=True)
    frame = fc.FrameCryptor(kp, "alice", "h264").decrypt_frame(wire, False)
    assert frame.data == plain and frame.header_len == 0 and frame.escaped


def test_js_tiny_frame_with_fake_slice_in_ciphertext_decrypts(kp: fc.KeyProvider) -> None:
    """livekit-client's sender uses the VP8 rule on a slice-less frame; when the
    ciphertext happens to contain 00 00 01 + slice header, its own receiver fails.
    We find the frame by trying the sender's fallback rule too."""
    key = aes_key(kp)
    plain = b"\x00\x00\x00\x01\x09\x10\x00\x00\x01\x06"  # AUD + SEI: no slice
    for i in range(1000):
        iv = i.to_bytes(12, "big")
        wire = build_frame(key, iv, plain[:3], plain[3:])
        if js_layout("h264", False, wire) != (3, False):
            break  # livekit-client's receiver would mis-parse this one
    else:
        pytest.fail("no mis-parsing IV found")
    assert fc.FrameCryptor(kp, "alice", "h264").decrypt(wire, False) == plain


@pytest.mark.parametrize("codec", ANNEXB)
def test_our_h26x_frames_parse_on_the_receiver_as_built(
    codec: str, rng: random.Random, kp: fc.KeyProvider
) -> None:
    """For every frame we send, livekit-client's receiver rule finds the clear header we used."""
    c = fc.FrameCryptor(kp, "alice", codec)
    checked = 0
    for i in range(3000):
        if i % 3 == 0:
            plain = framegen.tiny_annexb(rng)
        elif i % 3 == 1:
            plain = rng.randbytes(rng.randrange(10, 40))
        else:
            plain = framegen.frame(rng, codec, rng.randrange(10, 300), key=rng.random() < 0.5)
        key = rng.random() < 0.5
        try:
            wire = c.encrypt(plain, key_frame=key)
        except fc.InvalidFrameError:
            continue
        built = c.decrypt_frame(wire, key)
        assert js_layout(codec, key, wire) == (built.header_len, built.escaped)
        checked += 1
    assert checked > 2500


def test_header_longer_than_255_bytes_uses_exact_length(rng: random.Random, kp: fc.KeyProvider) -> None:
    """A large SEI before the IDR: the exact header length (as livekit-client), not mod 256."""
    sei = b"\x00\x00\x00\x01\x06" + framegen.nal_payload(rng, 400)
    plain = sei + b"\x00\x00\x00\x01\x65\x88" + framegen.nal_payload(rng, 1000)
    c = fc.FrameCryptor(kp, "alice", "h264")
    frame = c.decrypt_frame(c.encrypt(plain, key_frame=True))
    assert frame.header_len == len(sei) + 6 > 255
    assert frame.data == plain


def test_three_byte_start_codes_normalized_like_livekit_client(kp: fc.KeyProvider) -> None:
    plain = b"\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x01\x65\x88\x84" + b"\x21" * 50
    c = fc.FrameCryptor(kp, "alice", "h264")
    wire = c.encrypt(plain, key_frame=True)
    assert wire.startswith(b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88")
    assert c.decrypt(wire) == plain.replace(b"\x00\x00\x01", b"\x00\x00\x00\x01")
    raw = fc.FrameCryptor(kp, "alice", "h264", normalize_start_codes=False)
    assert raw.decrypt(raw.encrypt(plain, key_frame=True)) == plain


def test_vp8_key_frame_flag(kp: fc.KeyProvider) -> None:
    key_frame = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]) + bytes(100)
    c = fc.FrameCryptor(kp, "alice", "vp8")
    assert c.decrypt_frame(c.encrypt(key_frame, key_frame=True)).header_len == 10
    # key_frame=None on decrypt reads the frame tag; a wrong sender flag still decrypts
    wrong = c.encrypt(key_frame, key_frame=False)
    assert c.decrypt_frame(wrong).header_len == 3
    assert c.decrypt(wrong) == key_frame


def test_disabled_cryptor_passes_frames_through(kp: fc.KeyProvider) -> None:
    c = fc.FrameCryptor(kp, "alice", "vp8", enabled=False)
    data = bytearray(b"\xb1 plain frame")
    assert c.encrypt(data) == bytes(data) and type(c.encrypt(data)) is bytes
    assert c.decrypt(memoryview(data)) == bytes(data)
    c.set_enabled(True)
    assert c.enabled and c.encrypt(data) != bytes(data)


# -- keys and key indexes -----------------------------------------------------------------


def test_key_index_in_trailer_selects_the_receiver_slot() -> None:
    kp = make_provider()
    for i in (0, 3, 15):
        kp.set_key("alice", f"key {i}".encode(), i)
    rx = fc.FrameCryptor(kp, "alice", "opus")
    for i in (0, 3, 15):
        tx = fc.FrameCryptor(kp, "alice", "opus", key_index=i)
        wire = tx.encrypt(b"\x78 audio")
        assert wire[-1] == i
        assert rx.decrypt_frame(wire).key_index == i
    with pytest.raises(fc.InvalidArgumentError):
        fc.FrameCryptor(kp, "alice", "opus", key_index=16)
    with pytest.raises(fc.MissingKeyError):
        fc.FrameCryptor(kp, "alice", "opus", key_index=7).encrypt(b"\x78 x")


def test_shared_key_and_participant_keys() -> None:
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(shared_key=b"room", key_derivation_function=fc.KeyDerivationFunction.HKDF)
    )
    assert kp.shared_key_mode
    bob = fc.FrameCryptor(kp, "bob", "vp8")
    shared_wire = bob.encrypt(b"\xb1" + bytes(40))
    assert fc.FrameCryptor(kp, "carol", "vp8").decrypt(shared_wire) == b"\xb1" + bytes(40)
    kp.set_key("bob", b"bob's own key")  # the existing cryptor moves to bob's ring
    own_wire = bob.encrypt(b"\xb1" + bytes(40))
    other = fc.KeyProvider(
        fc.KeyProviderOptions(shared_key=b"room", key_derivation_function=fc.KeyDerivationFunction.HKDF)
    )
    with pytest.raises(fc.DecryptionError):
        fc.FrameCryptor(other, "bob", "vp8").decrypt(own_wire)
    other.set_key("bob", b"bob's own key")
    assert fc.FrameCryptor(other, "bob", "vp8").decrypt(own_wire) == b"\xb1" + bytes(40)


def test_auto_ratchet_recovers_several_steps_at_once() -> None:
    sender = make_provider(key=b"initial")
    receiver = make_provider(key=b"initial", ratchet_window_size=16)
    for _ in range(5):
        sender.ratchet_key("alice")
    tx = fc.FrameCryptor(sender, "alice", "vp8")
    rx = fc.FrameCryptor(receiver, "alice", "vp8")
    states: list[fc.EncryptionState] = []
    ratchets: list[Any] = []
    receiver.on("e2ee_state_changed", lambda who, st, c: states.append(st))
    receiver.on("key_ratcheted", lambda *a: ratchets.append(a))
    frame = rx.decrypt_frame(tx.encrypt(b"\xb1" + bytes(30)))
    assert frame.ratchet_steps == 5 and frame.data == b"\xb1" + bytes(30)
    assert receiver.export_key("alice") == sender.export_key("alice")
    assert ratchets == [("alice", 0, fc.key_fingerprint(sender.export_key("alice")))]
    rx.decrypt(tx.encrypt(b"\xb1" + bytes(30)))
    assert states == [fc.EncryptionState.KEY_RATCHETED, fc.EncryptionState.OK]


def test_ratchet_window_limit_and_key_restored() -> None:
    sender = make_provider(key=b"initial")
    receiver = make_provider(key=b"initial", ratchet_window_size=2)
    for _ in range(3):
        sender.ratchet_key("alice")
    rx = fc.FrameCryptor(receiver, "alice", "opus")
    with pytest.raises(fc.DecryptionError):
        rx.decrypt(fc.FrameCryptor(sender, "alice", "opus").encrypt(b"\x78abc"))
    assert receiver.export_key("alice") == b"initial"
    assert rx.state is fc.EncryptionState.DECRYPTION_FAILED


def test_failure_tolerance_invalidates_key_until_reset() -> None:
    receiver = make_provider(key=b"right", failure_tolerance=2, ratchet_window_size=0)
    wrong = fc.FrameCryptor(make_provider(key=b"wrong"), "alice", "opus")
    rx = fc.FrameCryptor(receiver, "alice", "opus")
    for _ in range(3):
        with pytest.raises(fc.DecryptionError):
            rx.decrypt(wrong.encrypt(b"\x78abc"))
    good = fc.FrameCryptor(make_provider(key=b"right"), "alice", "opus").encrypt(b"\x78abc")
    with pytest.raises(fc.MissingKeyError, match="invalidated"):
        rx.decrypt(good)  # dropped without trying
    assert rx.state is fc.EncryptionState.MISSING_KEY
    receiver.set_key("alice", b"right")
    assert rx.decrypt(good) == b"\x78abc" and rx.state is fc.EncryptionState.OK


def test_failures_below_tolerance_reset_on_success() -> None:
    receiver = make_provider(key=b"right", failure_tolerance=1, ratchet_window_size=0)
    wrong = fc.FrameCryptor(make_provider(key=b"wrong"), "alice", "opus")
    good = fc.FrameCryptor(make_provider(key=b"right"), "alice", "opus")
    rx = fc.FrameCryptor(receiver, "alice", "opus")
    for _ in range(5):  # failure, success, failure, ... never two in a row
        with pytest.raises(fc.DecryptionError):
            rx.decrypt(wrong.encrypt(b"\x78a"))
        assert rx.decrypt(good.encrypt(b"\x78b")) == b"\x78b"


def test_state_changes_reported_once_per_change(kp: fc.KeyProvider) -> None:
    c = fc.FrameCryptor(kp, "alice", "opus", key_index=1)
    seen: list[fc.EncryptionState] = []
    c.add_state_listener(lambda cryptor, state: seen.append(state))
    assert c.state is fc.EncryptionState.NEW
    for _ in range(2):
        with pytest.raises(fc.MissingKeyError):
            c.encrypt(b"\x78x")
    kp.set_key("alice", b"one", 1)
    for _ in range(2):
        c.encrypt(b"\x78x")
    assert seen == [fc.EncryptionState.MISSING_KEY, fc.EncryptionState.OK]


# -- IVs ------------------------------------------------------------------------------------


def test_ivs_never_repeat_for_a_key(kp: fc.KeyProvider) -> None:
    c = fc.FrameCryptor(kp, "alice", "opus")
    ivs = {c.encrypt(b"\x78" + bytes(10))[-14:-2] for _ in range(20_000)}
    data_key = kp._handler("alice").ring.get(0)
    ivs |= {data_key.seal(b"x")[0] for _ in range(1000)}  # data packets share the counter
    assert len(ivs) == 21_000


def test_iv_space_exhaustion_fails_closed(kp: fc.KeyProvider) -> None:
    c = fc.FrameCryptor(kp, "alice", "opus")
    key = kp._handler("alice").ring.get(0)
    key._advance_iv_counter_for_testing(fc.AesGcmKey.IV_LIMIT - 1)
    last = c.encrypt(b"\x78 last")
    assert last[-6:-2] == b"\xff\xff\xff\xff"
    with pytest.raises(fc.IvExhaustedError):
        c.encrypt(b"\x78 one too many")
    assert c.state is fc.EncryptionState.ENCRYPTION_FAILED
    with pytest.raises(fc.IvExhaustedError):
        key.seal(b"data packet")
    kp.ratchet_key("alice")  # a new key has a fresh IV space
    assert c.decrypt(c.encrypt(b"\x78 again")) == b"\x78 again"


def test_iv_prefix_differs_between_key_objects() -> None:
    a, b = fc.AesGcmKey(bytes(16)), fc.AesGcmKey(bytes(16))
    assert a.seal(b"x")[0][:8] != b.seal(b"x")[0][:8]
    assert a.fingerprint == b.fingerprint


# -- SIF and packet trailer ---------------------------------------------------------------------


def test_sif_frames_only_for_allow_listed_payloads_of_the_codec(kp: fc.KeyProvider) -> None:
    kp.set_sif_trailer(b"LK-ROCKS")
    opus_silence = b"\xf8\xff\xfe" + bytes(77)
    audio = fc.FrameCryptor(kp, "alice", "opus")
    assert audio.decrypt(opus_silence + b"LK-ROCKS") == opus_silence
    assert audio.decrypt(b"\xff" * 160 + b"LK-ROCKS") == b"\xff" * 160  # PCMU silence (native)
    with pytest.raises(fc.SifFrameDroppedError):  # a video payload on an audio track
        audio.decrypt(bytes.fromhex("6588840af2628000a7be") + b"LK-ROCKS")
    h264 = fc.FrameCryptor(kp, "alice", "h264")
    au = b"".join(
        b"\x00\x00\x00\x01" + bytes.fromhex(x)
        for x in ("6742c01f0fd91f888884000003000400000300c83c60c920", "6887cb83cb20", "6588840af2628000a7be")
    )
    assert h264.decrypt(au + b"LK-ROCKS") == au
    assert h264.state is fc.EncryptionState.NEW  # forwarding is not decryption
    kp.set_sif_trailer(b"")
    with pytest.raises(fc.E2EEError):
        audio.decrypt(opus_silence + b"LK-ROCKS")


def test_packet_trailer_stripped_before_decryption(kp: fc.KeyProvider) -> None:
    tx = fc.FrameCryptor(kp, "alice", "vp8")
    rx = fc.FrameCryptor(kp, "alice", "vp8", packet_trailer=True)
    wire = fc.append_packet_trailer(
        tx.encrypt(b"\xb1" + bytes(50)), user_timestamp=1_744_249_600_123_456, frame_id=42
    )
    assert wire.endswith(b"LKTS")
    frame = rx.decrypt_frame(wire)
    assert frame.data == b"\xb1" + bytes(50)
    assert frame.metadata == fc.FrameMetadata(1_744_249_600_123_456, 42, None)
    assert rx.decrypt(wire) == b"\xb1" + bytes(50)
    with pytest.raises(fc.E2EEError):  # without trailer handling the frame does not parse
        fc.FrameCryptor(kp, "alice", "vp8").decrypt(wire)


# -- into / sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_into_variants_match(codec: str, rng: random.Random, kp: fc.KeyProvider) -> None:
    np = pytest.importorskip("numpy")
    c = fc.FrameCryptor(kp, "alice", codec)
    plain = framegen.frame(rng, codec, 3000, key=True)
    out = np.zeros(c.max_encrypted_size(len(plain)), dtype=np.uint8)
    n = c.encrypt_into(plain, out, key_frame=True)
    wire = out[:n].tobytes()
    back = bytearray(c.max_decrypted_size(n))
    m = c.decrypt_into(out[:n], back, True)
    assert bytes(back[:m]) == c.decrypt(wire, True)
    assert n <= c.max_encrypted_size(len(plain))
    if codec not in ANNEXB:
        assert n == len(plain) + 30 == c.max_encrypted_size(len(plain))


def test_large_frames_round_trip(kp: fc.KeyProvider, rng: random.Random) -> None:
    for codec, plain in (
        ("vp8", framegen.vp8(rng, 4_000_000, True)),
        ("h264", framegen.h264(rng, 4_000_000, True)),
    ):
        c = fc.FrameCryptor(kp, "alice", codec)
        assert c.decrypt(c.encrypt(plain, key_frame=True), True) == plain


def test_native_helpers_match_restated_rules(rng: random.Random) -> None:
    from helpers import js_find_nalu_indices

    for _ in range(2000):
        data = bytes(
            rng.choice([0, 0, 0, 1, 3, 0x65, rng.randrange(256)]) for _ in range(rng.randrange(0, 40))
        )
        units, leading = _native.find_nal_units(data)
        expected = js_find_nalu_indices(data)
        assert leading == (expected is None)
        assert [u for u, _ in units] == (expected or [])
        for codec in ANNEXB:
            for key in (True, False):
                assert _native.js_layout(fc.Codec(codec).native_id, data, key) == js_layout(codec, key, data)


def test_output_size_hint_falls_back_to_the_bound(kp: fc.KeyProvider) -> None:
    """Outputs are allocated at a tight size hint; a frame whose escaping and start-code
    rewriting outgrow it (here 300 short start codes in the clear header) is redone at the
    bound, single and batch alike."""
    sei = b"".join(b"\x00\x00\x01\x06" + bytes([i % 200 + 5]) for i in range(300))
    plain = sei + b"\x00\x00\x01\x65\x88" + bytes(range(1, 250)) * 2
    c = fc.FrameCryptor(kp, "alice", "h264")
    expected = plain.replace(b"\x00\x00\x01", b"\x00\x00\x00\x01")
    wire = c.encrypt(plain, key_frame=True)
    assert len(wire) > len(plain) + 30 + 64 + len(plain) // 64  # beyond the hint
    assert c.decrypt(wire, True) == expected
    batch = c.encrypt_many([plain, b"\x00\x00\x00\x01\x41\x9a" + bytes(100), plain], True)
    assert [c.decrypt(w, True) for w in batch][::2] == [expected, expected]
