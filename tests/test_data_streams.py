"""Text and byte streams: packets as the SDKs build them, encrypted one by one, reassembled
chunk by chunk, and a clear error for every way a stream can go wrong."""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from livekit.protocol.models import DataPacket, DataStream, EncryptedPacketPayload, Encryption, UserPacket

import framecryptor as fc
from framecryptor.streams import is_stream_packet

from helpers import aes_key, make_provider

GCM = Encryption.Type.GCM
CHUNK = fc.STREAM_CHUNK_SIZE


@pytest.fixture
def dc(kp: fc.KeyProvider) -> fc.DataCryptor:
    return fc.DataCryptor(kp, "alice")


def clear(dc: fc.DataCryptor, packets: list[DataPacket]) -> list[DataPacket]:
    return [dc.decrypt_data_packet(p) for p in packets]


def values(packets: list[DataPacket]) -> list[str]:
    return [p.WhichOneof("value") or "" for p in packets]


# ---------------------------------------------------------------------------
# sending: packets as livekit-client / the Rust SDK build them


def test_text_stream_packets(kp: fc.KeyProvider, dc: fc.DataCryptor) -> None:
    text = "grüße ✓ 𝄞 " * 4000  # multi-byte characters across every chunk boundary
    packets = list(
        fc.encrypt_text_stream(
            dc, text, topic="chat", attributes={"a": "1"}, destination_identities=["bob"], stream_id="s1",
            reply_to_stream_id="s0", timestamp=1_700_000_000_000, trailer_attributes={"end": "yes"},
        )
    )  # fmt: skip
    for p in packets:  # every packet is its own encrypted packet, GCM, same key index
        assert values([p]) == ["encrypted_packet"]
        assert p.encrypted_packet.encryption_type == GCM and p.encrypted_packet.key_index == 0
        assert list(p.destination_identities) == ["bob"] and p.participant_identity == "alice"
        plaintext = AESGCM(aes_key(kp)).decrypt(
            p.encrypted_packet.iv, p.encrypted_packet.encrypted_value, None
        )
        EncryptedPacketPayload.FromString(plaintext)  # the plaintext is an EncryptedPacketPayload
    plain = clear(dc, packets)
    n = len(text.encode()) // CHUNK + 1
    assert values(plain) == ["stream_header"] + ["stream_chunk"] * n + ["stream_trailer"]
    header = plain[0].stream_header
    assert (header.stream_id, header.topic, header.mime_type, header.timestamp) == (
        "s1",
        "chat",
        "text/plain",
        1_700_000_000_000,
    )
    assert header.total_length == len(text.encode()) and dict(header.attributes) == {"a": "1"}
    assert header.WhichOneof("content_header") == "text_header"
    assert header.text_header.operation_type == DataStream.OperationType.CREATE
    assert header.text_header.reply_to_stream_id == "s0"
    assert header.compression == DataStream.CompressionType.NONE and not header.HasField("inline_content")
    chunks = [p.stream_chunk for p in plain[1:-1]]
    assert [c.chunk_index for c in chunks] == list(range(n))
    assert all(c.stream_id == "s1" and 0 < len(c.content) <= CHUNK for c in chunks)
    for c in chunks:
        c.content.decode("utf-8")  # never splits a character: each chunk decodes on its own
    assert b"".join(c.content for c in chunks).decode() == text
    assert plain[-1].stream_trailer == DataStream.Trailer(stream_id="s1", attributes={"end": "yes"})


def test_text_pieces_are_chunked_as_written(dc: fc.DataCryptor) -> None:
    pieces = ["Hel", "", "lo ", "wörld" * 4000]
    plain = clear(dc, list(fc.encrypt_text_stream(dc, iter(pieces))))
    assert not plain[0].stream_header.HasField("total_length")  # unknown for a generator
    contents = [p.stream_chunk.content for p in plain[1:-1]]
    assert contents[:2] == [b"Hel", b"lo "] and len(contents) == 2 + 2
    received = fc.decrypt_stream(
        dc, list(fc.encrypt_text_stream(dc, pieces, total_length=len("".join(pieces).encode())))
    )
    assert received.text == "".join(pieces)


def test_byte_stream_packets(dc: fc.DataCryptor) -> None:
    data = os.urandom(2 * CHUNK + 123)
    plain = clear(
        dc, list(fc.encrypt_byte_stream(dc, data, name="photo.jpg", mime_type="image/jpeg", topic="files"))
    )
    header = plain[0].stream_header
    assert header.byte_header.name == "photo.jpg" and header.mime_type == "image/jpeg"
    assert header.total_length == len(data)
    assert [len(p.stream_chunk.content) for p in plain[1:-1]] == [CHUNK, CHUNK, 123]
    defaults = clear(dc, list(fc.encrypt_byte_stream(dc, b"x")))[0].stream_header
    assert (defaults.byte_header.name, defaults.mime_type) == ("unknown", "application/octet-stream")


def test_byte_pieces_are_merged_into_full_chunks(dc: fc.DataCryptor) -> None:
    pieces = (os.urandom(1000) for _ in range(40))
    plain = clear(dc, list(fc.encrypt_byte_stream(dc, pieces, chunk_size=15_000)))
    assert [len(p.stream_chunk.content) for p in plain[1:-1]] == [15_000, 15_000, 10_000]


def test_empty_streams(dc: fc.DataCryptor) -> None:
    for stream in (fc.encrypt_text_stream(dc, ""), fc.encrypt_byte_stream(dc, b"")):
        packets = list(stream)
        assert values(clear(dc, packets)) == ["stream_header", "stream_trailer"]
        received = fc.decrypt_stream(dc, packets)
        assert received.data == b"" and received.info.total_length == 0 and received.chunks == 0


class CountingReader(io.RawIOBase):
    """A binary file that records every read (to show a file is read chunk by chunk, lazily)."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0
        self.reads: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.reads.append(n)
        n = self.size - self.pos if n < 0 else min(n, self.size - self.pos)
        self.pos += n
        return bytes((self.pos - n + i) % 251 for i in range(n))


def test_files_are_read_chunk_by_chunk(dc: fc.DataCryptor) -> None:
    source = CountingReader(10 * CHUNK + 5)
    packets = fc.encrypt_file_stream(dc, source, name="big.bin")
    assert source.reads == []  # nothing read before the packets are taken
    assert values([next(packets)]) == ["encrypted_packet"]  # header
    next(packets)
    assert source.reads == [CHUNK]  # one chunk read for one chunk packet
    rest = list(packets)
    assert all(n == CHUNK for n in source.reads)  # never more than a chunk at a time
    assert len(rest) == 10 + 1  # 9 more chunks, the 5-byte one, the trailer


def test_file_stream_from_a_path(tmp_path: Path, dc: fc.DataCryptor) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"line\n" * 10_000)
    received = fc.decrypt_stream(dc, list(fc.encrypt_file_stream(dc, path, topic="files")))
    assert received.data == path.read_bytes()
    assert (received.info.name, received.info.mime_type, received.info.total_length) == (
        "notes.txt",
        "text/plain",
        50_000,
    )
    assert received.info.kind == "bytes"
    with path.open("rb") as f:
        f.seek(10)
        received = fc.decrypt_stream(dc, list(fc.encrypt_file_stream(dc, f, mime_type="x/y")))
        assert received.data == path.read_bytes()[10:] and received.info.total_length == 49_990
        assert (received.info.name, received.info.mime_type) == ("notes.txt", "x/y")
    with pytest.raises(FileNotFoundError):
        fc.encrypt_file_stream(dc, tmp_path / "missing.bin")  # at the call, not at the first packet


def test_file_opened_lazily_and_closed(
    tmp_path: Path, dc: fc.DataCryptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Any] = []

    def tracking_open(*args: Any, **kwargs: Any) -> Any:
        opened.append(open(*args, **kwargs))  # noqa: SIM115 - the file is closed by the code under test
        return opened[-1]

    monkeypatch.setattr(fc.streams, "open", tracking_open, raising=False)
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(3 * CHUNK))
    packets = fc.encrypt_file_stream(dc, path)
    assert opened == []
    path.write_bytes(b"changed before the first packet")
    received = fc.decrypt_stream(dc, list(packets))
    assert received.data == b"changed before the first packet"
    assert len(opened) == 1 and opened[0].closed  # closed once the packets are exhausted
    partial = fc.encrypt_file_stream(dc, path)
    next(partial)
    next(partial)
    assert not opened[1].closed
    partial.close()  # abandoning the packets closes the file
    assert opened[1].closed


def test_compressed_streams(dc: fc.DataCryptor) -> None:
    text = "compressible text " * 10_000
    packets = list(fc.encrypt_text_stream(dc, text, compress=True))
    plain = clear(dc, packets)
    header = plain[0].stream_header
    assert header.compression == DataStream.CompressionType.DEFLATE_RAW
    assert header.total_length == len(text.encode())  # before compression, as the SDKs
    compressed = b"".join(p.stream_chunk.content for p in plain[1:-1])
    assert zlib.decompress(compressed, wbits=-15).decode() == text  # plain deflate-raw
    received = fc.decrypt_stream(dc, packets)
    assert received.text == text and received.info.compressed
    data = os.urandom(40_000)
    assert fc.decrypt_stream(dc, list(fc.encrypt_byte_stream(dc, data, compress=True))).data == data


def test_inline_single_packet_streams(dc: fc.DataCryptor) -> None:
    packets = list(fc.encrypt_text_stream(dc, "short ✓", inline=True, topic="t"))
    assert len(packets) == 1
    header = clear(dc, packets)[0].stream_header
    assert (
        header.inline_content == "short ✓".encode() and header.compression == DataStream.CompressionType.NONE
    )
    received = fc.decrypt_stream(dc, packets)
    assert received.text == "short ✓" and received.info.inline and received.chunks == 0
    # Compressed when that is smaller.
    packets = list(fc.encrypt_byte_stream(dc, bytes(5000), inline=True, compress=True))
    header = clear(dc, packets)[0].stream_header
    assert len(packets) == 1 and header.compression == DataStream.CompressionType.DEFLATE_RAW
    assert fc.decrypt_stream(dc, packets).data == bytes(5000)
    # Too large for one packet: header, chunks and trailer after all.
    big = os.urandom(20_000)
    packets = list(fc.encrypt_byte_stream(dc, big, inline=True))
    assert len(packets) == 4 and fc.decrypt_stream(dc, packets).data == big


# ---------------------------------------------------------------------------
# receiving


def test_reassembler_interleaved_streams_and_trailer_attributes(dc: fc.DataCryptor) -> None:
    a = list(
        fc.encrypt_text_stream(
            dc, "A" * 40_000, attributes={"h": "1", "x": "header"}, trailer_attributes={"x": "trailer"}
        )
    )
    b = list(fc.encrypt_byte_stream(dc, b"B" * 20_000))
    r = fc.StreamReassembler(dc)
    order = [a[0], b[0], a[1], b[1], a[2], a[3], b[2], b[3], a[4]]
    done = [r.feed(p.SerializeToString()) for p in order]
    assert r.open_streams == ()
    finished = [d for d in done if d is not None]
    assert [d.info.kind for d in finished] == ["bytes", "text"]
    assert finished[0].data == b"B" * 20_000
    assert finished[1].text == "A" * 40_000 and finished[1].info.attributes == {"h": "1", "x": "trailer"}
    assert (
        finished[1].chunks == 3 and finished[1].info.sender_identity == "alice" and finished[1].info.encrypted
    )
    assert done.index(finished[0]) == 7 and done[-1] is finished[1]  # each completes at its trailer
    ids = [s.info.stream_id for s in fc.decrypt_streams(dc, order)]
    assert ids == [finished[0].info.stream_id, finished[1].info.stream_id]


def test_reassembler_sink_writes_chunk_by_chunk(dc: fc.DataCryptor) -> None:
    data = os.urandom(5 * CHUNK)
    sinks: dict[str, io.BytesIO] = {}

    def sink(info: fc.StreamInfo) -> io.BytesIO:
        sinks[info.stream_id] = io.BytesIO()
        return sinks[info.stream_id]

    r = fc.StreamReassembler(dc, sink=sink)
    packets = list(fc.encrypt_byte_stream(dc, data, stream_id="file-1"))
    r.feed(packets[0])
    r.feed(packets[1])
    assert sinks["file-1"].getvalue() == data[:CHUNK]  # written as it arrives
    done = None
    for p in packets[2:]:
        done = r.feed(p)
    assert done is not None and done.data is None and sinks["file-1"].getvalue() == data
    with pytest.raises(fc.DataStreamError, match="sink"):
        _ = done.text


def test_feed_with_already_decrypted_packets(dc: fc.DataCryptor) -> None:
    """A receive loop decrypts every packet to route it, then feeds stream packets."""
    packets = list(fc.encrypt_text_stream(dc, "routed"))
    user = dc.encrypt_data_packet(DataPacket(user=UserPacket(payload=b"x")))
    r = fc.StreamReassembler(dc)
    done = None
    for wire in [packets[0], user, *packets[1:]]:
        plain = dc.decrypt_data_packet(wire)
        if is_stream_packet(plain):
            done = r.feed(wire, decrypted=plain)
        else:
            with pytest.raises(fc.InvalidPacketError, match="not a data stream packet"):
                r.feed(wire)
    assert done is not None and done.text == "routed"


# Stream packets encrypted by livekit-client 2.23.0's E2EE worker (jsref data-encrypt, raw key
# 000102...0f, HKDF, key index 2; encryption_type left NONE as livekit-client sends it): the
# text stream "héllo ✓ stream from livekit-client" (id js-stream-1, topic chat, attributes a=1,
# 10-byte chunks, trailer attribute done=yes). participant_identity is empty: the server sets it.
JS_STREAM = [
    "800101920156120c1aee37b20000014200000142180222449bbe5b8041745f804ec11f223b84d0660cff53f117de49da041aa62d9129280389b3ed54dbfa3c63775a8cfa431e43aeae29df48af49c079d12cc91c207600f1f309aecd",
    "80010192013d120ce70204ea00000148000001471802222b92786f34d58c03b656720267dbb120095e2ee6f1c3ddb41fae9ffd93d79b0a8bdc39745b53af9cc94e96d8",
    "80010192013f120cddcbf2040000014a000001481802222dd9dcd1d67b93b74269fb48ccf49659eb1e4b6d494fd65ae467ec72cd4fcaf2d36fa593003683052e9680a48b2b",
    "80010192013f120cb72c41d40000014c000001491802222d86a0a828a74dd34160e76809b18c4ff570dd1d0175ea8d99b295fa2446cef9e0f0f319c325b4d7ab9e9f8b5c0f",
    "80010192013c120c4e576e290000014d000001491802222aa8bb971f948373526dcd10adf730bd7a64c496656c18fe68335d5f3e3329ea377762706760f4409a56ea",
    "80010192013e120c48010c250000014e000001491802222c315eae78719e69db2c506524a9ab8a0669717df021652200762b298b8cfdfd9aebdff2529defe959a2be7a17",
]


def _js_receiver(**options: Any) -> fc.DataCryptor:
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF, **options)
    )
    kp.set_key("alice", bytes(range(16)), 2)
    return fc.DataCryptor(kp, "alice")


def test_livekit_client_encrypted_stream() -> None:
    received = fc.decrypt_stream(_js_receiver(), [bytes.fromhex(w) for w in JS_STREAM])
    assert received.text == "héllo ✓ stream from livekit-client"
    info = received.info
    assert (info.stream_id, info.topic, info.timestamp, info.total_length) == (
        "js-stream-1",
        "chat",
        1_700_000_000_000,
        37,
    )
    assert info.attributes == {"a": "1", "done": "yes"} and received.chunks == 4
    assert info.encrypted and info.encryption_type == Encryption.Type.NONE and info.sender_identity == ""


# ---------------------------------------------------------------------------
# receiving: errors


@pytest.fixture
def stream(dc: fc.DataCryptor) -> list[DataPacket]:
    """header, 3 chunks, trailer"""
    return list(fc.encrypt_byte_stream(dc, os.urandom(3 * 1000), chunk_size=1000, stream_id="s"))


def feed_all(r: fc.StreamReassembler, packets: list[DataPacket]) -> fc.ReceivedStream | None:
    done = None
    for p in packets:
        done = r.feed(p)
    return done


def test_clear_chunk_in_an_encrypted_stream(dc: fc.DataCryptor, stream: list[DataPacket]) -> None:
    r = fc.StreamReassembler(dc, allow_unencrypted=True)
    r.feed(stream[0])
    injected = dc.decrypt_data_packet(stream[1])  # the same chunk, in clear
    with pytest.raises(
        fc.StreamEncryptionMismatchError,
        match="chunk of stream 's' is not encrypted, but its header was encrypted",
    ) as e:
        r.feed(injected)
    assert e.value.stream_id == "s" and r.open_streams == ()  # the stream is dropped, as the SDKs do


def test_encrypted_chunk_in_a_clear_stream(dc: fc.DataCryptor) -> None:
    packets = list(fc.byte_stream_packets(b"x" * 3000, chunk_size=1000, participant_identity="alice"))
    r = fc.StreamReassembler(dc, allow_unencrypted=True)
    r.feed(packets[0])
    with pytest.raises(
        fc.StreamEncryptionMismatchError, match="encrypted \\(encryption_type GCM\\), but its header was not"
    ):
        r.feed(dc.encrypt_data_packet(packets[1]))


def test_encryption_type_differs_from_the_header(dc: fc.DataCryptor, stream: list[DataPacket]) -> None:
    r = fc.StreamReassembler(dc)
    r.feed(stream[0])
    relabeled = DataPacket()
    relabeled.CopyFrom(stream[1])
    relabeled.encrypted_packet.encryption_type = Encryption.Type.NONE
    with pytest.raises(fc.StreamEncryptionMismatchError, match="NONE.*GCM"):
        r.feed(relabeled)


def test_clear_streams_refused_by_default(dc: fc.DataCryptor) -> None:
    packets = list(fc.text_stream_packets("clear"))
    with pytest.raises(fc.InvalidPacketError, match="not encrypted"):
        fc.StreamReassembler(dc).feed(packets[0])
    assert fc.decrypt_stream(None, packets).text == "clear"  # without a cryptor: clear streams only
    with pytest.raises(fc.InvalidPacketError, match="no DataCryptor"):
        fc.StreamReassembler().feed(dc.encrypt_data_packet(packets[0]))


def test_out_of_order_chunks(dc: fc.DataCryptor, stream: list[DataPacket]) -> None:
    r = fc.StreamReassembler(dc)
    r.feed(stream[0])
    r.feed(stream[1])
    with pytest.raises(fc.StreamChunkOrderError, match="chunk 1 of stream 's' is missing \\(got chunk 2\\)"):
        r.feed(stream[3])
    assert r.open_streams == ()
    r.feed(stream[0])
    r.feed(stream[1])
    with pytest.raises(
        fc.StreamChunkOrderError, match="chunk 0 .* arrived after chunk 0 \\(duplicate or out of order\\)"
    ):
        r.feed(stream[1])


def test_missing_chunks(dc: fc.DataCryptor) -> None:
    packets = list(fc.encrypt_byte_stream(dc, bytes(10_000), chunk_size=1000, stream_id="m"))
    with pytest.raises(
        fc.StreamChunkOrderError, match="chunks 1..3 of stream 'm' are missing \\(got chunk 4\\)"
    ):
        feed_all(fc.StreamReassembler(dc), packets[:2] + packets[5:])
    # The last chunk lost: the trailer shows the stream is short.
    with pytest.raises(
        fc.StreamIncompleteError, match="ended after 9000 of its 10000 bytes \\(9 chunks\\)"
    ) as e:
        feed_all(fc.StreamReassembler(dc), packets[:-2] + packets[-1:])
    assert e.value.stream_id == "m"


def test_missing_trailer_or_header(dc: fc.DataCryptor, stream: list[DataPacket]) -> None:
    with pytest.raises(fc.StreamIncompleteError, match="before the trailer of stream 's'"):
        fc.decrypt_stream(dc, stream[:-1])
    with pytest.raises(fc.DataStreamError, match="chunk of unknown stream 's'"):
        fc.decrypt_stream(dc, stream[1:])
    with pytest.raises(fc.StreamIncompleteError, match="no data stream header"):
        fc.decrypt_stream(dc, [])
    with pytest.raises(fc.DataStreamError, match="more than one stream"):
        fc.decrypt_stream(dc, stream + list(fc.encrypt_text_stream(dc, "second")))


def test_wrong_key(dc: fc.DataCryptor, stream: list[DataPacket]) -> None:
    wrong = fc.DataCryptor(make_provider(key=b"wrong key"), "alice")
    with pytest.raises(fc.DecryptionError, match="^decryption failed$"):
        fc.decrypt_stream(wrong, stream)
    # A chunk under another key (its header was fine): that chunk fails, then the gap shows.
    r = fc.StreamReassembler(dc)
    r.feed(stream[0])
    foreign = list(fc.encrypt_byte_stream(wrong, os.urandom(3000), chunk_size=1000, stream_id="s"))
    with pytest.raises(fc.DecryptionError):
        r.feed(foreign[1])
    r.feed(stream[1])
    with pytest.raises(fc.StreamChunkOrderError, match="missing"):
        r.feed(stream[3])


def test_aborted_stream(dc: fc.DataCryptor) -> None:
    packets = list(fc.byte_stream_packets(b"abc", participant_identity="alice", stream_id="ab"))
    packets[-1].stream_trailer.reason = "cancelled by user"
    with pytest.raises(fc.StreamAbortedError, match="cancelled by user") as e:
        fc.decrypt_stream(dc, [dc.encrypt_data_packet(p) for p in packets])
    assert e.value.reason == "cancelled by user" and e.value.stream_id == "ab"


def test_packets_from_another_sender(dc: fc.DataCryptor, kp: fc.KeyProvider) -> None:
    kp.set_key("mallory", b"k" * 16)
    mallory = fc.DataCryptor(kp, "mallory")
    good = list(fc.encrypt_byte_stream(dc, b"x" * 2000, chunk_size=1000, stream_id="s"))
    evil = list(fc.encrypt_byte_stream(mallory, b"y" * 2000, chunk_size=1000, stream_id="s"))
    r = fc.StreamReassembler(dc)
    r.feed(good[0])
    with pytest.raises(fc.DataStreamError, match="from 'mallory', but its header came from 'alice'"):
        r.feed(evil[1])
    assert feed_all(r, good[1:]).data == b"x" * 2000  # type: ignore[union-attr]  # the stream survives


def test_content_beyond_the_total_length(dc: fc.DataCryptor) -> None:
    packets = list(fc.encrypt_byte_stream(dc, b"z" * 2000, chunk_size=1000, total_length=1500))
    with pytest.raises(fc.DataStreamError, match="more content than its total length of 1500"):
        feed_all(fc.StreamReassembler(dc), packets)


def test_payload_limit_and_decompression_bomb(dc: fc.DataCryptor) -> None:
    big = list(fc.encrypt_byte_stream(dc, bytes(50_000)))
    with pytest.raises(fc.DataStreamError, match="announces 50000 bytes, more than the limit of 10000"):
        fc.StreamReassembler(dc, max_payload_bytes=10_000).feed(big[0])
    bomb = list(fc.encrypt_byte_stream(dc, iter([bytes(1 << 20)] * 8), compress=True))  # 8 MiB -> ~8 KiB
    assert len(bomb) == 3
    with pytest.raises(fc.DataStreamError, match="exceeds the limit of 1000000 bytes"):
        feed_all(fc.StreamReassembler(dc, max_payload_bytes=1_000_000), bomb)


def test_invalid_compressed_content(dc: fc.DataCryptor) -> None:
    packets = list(fc.byte_stream_packets(b"q" * 5000, compress=True, participant_identity="alice"))
    packets[1].stream_chunk.content = b"\xff" + packets[1].stream_chunk.content[1:]
    with pytest.raises(fc.DataStreamError, match="invalid deflate-raw content"):
        fc.decrypt_stream(None, packets)
    truncated = list(fc.byte_stream_packets(os.urandom(5000), compress=True, participant_identity="alice"))
    truncated[1].stream_chunk.content = truncated[1].stream_chunk.content[:100]
    truncated[0].stream_header.ClearField("total_length")
    with pytest.raises(fc.StreamIncompleteError, match="compressed content ends early"):
        fc.decrypt_stream(None, truncated)


def test_invalid_utf8_in_a_text_stream() -> None:
    packets = list(fc.text_stream_packets("abc"))
    packets[1].stream_chunk.content = b"a\xffc"
    with pytest.raises(fc.DataStreamError, match="not valid UTF-8"):
        fc.decrypt_stream(None, packets)
    packets = list(fc.text_stream_packets("ab✓"))
    packets[1].stream_chunk.content = "ab✓".encode()[:-1]
    packets[0].stream_header.total_length = 4
    with pytest.raises(fc.StreamIncompleteError, match="inside a UTF-8 character"):
        fc.decrypt_stream(None, packets)


def test_malformed_headers() -> None:
    def header_packet(**fields: Any) -> DataPacket:
        return DataPacket(stream_header=DataStream.Header(**fields))

    cases = [
        (header_packet(topic="t", text_header=DataStream.TextHeader()), "without a stream id"),
        (header_packet(stream_id="h"), "neither a text nor a byte header"),
        (
            header_packet(stream_id="h", byte_header=DataStream.ByteHeader(), compression=5),
            "unsupported compression",
        ),
    ]
    for packet, match in cases:
        with pytest.raises(fc.DataStreamError, match=match):
            fc.StreamReassembler().feed(packet)
    r = fc.StreamReassembler()
    r.feed(header_packet(stream_id="h", byte_header=DataStream.ByteHeader()))
    with pytest.raises(fc.DataStreamError, match="already open"):
        r.feed(header_packet(stream_id="h", byte_header=DataStream.ByteHeader()))
    with pytest.raises(fc.InvalidPacketError):
        r.feed(b"\xff\xff")


def test_bad_arguments_fail_at_the_call(dc: fc.DataCryptor) -> None:
    with pytest.raises(fc.InvalidBufferError):
        fc.encrypt_text_stream(dc, b"bytes are not text")  # type: ignore[arg-type]
    with pytest.raises(fc.InvalidBufferError):
        fc.encrypt_byte_stream(dc, "text is not bytes")  # type: ignore[arg-type]
    with pytest.raises(fc.InvalidArgumentError, match="chunk_size"):
        fc.encrypt_byte_stream(dc, b"x", chunk_size=0)
    with pytest.raises(fc.InvalidArgumentError, match="chunk_size"):
        fc.encrypt_text_stream(dc, "x", chunk_size=3)
    with pytest.raises(fc.InvalidArgumentError, match="attributes"):
        fc.encrypt_text_stream(dc, "x", attributes={"a": 1})
    with pytest.raises(fc.InvalidArgumentError, match="destination_identities"):
        fc.encrypt_text_stream(dc, "x", destination_identities="bob")
    with pytest.raises(fc.InvalidArgumentError):
        fc.encrypt_text_stream("not a cryptor", "x")  # type: ignore[arg-type]
    with pytest.raises(
        fc.DataStreamError, match="header packet has .* bytes, more than the 15000-byte limit"
    ):
        fc.encrypt_text_stream(dc, "x", attributes={"big": "v" * 20_000})
    pieces: Iterator[Any] = iter(["ok", 5])
    with pytest.raises(fc.InvalidBufferError, match="text pieces must be str"):
        list(fc.encrypt_text_stream(dc, pieces))
    with pytest.raises(fc.InvalidBufferError, match="binary mode"):
        list(fc.encrypt_file_stream(dc, io.StringIO("text mode")))  # type: ignore[arg-type]
