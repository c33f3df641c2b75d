"""Data packets and data-track frames: DataCryptor against livekit-client's reference vectors,
the wire format checked with an independent AES-GCM (cryptography), the key provider's
ratchet window and failure tolerance, and bad input."""

from __future__ import annotations

import base64
import struct
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit.protocol.metrics import MetricsBatch
from livekit.protocol.models import (
    ActiveSpeakerUpdate,
    ChatMessage,
    DataPacket,
    DataStream,
    EncryptedPacket,
    EncryptedPacketPayload,
    Encryption,
    RpcAck,
    RpcRequest,
    RpcResponse,
    SipDTMF,
    SpeakerInfo,
    Transcription,
    UserPacket,
)

import framecryptor as fc
from framecryptor.data import CLEAR_VALUES, ENCRYPTABLE_VALUES

from helpers import aes_key, make_provider
from vectors import h, options_for, original_material, params

GCM = Encryption.Type.GCM
NONE = Encryption.Type.NONE


@pytest.fixture
def dc(kp: fc.KeyProvider) -> fc.DataCryptor:
    return fc.DataCryptor(kp, "alice")


def user_packet(payload: bytes = b"hello", **kw: Any) -> DataPacket:
    return DataPacket(user=UserPacket(payload=payload, topic="chat"), **kw)


# ---------------------------------------------------------------------------
# reference vectors (livekit-client 2.23.0)


def _provider_for(v: dict[str, Any], material: bytes, **options: Any) -> fc.KeyProvider:
    kp = fc.KeyProvider(options_for(v["key"], **options))
    if v["sharedKey"]:
        kp.set_shared_key(material, v["key"]["keyIndex"])
    else:
        kp.set_key(v["participant"], material, v["key"]["keyIndex"])
    return kp


def _encrypted_packet(v: dict[str, Any]) -> EncryptedPacket:
    return EncryptedPacket(iv=h(v["iv"]), key_index=v["keyIndex"], encrypted_value=h(v["encryptedValue"]))


def _check_wire(dc: fc.DataCryptor, v: dict[str, Any]) -> None:
    """The whole wire DataPacket: raw plaintext always; parsed payload where livekit-client parsed one."""
    wire = h(v["wire"])
    packet = DataPacket.FromString(wire)
    assert packet.WhichOneof("value") == "encrypted_packet"
    assert packet.encrypted_packet.encryption_type == NONE  # livekit-client leaves it unset
    assert dc.decrypt_packet(packet.encrypted_packet.SerializeToString(), raw=True) == h(v["plaintext"])
    decoded = v["js"].get("decoded")
    if decoded is None:  # random bytes, not an EncryptedPacketPayload: only raw=True opens them
        with pytest.raises(fc.InvalidPacketError, match="raw=True"):
            dc.decrypt_data_packet(wire)
        return
    out = dc.decrypt_data_packet(wire)
    assert out.WhichOneof("value") == "user"
    assert out.user.payload == base64.b64decode(decoded["user"]["payload"])
    assert out.user.topic == decoded["user"]["topic"]
    assert out.user.participant_identity == decoded["user"]["participantIdentity"]
    assert out.sequence == packet.sequence == 1  # kept as on the wire
    assert out.user == DataPacket.FromString(h(v["plainDataPacket"])).user


@pytest.mark.parametrize("v", params("data"))
def test_vector_with_the_ratcheted_material(v: dict[str, Any]) -> None:
    kp = _provider_for(v, h(v["key"]["materialHex"]))
    dc = fc.DataCryptor(kp, v["participant"])
    assert dc.decrypt_packet(_encrypted_packet(v), raw=True) == h(v["plaintext"])
    _check_wire(dc, v)


@pytest.mark.parametrize("v", params("data"))
def test_vector_from_the_original_key_and_its_ratchets(v: dict[str, Any]) -> None:
    key = v["key"]
    kp = _provider_for(v, original_material(key))
    for _ in range(key["ratchets"]):
        if v["sharedKey"]:
            kp.ratchet_shared_key(key["keyIndex"])
        else:
            kp.ratchet_key(v["participant"], key["keyIndex"])
    dc = fc.DataCryptor(kp, v["participant"])
    assert dc.decrypt_packet(_encrypted_packet(v), raw=True) == h(v["plaintext"])
    _check_wire(dc, v)


@pytest.mark.parametrize("v", params("data"))
def test_vector_with_the_unratcheted_key_and_the_ratchet_window(v: dict[str, Any]) -> None:
    """livekit-client's DataCryptor cannot do this (js.decryptWithUnratchetedKeyRatchetWindow8 fails)."""
    key = v["key"]
    kp = _provider_for(v, original_material(key), ratchet_window_size=4)
    events: list[Any] = []
    kp.on("key_ratcheted", lambda *a: events.append(a))
    dc = fc.DataCryptor(kp, v["participant"])
    assert dc.decrypt_packet(_encrypted_packet(v), raw=True) == h(v["plaintext"])
    exported = (
        kp.export_shared_key(key["keyIndex"])
        if v["sharedKey"]
        else kp.export_key(v["participant"], key["keyIndex"])
    )
    assert exported == h(key["materialHex"])  # the slot moved to the sender's key
    assert len(events) == (1 if key["ratchets"] else 0)
    _check_wire(dc, v)


@pytest.mark.parametrize("v", params("data", lambda v: v["key"]["ratchets"] > 0))
def test_vector_beyond_a_short_ratchet_window_fails(v: dict[str, Any]) -> None:
    key = v["key"]
    kp = _provider_for(v, original_material(key), ratchet_window_size=key["ratchets"] - 1)
    with pytest.raises(fc.DecryptionError, match="^decryption failed$") as e:
        fc.DataCryptor(kp, v["participant"]).decrypt_packet(_encrypted_packet(v), raw=True)
    assert e.value.key_index == key["keyIndex"]


@pytest.mark.parametrize("v", params("data", lambda v: "userpacket" in v["id"]))
def test_our_payload_bytes_equal_livekit_clients(v: dict[str, Any]) -> None:
    """Encrypting livekit-client's plain DataPacket encrypts exactly the bytes it encrypts."""
    kp = _provider_for(v, h(v["key"]["materialHex"]))
    dc = fc.DataCryptor(kp, v["participant"])
    plain = DataPacket.FromString(h(v["plainDataPacket"]))
    out = dc.encrypt_data_packet(plain)
    ep = out.encrypted_packet
    key = h(v["key"]["aesKey"])
    assert AESGCM(key).decrypt(ep.iv, ep.encrypted_value, None) == h(v["plaintext"])
    assert ep.key_index == v["keyIndex"]


# ---------------------------------------------------------------------------
# our packets: format, checked with cryptography's AES-GCM


def _every_encryptable_value() -> list[DataPacket]:
    return [
        DataPacket(user=UserPacket(payload=b"\x00\x01binary", topic="t", destination_identities=["x"])),
        DataPacket(chat_message=ChatMessage(id="m1", timestamp=5, message="hi ✓")),
        DataPacket(
            rpc_request=RpcRequest(id="r1", method="m", payload="{}", response_timeout_ms=1000, version=1)
        ),
        DataPacket(rpc_ack=RpcAck(request_id="r1")),
        DataPacket(rpc_response=RpcResponse(request_id="r1", payload="ok")),
        DataPacket(stream_header=DataStream.Header(stream_id="s", topic="t", mime_type="text/plain")),
        DataPacket(stream_chunk=DataStream.Chunk(stream_id="s", chunk_index=3, content=b"abc")),
        DataPacket(stream_trailer=DataStream.Trailer(stream_id="s", reason="")),
    ]


def test_every_payload_kind_is_covered() -> None:
    assert {p.WhichOneof("value") for p in _every_encryptable_value()} == set(ENCRYPTABLE_VALUES)
    assert set(ENCRYPTABLE_VALUES) == {
        "user", "chat_message", "rpc_request", "rpc_ack", "rpc_response",
        "stream_header", "stream_chunk", "stream_trailer",
    }  # fmt: skip


@pytest.mark.parametrize("packet", _every_encryptable_value(), ids=lambda p: p.WhichOneof("value"))
def test_encrypt_data_packet_format(packet: DataPacket, kp: fc.KeyProvider, dc: fc.DataCryptor) -> None:
    packet.participant_identity = "alice"
    packet.participant_sid = "PA_1"
    packet.destination_identities.extend(["bob", "carol"])
    packet.sequence = 42
    packet.kind = DataPacket.Kind.LOSSY
    before = packet.SerializeToString()
    out = dc.encrypt_data_packet(packet)
    assert packet.SerializeToString() == before  # the caller's packet is not modified
    which = packet.WhichOneof("value")
    assert out.WhichOneof("value") == "encrypted_packet"
    ep = out.encrypted_packet
    assert ep.encryption_type == GCM and len(ep.iv) == 12 and ep.key_index == 0
    assert (
        len(ep.encrypted_value)
        == len(EncryptedPacketPayload(**{which: getattr(packet, which)}).SerializeToString()) + 16
    )
    # Everything outside the value stays in clear, as it was.
    assert (out.participant_identity, out.participant_sid, list(out.destination_identities), out.sequence, out.kind) == (
        "alice", "PA_1", ["bob", "carol"], 42, DataPacket.Kind.LOSSY,
    )  # fmt: skip
    # The plaintext is the EncryptedPacketPayload (its own field numbers), no AAD.
    plaintext = AESGCM(aes_key(kp)).decrypt(ep.iv, ep.encrypted_value, None)
    field_number = EncryptedPacketPayload.DESCRIPTOR.fields_by_name[which].number
    assert plaintext[0] == (field_number << 3) | 2
    payload = EncryptedPacketPayload.FromString(plaintext)
    assert getattr(payload, which) == getattr(packet, which)
    # And back.
    assert dc.decrypt_data_packet(out) == packet
    assert dc.decrypt_data_packet(out.SerializeToString()) == packet


@pytest.mark.parametrize(
    "packet",
    [
        DataPacket(speaker=ActiveSpeakerUpdate(speakers=[SpeakerInfo(sid="PA", level=0.5, active=True)])),
        DataPacket(sip_dtmf=SipDTMF(code=1, digit="1")),
        DataPacket(transcription=Transcription(transcribed_participant_identity="bob", track_id="TR")),
        DataPacket(metrics=MetricsBatch(timestamp_ms=1)),
    ],
    ids=lambda p: p.WhichOneof("value"),
)
def test_clear_values_pass_through(packet: DataPacket, dc: fc.DataCryptor) -> None:
    assert packet.WhichOneof("value") in CLEAR_VALUES
    packet.sequence = 9
    assert dc.encrypt_data_packet(packet) == packet
    assert dc.decrypt_data_packet(packet) == packet
    assert dc.decrypt_data_packet(packet.SerializeToString()) == packet


def test_encrypt_payload_and_raw_bytes(kp: fc.KeyProvider, dc: fc.DataCryptor) -> None:
    payload = EncryptedPacketPayload(user=UserPacket(payload=b"x"))
    ep = dc.encrypt_payload(payload)
    assert dc.decrypt_packet(ep) == payload
    assert dc.decrypt_packet(ep.SerializeToString()) == payload
    for raw in (b"", b"\x00" * 100, bytearray(b"abc"), memoryview(b"defg")):
        ep = dc.encrypt_payload(raw)
        assert AESGCM(aes_key(kp)).decrypt(ep.iv, ep.encrypted_value, None) == bytes(raw)
        assert dc.decrypt_packet(ep, raw=True) == bytes(raw)


def test_ivs_never_repeat_and_are_shared_with_media(kp: fc.KeyProvider, dc: fc.DataCryptor) -> None:
    frames = fc.FrameCryptor(kp, "alice", "vp8")
    ivs = set()
    for i in range(300):
        ivs.add(dc.encrypt_payload(b"p").iv)
        wire = frames.encrypt(bytes(20), key_frame=True)
        ivs.add(wire[-14:-2])
    assert len(ivs) == 600
    key = kp._handler("alice").ring.get(0)
    assert key is not None and key.ivs_issued == 600


def test_threads_get_distinct_ivs(kp: fc.KeyProvider, dc: fc.DataCryptor) -> None:
    results: list[list[EncryptedPacket]] = [[] for _ in range(4)]

    def work(out: list[EncryptedPacket]) -> None:
        for i in range(200):
            out.append(dc.encrypt_payload(i.to_bytes(2, "big")))

    threads = [threading.Thread(target=work, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_packets = [p for r in results for p in r]
    assert len({p.iv for p in all_packets}) == 800
    for r in results:
        assert [dc.decrypt_packet(p, raw=True) for p in r] == [i.to_bytes(2, "big") for i in range(200)]


def test_sender_uses_its_latest_key_index(kp: fc.KeyProvider, dc: fc.DataCryptor) -> None:
    kp.set_key("alice", b"second key", 3)
    assert dc.encrypt_payload(b"x").key_index == 3
    kp.ratchet_key("alice", 0)
    ep = dc.encrypt_payload(b"x")
    assert ep.key_index == 0
    assert AESGCM(aes_key(kp, "alice", 0)).decrypt(ep.iv, ep.encrypted_value, None) == b"x"


def test_shared_key_mode_and_identity_selection() -> None:
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF))
    kp.set_shared_key(b"room key", 1)
    kp.set_key("bob", b"bob's own key")
    alice = fc.DataCryptor(kp, "alice")
    bob = fc.DataCryptor(kp, "bob")
    from_alice = alice.encrypt_data_packet(user_packet(participant_identity="alice"))
    from_bob = bob.encrypt_data_packet(user_packet(b"b", participant_identity="bob"))
    assert from_alice.encrypted_packet.key_index == 1 and from_bob.encrypted_packet.key_index == 0
    # One receiver opens both: the packet's participant_identity picks the key.
    rx = fc.DataCryptor(kp, "me")
    assert rx.decrypt_data_packet(from_alice).user.payload == b"hello"
    assert rx.decrypt_data_packet(from_bob).user.payload == b"b"
    # An explicit identity wins over the packet's (alice -> the shared ring: nothing at index 0).
    with pytest.raises(fc.MissingKeyError, match="for 'alice'"):
        rx.decrypt_data_packet(from_bob, participant_identity="alice")
    # Without an identity on the packet, the cryptor's own is used.
    from_bob.participant_identity = ""
    assert bob.decrypt_data_packet(from_bob).user.payload == b"b"
    with pytest.raises(fc.MissingKeyError):
        rx.decrypt_data_packet(from_bob)  # "me" -> shared ring, which has nothing at index 0


def test_ratchet_window_recovers_several_steps_in_one_go() -> None:
    sender_kp = make_provider(ratchet_window_size=8)
    for _ in range(3):
        sender_kp.ratchet_key("alice", 0)
    ep = fc.DataCryptor(sender_kp, "alice").encrypt_payload(b"ahead")
    rx_kp = make_provider(ratchet_window_size=8)
    ops: list[fc.KeyOperation] = []
    rx_kp.add_key_observer(ops.append)
    assert fc.DataCryptor(rx_kp, "alice").decrypt_packet(ep, raw=True) == b"ahead"
    assert rx_kp.export_key("alice", 0) == sender_kp.export_key("alice", 0)
    assert [(o.op, o.steps) for o in ops] == [("auto_ratchet", 3)]
    no_window = make_provider(ratchet_window_size=0)
    with pytest.raises(fc.DecryptionError):
        fc.DataCryptor(no_window, "alice").decrypt_packet(ep, raw=True)


def test_failure_tolerance_invalidates_the_key_until_a_new_one() -> None:
    kp = make_provider(failure_tolerance=2, ratchet_window_size=0)
    dc = fc.DataCryptor(kp, "alice")
    good = dc.encrypt_payload(b"good")
    forged = fc.DataCryptor(make_provider(key=b"other key"), "alice").encrypt_payload(b"x")
    for _ in range(3):
        with pytest.raises(fc.DecryptionError):
            dc.decrypt_packet(forged, raw=True)
    with pytest.raises(fc.MissingKeyError, match="invalidated") as e:
        dc.decrypt_packet(good, raw=True)
    assert e.value.key_index == 0
    kp.set_key("alice", b"k" * 16)
    assert dc.decrypt_packet(good, raw=True) == b"good"


def test_a_success_resets_the_failure_count() -> None:
    kp = make_provider(failure_tolerance=1, ratchet_window_size=0)
    dc = fc.DataCryptor(kp, "alice")
    forged = fc.DataCryptor(make_provider(key=b"other key"), "alice").encrypt_payload(b"x")
    good = dc.encrypt_payload(b"good")
    for _ in range(5):
        with pytest.raises(fc.DecryptionError):
            dc.decrypt_packet(forged, raw=True)
        assert dc.decrypt_packet(good, raw=True) == b"good"


def test_aes_256() -> None:
    kp = make_provider(key_size=32)
    dc = fc.DataCryptor(kp, "alice")
    ep = dc.encrypt_payload(b"256")
    assert len(aes_key(kp)) == 32
    assert AESGCM(aes_key(kp)).decrypt(ep.iv, ep.encrypted_value, None) == b"256"


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=3000), flip=st.integers(min_value=0))
def test_round_trip_and_any_flipped_byte_fails(payload: bytes, flip: int) -> None:
    kp = make_provider(ratchet_window_size=0)
    dc = fc.DataCryptor(kp, "alice")
    ep = dc.encrypt_payload(payload)
    assert dc.decrypt_packet(ep, raw=True) == payload
    bad = bytearray(ep.encrypted_value)
    bad[flip % len(bad)] ^= 1 << (flip % 8)
    with pytest.raises(fc.DecryptionError, match="^decryption failed$"):
        dc.decrypt_packet(EncryptedPacket(iv=ep.iv, key_index=0, encrypted_value=bytes(bad)), raw=True)
    bad_iv = bytearray(ep.iv)
    bad_iv[flip % 12] ^= 1
    with pytest.raises(fc.DecryptionError):
        dc.decrypt_packet(
            EncryptedPacket(iv=bytes(bad_iv), key_index=0, encrypted_value=ep.encrypted_value), raw=True
        )


# ---------------------------------------------------------------------------
# bad input: clear exceptions, nothing half-decoded


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=200))
def test_garbage_bytes_raise_cleanly(garbage: bytes) -> None:
    dc = fc.DataCryptor(make_provider(ratchet_window_size=0), "alice")
    for call in (dc.decrypt_data_packet, lambda b: dc.decrypt_packet(b, raw=True), dc.encrypt_data_packet):
        try:
            out = call(garbage)
        except (fc.InvalidPacketError, fc.MissingKeyError, fc.DecryptionError):
            continue
        # Garbage can only "succeed" where it happens to be a clear packet that passes through.
        assert isinstance(out, DataPacket) and out.WhichOneof("value") in CLEAR_VALUES


def test_packet_without_encrypted_packet(dc: fc.DataCryptor) -> None:
    with pytest.raises(fc.InvalidPacketError, match="no encrypted_packet.*'user'"):
        dc.decrypt_data_packet(user_packet())
    with pytest.raises(fc.InvalidPacketError, match="no encrypted_packet.*no value"):
        dc.decrypt_data_packet(DataPacket(sequence=3))
    with pytest.raises(fc.InvalidPacketError, match="no encrypted_packet"):
        dc.decrypt_data_packet(b"")


def test_wrong_or_missing_key_index(dc: fc.DataCryptor) -> None:
    ep = dc.encrypt_payload(b"x")
    for index, match in ((5, "no key at index 5"), (16, "beyond the key ring"), (2**32 - 1, "beyond")):
        with pytest.raises(fc.MissingKeyError, match=match) as e:
            dc.decrypt_packet(EncryptedPacket(iv=ep.iv, key_index=index, encrypted_value=ep.encrypted_value))
        assert e.value.key_index == index


def test_truncated_or_oversized_iv(dc: fc.DataCryptor) -> None:
    ep = dc.encrypt_payload(b"x")
    for iv in (b"", ep.iv[:11], ep.iv[:1], ep.iv + b"\x00"):
        with pytest.raises(fc.InvalidPacketError, match="iv must be 12 bytes"):
            dc.decrypt_packet(EncryptedPacket(iv=iv, key_index=0, encrypted_value=ep.encrypted_value))


def test_truncated_ciphertext(dc: fc.DataCryptor) -> None:
    ep = dc.encrypt_payload(b"x")
    for n in range(16):
        with pytest.raises(fc.InvalidPacketError, match="shorter than the 16-byte tag"):
            dc.decrypt_packet(EncryptedPacket(iv=ep.iv, key_index=0, encrypted_value=ep.encrypted_value[:n]))
    with pytest.raises(fc.DecryptionError):
        dc.decrypt_packet(EncryptedPacket(iv=ep.iv, key_index=0, encrypted_value=ep.encrypted_value[:-1]))


def test_tampered_packet_leaves_the_input_untouched(dc: fc.DataCryptor) -> None:
    wire = dc.encrypt_data_packet(user_packet(participant_identity="alice"))
    value = bytearray(wire.encrypted_packet.encrypted_value)
    value[3] ^= 0x80
    wire.encrypted_packet.encrypted_value = bytes(value)
    before = wire.SerializeToString()
    with pytest.raises(fc.DecryptionError, match="^decryption failed$"):
        dc.decrypt_data_packet(wire)
    assert wire.SerializeToString() == before


def test_wrong_key(dc: fc.DataCryptor) -> None:
    other = fc.DataCryptor(make_provider(key=b"not the key", ratchet_window_size=2), "alice")
    with pytest.raises(fc.DecryptionError, match="^decryption failed$"):
        other.decrypt_data_packet(dc.encrypt_data_packet(user_packet()))


def test_encrypting_twice_is_refused(dc: fc.DataCryptor) -> None:
    once = dc.encrypt_data_packet(user_packet())
    with pytest.raises(fc.InvalidPacketError, match="already encrypted"):
        dc.encrypt_data_packet(once)
    with pytest.raises(fc.InvalidPacketError, match="no value"):
        dc.encrypt_data_packet(DataPacket())
    with pytest.raises(fc.InvalidArgumentError, match="no value"):
        dc.encrypt_payload(EncryptedPacketPayload())


def test_unsupported_encryption_types(dc: fc.DataCryptor) -> None:
    ep = dc.encrypt_payload(b"x")
    etypes: list[tuple[Any, str]] = [(Encryption.Type.CUSTOM, "CUSTOM"), (7, "7")]
    for etype, match in etypes:
        bad = EncryptedPacket(
            iv=ep.iv, key_index=0, encrypted_value=ep.encrypted_value, encryption_type=etype
        )
        with pytest.raises(fc.InvalidPacketError, match=f"unsupported encryption_type {match}"):
            dc.decrypt_packet(bad, raw=True)
    # NONE with encrypted_packet is what livekit-client sends: accepted.
    none = EncryptedPacket(iv=ep.iv, key_index=0, encrypted_value=ep.encrypted_value, encryption_type=NONE)
    assert dc.decrypt_packet(none, raw=True) == b"x"


def test_decrypted_bytes_that_are_not_a_payload(dc: fc.DataCryptor) -> None:
    for plaintext in (b"\xff\xff\xff", EncryptedPacketPayload().SerializeToString(), b"\xf8\x01\x05"):
        ep = dc.encrypt_payload(plaintext)
        with pytest.raises(fc.InvalidPacketError, match="raw=True"):
            dc.decrypt_packet(ep)
        assert dc.decrypt_packet(ep, raw=True) == plaintext


def test_no_key_to_encrypt_with() -> None:
    dc = fc.DataCryptor(fc.KeyProvider(), "alice")
    with pytest.raises(fc.MissingKeyError, match="no key at index 0") as e:
        dc.encrypt_data_packet(user_packet())
    assert e.value.key_index == 0


def test_wrong_argument_types(dc: fc.DataCryptor, kp: fc.KeyProvider) -> None:
    with pytest.raises(fc.InvalidBufferError):
        dc.decrypt_data_packet("not bytes")  # type: ignore[arg-type]
    with pytest.raises(fc.InvalidBufferError):
        dc.encrypt_payload("text")  # type: ignore[arg-type]
    with pytest.raises(fc.InvalidBufferError):
        dc.decrypt_packet(12)  # type: ignore[call-overload]
    with pytest.raises(fc.InvalidArgumentError):
        fc.DataCryptor("kp", "alice")  # type: ignore[arg-type]
    with pytest.raises(fc.InvalidArgumentError):
        fc.DataCryptor(kp, None)  # type: ignore[arg-type]
    with pytest.raises(fc.InvalidArgumentError):
        dc.decrypt_bytes(b"\x00" * 16, b"\x00" * 12, -1)


def test_no_key_material_in_reprs_or_errors(dc: fc.DataCryptor) -> None:
    assert "alice" in repr(dc) and "6b6b" not in repr(dc)
    ext = dc.encrypt_data_track_frame(b"x").extension
    assert repr(ext).startswith("DataTrackE2eeExtension(key_index=0, iv=")


# ---------------------------------------------------------------------------
# data tracks

#: Data-track packets serialized by livekit-client 2.23.0's own DataTrackPacket (Node, by
#: tests/interop_jsref_data.py): version 0, single-packet frame, track handle 0x1234,
#: sequence 7, frame 3, timestamp 90000, E2EE extension (key index, IV), payload deadbeef.
JS_DATA_TRACK_PACKETS = [
    (
        "1c0012340007000300015f900004010d050102030405060708090a0b0c000000deadbeef",
        5,
        "0102030405060708090a0b0c",
    ),
    (
        "1c0012340007000300015f900004010dffffeeddccbbaa998877665544000000deadbeef",
        255,
        "ffeeddccbbaa998877665544",
    ),
]


@pytest.mark.parametrize(("packet", "key_index", "iv"), JS_DATA_TRACK_PACKETS)
def test_parse_livekit_client_data_track_packets(packet: str, key_index: int, iv: str) -> None:
    p = fc.parse_data_track_packet(bytes.fromhex(packet))
    assert (p.marker, p.track_handle, p.sequence, p.frame_number, p.timestamp) == (
        "single",
        0x1234,
        7,
        3,
        90000,
    )
    assert p.extensions.e2ee == fc.DataTrackE2eeExtension(key_index, bytes.fromhex(iv))
    assert p.extensions.user_timestamp is None
    assert p.payload == bytes.fromhex("deadbeef")
    # Our extension bytes are exactly what livekit-client wrote (after the 2-byte words field).
    assert bytes.fromhex(packet)[14:29] == fc.DataTrackE2eeExtension(key_index, bytes.fromhex(iv)).to_bytes()


def test_extension_layout() -> None:
    ext = fc.DataTrackE2eeExtension(7, bytes(range(12)))
    assert ext.to_bytes() == bytes([1, 13, 7]) + bytes(range(12))
    assert ext.value == bytes([7]) + bytes(range(12))
    assert fc.DataTrackE2eeExtension.from_bytes(ext.to_bytes()) == ext
    assert fc.DataTrackE2eeExtension.from_value(ext.value) == ext


def test_extension_block_with_user_timestamp_padding_and_unknown_tags() -> None:
    ext = fc.DataTrackE2eeExtension(200, b"\xaa" * 12)
    block = (
        ext.to_bytes() + bytes([2, 8]) + struct.pack(">Q", 0x4411221111118811) + bytes([9, 2, 1, 2]) + b"\x00"
    )
    parsed = fc.parse_data_track_extensions(block)
    assert parsed == fc.DataTrackExtensions(e2ee=ext, user_timestamp=0x4411221111118811)
    # Longer-than-known E2EE value (a future version): the first 13 bytes count.
    longer = bytes([1, 15, 200]) + b"\xaa" * 12 + b"\x01\x02"
    assert fc.parse_data_track_extensions(longer).e2ee == ext


def test_packet_format_v0_example() -> None:
    """The example packet of the v0 spec: extension words 7, E2EE + user timestamp + padding byte."""
    ext = fc.DataTrackE2eeExtension(0xFA, b"\x3c" * 12)
    header = bytes([0x0C, 0]) + struct.pack(">HHHI", 0x8811, 0x4422, 0x4411, 0x44221188)
    block = ext.to_bytes() + bytes([2, 8]) + struct.pack(">Q", 0x4411221111118811) + b"\x00"
    packet = header + struct.pack(">H", 6) + block + b"\xfa" * 1024
    assert len(header) + 2 + len(block) == 40
    p = fc.parse_data_track_packet(packet)
    assert (p.marker, p.track_handle, p.sequence, p.frame_number, p.timestamp) == (
        "final",
        0x8811,
        0x4422,
        0x4411,
        0x44221188,
    )
    assert p.extensions == fc.DataTrackExtensions(e2ee=ext, user_timestamp=0x4411221111118811)
    assert p.payload == b"\xfa" * 1024


def test_data_track_frame_round_trip(kp: fc.KeyProvider, dc: fc.DataCryptor) -> None:
    frame = dc.encrypt_data_track_frame(b"sensor reading")
    assert isinstance(frame, fc.EncryptedDataTrackFrame)
    assert frame.extension.key_index == 0 and len(frame.extension.iv) == 12
    assert AESGCM(aes_key(kp)).decrypt(frame.extension.iv, frame.payload, None) == b"sensor reading"
    assert dc.decrypt_data_track_frame(frame.payload, frame.extension) == b"sensor reading"
    assert dc.decrypt_data_track_frame(frame.payload, frame.extension.to_bytes()) == b"sensor reading"


@pytest.mark.parametrize("v", params("data", lambda v: v["js"].get("decoded") is None))
def test_livekit_client_encrypted_payload_as_a_data_track_frame(v: dict[str, Any]) -> None:
    """livekit-client encrypts data-track payloads with the same encryptData as these vectors."""
    dc = fc.DataCryptor(_provider_for(v, h(v["key"]["materialHex"])), v["participant"])
    ext = fc.DataTrackE2eeExtension(v["keyIndex"], h(v["iv"]))
    assert dc.decrypt_data_track_frame(h(v["encryptedValue"]), ext) == h(v["plaintext"])


def test_data_track_bad_input(dc: fc.DataCryptor, kp: fc.KeyProvider) -> None:
    frame = dc.encrypt_data_track_frame(b"x")
    with pytest.raises(fc.InvalidPacketError, match="without an E2EE extension"):
        dc.decrypt_data_track_frame(frame.payload, None)
    with pytest.raises(fc.InvalidPacketError, match="no E2EE extension"):
        dc.decrypt_data_track_frame(frame.payload, bytes([2, 8]) + bytes(8))
    with pytest.raises(fc.InvalidPacketError, match="claims 13 bytes"):
        fc.DataTrackE2eeExtension.from_bytes(frame.extension.to_bytes()[:-1])
    with pytest.raises(fc.InvalidPacketError, match="needs 13"):
        fc.parse_data_track_extensions(bytes([1, 12]) + bytes(12))
    with pytest.raises(fc.InvalidPacketError, match="must be 13 bytes"):
        fc.DataTrackE2eeExtension.from_value(bytes(12))
    with pytest.raises(fc.InvalidArgumentError):
        fc.DataTrackE2eeExtension(256, bytes(12))
    with pytest.raises(fc.InvalidArgumentError):
        fc.DataTrackE2eeExtension(0, bytes(11))
    with pytest.raises(fc.DecryptionError):
        dc.decrypt_data_track_frame(frame.payload, fc.DataTrackE2eeExtension(0, bytes(12)))
    for packet, match in (
        (bytes(11), "shorter than the 12-byte header"),
        (bytes([0x20]) + bytes(3) + bytes([1]) + bytes(7), "version 1"),
        (bytes(12), "track handle 0"),
        (bytes([0x04, 0, 0, 1]) + bytes(8), "no extension length"),
        (bytes([0x04, 0, 0, 1]) + bytes(8) + b"\x00\x05" + bytes(3), "past the packet"),
    ):
        with pytest.raises(fc.InvalidPacketError, match=match):
            fc.parse_data_track_packet(packet)
