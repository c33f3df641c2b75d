"""Encrypted LiveKit text and byte streams (data streams), chunk by chunk.

A data stream is a sequence of data packets: a header (``DataStream.Header``: stream
id, topic, MIME type, total length, attributes, text or byte header), chunks
(``DataStream.Chunk``: content of at most 15,000 bytes, ``chunk_index`` 0, 1, 2, ...)
and a trailer (``DataStream.Trailer``: reason, attributes). With E2EE every one of
them is its own encrypted packet. This module builds those packets the way
livekit-client and the Rust/Python SDKs do, encrypts them with a :class:`DataCryptor`,
and reassembles received packets into the text or bytes with the header's attributes.

Sending::

    for packet in encrypt_text_stream(cryptor, "hello", topic="chat"):
        send(packet.SerializeToString())

Receiving (incremental; streams may interleave)::

    reassembler = StreamReassembler(cryptor)
    for wire in received:
        done = reassembler.feed(wire)
        if done is not None:
            print(done.info.topic, done.text)

Content is processed one chunk at a time: senders read their input (a file, an
iterable) in chunks, and receivers can write each chunk to a file (``sink``) instead
of collecting it. Receivers also accept what newer SDKs send to recipients that
support it: single-packet streams (content inline in the header) and deflate-raw
compressed content.
"""

from __future__ import annotations

import codecs
import dataclasses
import mimetypes
import os
import stat
import time
import uuid
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, Literal, NoReturn, Protocol, cast

from livekit.protocol.models import DataPacket, DataStream, Encryption

from .data import DataCryptor, _data_packet, is_encrypted
from .exceptions import (
    DataStreamError,
    InvalidArgumentError,
    InvalidBufferError,
    InvalidPacketError,
    StreamAbortedError,
    StreamChunkOrderError,
    StreamEncryptionMismatchError,
    StreamIncompleteError,
)

__all__ = [
    "BYTE_MIME_TYPE",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "STREAM_CHUNK_SIZE",
    "TEXT_MIME_TYPE",
    "ReceivedStream",
    "StreamInfo",
    "StreamReassembler",
    "byte_stream_packets",
    "decrypt_stream",
    "decrypt_streams",
    "encrypt_byte_stream",
    "encrypt_file_stream",
    "encrypt_text_stream",
    "file_stream_packets",
    "is_stream_packet",
    "text_stream_packets",
]

#: Chunk content size (and header packet budget) of every LiveKit SDK.
STREAM_CHUNK_SIZE = 15_000
TEXT_MIME_TYPE = "text/plain"
BYTE_MIME_TYPE = "application/octet-stream"
#: Receivers refuse streams larger than this by default (livekit-client's limit, 5 GB).
DEFAULT_MAX_PAYLOAD_BYTES = 5_000_000_000

_STREAM_VALUES = ("stream_header", "stream_chunk", "stream_trailer")
_NONE = Encryption.Type.NONE
_DEFLATE_RAW = DataStream.CompressionType.DEFLATE_RAW
_NO_COMPRESSION = DataStream.CompressionType.NONE
_INFLATE_STEP = 1 << 16  # decompressed bytes produced per step (bounds memory on deflate bombs)

BytesLike = bytes | bytearray | memoryview


class BinaryReader(Protocol):
    """A binary file object (anything with ``read(size) -> bytes``)."""

    def read(self, size: int, /) -> bytes: ...


class BinaryWriter(Protocol):
    """A binary file object to write to (anything with ``write(bytes)``)."""

    def write(self, data: bytes, /) -> object: ...


ByteSource = BytesLike | Iterable[BytesLike] | BinaryReader


def is_stream_packet(packet: DataPacket) -> bool:
    """True for a clear (or decrypted) stream header, chunk or trailer packet."""
    return packet.WhichOneof("value") in _STREAM_VALUES


# ---------------------------------------------------------------------------
# received streams


@dataclasses.dataclass
class StreamInfo:
    """What a stream's header (and trailer) say about it."""

    stream_id: str
    kind: Literal["text", "bytes"]
    topic: str
    mime_type: str
    timestamp: int  # sender's clock, ms since the epoch
    total_length: int | None  # content bytes (before compression), when the sender said
    attributes: dict[str, str]  # header attributes, updated with the trailer's
    sender_identity: str  # participant_identity of the packets ("" when not set)
    encrypted: bool
    encryption_type: int  # EncryptedPacket.encryption_type of the stream's packets (NONE when clear)
    compressed: bool = False  # content was deflate-raw compressed
    inline: bool = False  # single-packet stream (content in the header)
    name: str = ""  # byte streams: file name
    operation_type: int = 0  # text streams: DataStream.OperationType
    version: int = 0
    reply_to_stream_id: str = ""
    attached_stream_ids: list[str] = dataclasses.field(default_factory=list)
    generated: bool = False


@dataclasses.dataclass
class ReceivedStream:
    """A completely received stream: its info and content.

    ``data`` is None when the content went to a sink (see :class:`StreamReassembler`).
    """

    info: StreamInfo
    data: bytes | None
    chunks: int = 0  # chunk packets received (0 for single-packet streams)

    @property
    def text(self) -> str:
        """The content as text (UTF-8, validated on receipt)."""
        if self.data is None:
            raise DataStreamError(
                f"stream {self.info.stream_id!r} was written to a sink; its content is not kept"
            )
        return self.data.decode("utf-8")

    def __repr__(self) -> str:
        size = "sink" if self.data is None else f"{len(self.data)} bytes"
        return (
            f"<ReceivedStream {self.info.kind} id={self.info.stream_id!r} topic={self.info.topic!r} {size}>"
        )


Sink = Callable[[StreamInfo], BinaryWriter | None]


@dataclasses.dataclass(eq=False)
class _OpenStream:
    info: StreamInfo
    encryption: tuple[bool, int]
    sink: BinaryWriter | None
    buffer: bytearray | None
    inflater: Any = None  # zlib decompressobj for deflate-raw streams
    utf8: Any = None  # incremental decoder validating text streams
    next_index: int = 0
    received: int = 0


class StreamReassembler:
    """Reassembles data streams from their packets, incrementally.

    :meth:`feed` takes each packet (a ``DataPacket`` or its serialized bytes, encrypted or,
    with ``allow_unencrypted``, clear) and returns the :class:`ReceivedStream` when the
    packet completes a stream, else None. Streams may interleave. Every failure raises
    and drops that stream: a chunk or trailer encrypted differently from its header
    (:class:`StreamEncryptionMismatchError`), a duplicate, out-of-order or missing chunk
    (:class:`StreamChunkOrderError`), content shorter than the header's total length
    (:class:`StreamIncompleteError`), an aborted stream (:class:`StreamAbortedError`),
    packets of an unknown stream or from another sender (:class:`DataStreamError`);
    a wrong key raises the cryptor's :class:`DecryptionError`.

    ``sink(info)`` may return a binary file object for a new stream: its content is then
    written there chunk by chunk (and not kept; the caller closes the file).
    ``max_payload_bytes`` bounds a stream's content (also after decompression).
    Without a cryptor only clear streams are accepted.
    """

    def __init__(
        self,
        cryptor: DataCryptor | None = None,
        *,
        allow_unencrypted: bool = False,
        sink: Sink | None = None,
        max_payload_bytes: int | None = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        if cryptor is not None and not isinstance(cryptor, DataCryptor):
            raise InvalidArgumentError(f"cryptor must be a DataCryptor or None, not {type(cryptor).__name__}")
        if max_payload_bytes is not None and (
            not isinstance(max_payload_bytes, int) or max_payload_bytes < 0
        ):
            raise InvalidArgumentError(
                f"max_payload_bytes must be None or an int >= 0, got {max_payload_bytes!r}"
            )
        self._cryptor = cryptor
        self._allow_clear = allow_unencrypted or cryptor is None
        self._sink = sink
        self._max = max_payload_bytes
        self._open: dict[str, _OpenStream] = {}

    @property
    def open_streams(self) -> tuple[str, ...]:
        """Ids of the streams whose header arrived but not yet their trailer."""
        return tuple(self._open)

    def discard(self, stream_id: str) -> None:
        """Forgets an open stream (e.g. when its sender left)."""
        self._open.pop(stream_id, None)

    def feed(
        self, packet: DataPacket | bytes | bytearray | memoryview, *, decrypted: DataPacket | None = None
    ) -> ReceivedStream | None:
        """Processes one packet; returns the stream it completes, else None.

        ``decrypted`` is the packet already decrypted by the caller (who had to decrypt it
        to see that it is a stream packet); it is not decrypted again.
        """
        wire = _data_packet(packet)
        encrypted = is_encrypted(wire)
        if encrypted:
            encryption = (True, int(wire.encrypted_packet.encryption_type))
            if decrypted is not None:
                plain = decrypted
            elif self._cryptor is None:
                raise InvalidPacketError("encrypted data packet, but this reassembler has no DataCryptor")
            else:
                plain = self._cryptor.decrypt_data_packet(wire)
        else:
            encryption = (False, int(_NONE))
            plain = wire
        which = plain.WhichOneof("value")
        if which not in _STREAM_VALUES:
            raise InvalidPacketError(f"not a data stream packet ({which or 'no value'})")
        identity = plain.participant_identity
        if which == "stream_header":
            if not encrypted and not self._allow_clear:
                raise InvalidPacketError("data stream header is not encrypted (allow_unencrypted=False)")
            return self._header(plain.stream_header, identity, encryption)
        if which == "stream_chunk":
            chunk = plain.stream_chunk
            st = self._stream(chunk.stream_id, identity, encryption, "chunk")
            try:
                self._chunk(st, chunk)
            except DataStreamError as e:
                self._fail(st, e)
            return None
        trailer = plain.stream_trailer
        st = self._stream(trailer.stream_id, identity, encryption, "trailer")
        del self._open[trailer.stream_id]
        try:
            return self._trailer(st, trailer)
        except DataStreamError as e:
            e.stream_id = st.info.stream_id
            raise

    # -- internals ---------------------------------------------------------------

    def _fail(self, st: _OpenStream, e: DataStreamError) -> NoReturn:
        self._open.pop(st.info.stream_id, None)
        e.stream_id = st.info.stream_id
        raise e

    def _stream(self, stream_id: str, identity: str, encryption: tuple[bool, int], what: str) -> _OpenStream:
        st = self._open.get(stream_id)
        if st is None:
            err = DataStreamError(
                f"{what} of unknown stream {stream_id!r} (no header received, or already ended)"
            )
            err.stream_id = stream_id
            raise err
        if encryption != st.encryption:
            self._fail(
                st,
                StreamEncryptionMismatchError(
                    f"{what} of stream {stream_id!r} is {_describe(encryption)}, "
                    f"but its header was {_describe(st.encryption)}"
                ),
            )
        if identity != st.info.sender_identity:
            # Refused, but the stream stays open: a packet from someone else must not end it.
            err = DataStreamError(
                f"{what} of stream {stream_id!r} from {identity!r}, but its header came from {st.info.sender_identity!r}"
            )
            err.stream_id = stream_id
            raise err
        return st

    def _header(
        self, header: DataStream.Header, identity: str, encryption: tuple[bool, int]
    ) -> ReceivedStream | None:
        stream_id = header.stream_id

        def fail(err: DataStreamError) -> NoReturn:
            err.stream_id = stream_id or None
            raise err

        if not stream_id:
            fail(DataStreamError("data stream header without a stream id"))
        if stream_id in self._open:
            fail(DataStreamError(f"stream {stream_id!r} is already open (duplicate header)"))
        content = header.WhichOneof("content_header")
        if content is None:
            fail(DataStreamError(f"header of stream {stream_id!r} has neither a text nor a byte header"))
        if header.compression not in (_NO_COMPRESSION, _DEFLATE_RAW):
            fail(DataStreamError(f"stream {stream_id!r} uses unsupported compression {header.compression}"))
        total = header.total_length if header.HasField("total_length") else None
        if total is not None and self._max is not None and total > self._max:
            fail(
                DataStreamError(
                    f"stream {stream_id!r} announces {total} bytes, more than the limit of {self._max}"
                )
            )
        info = StreamInfo(
            stream_id=stream_id,
            kind="text" if content == "text_header" else "bytes",
            topic=header.topic,
            mime_type=header.mime_type,
            timestamp=header.timestamp,
            total_length=total,
            attributes=dict(header.attributes),
            sender_identity=identity,
            encrypted=encryption[0],
            encryption_type=encryption[1],
            compressed=header.compression == _DEFLATE_RAW,
            inline=header.HasField("inline_content"),
        )
        if content == "text_header":
            th = header.text_header
            info.operation_type = th.operation_type
            info.version = th.version
            info.reply_to_stream_id = th.reply_to_stream_id
            info.attached_stream_ids = list(th.attached_stream_ids)
            info.generated = th.generated
        else:
            info.name = header.byte_header.name
        sink = self._sink(info) if self._sink is not None else None
        st = _OpenStream(
            info=info,
            encryption=encryption,
            sink=sink,
            buffer=bytearray() if sink is None else None,
            inflater=zlib.decompressobj(wbits=-15) if info.compressed else None,
            utf8=codecs.getincrementaldecoder("utf-8")() if info.kind == "text" else None,
        )
        if info.inline:
            try:
                self._content(st, header.inline_content)
                return self._finish(st, inline=True)
            except DataStreamError as e:
                e.stream_id = stream_id
                raise
        self._open[stream_id] = st
        return None

    def _chunk(self, st: _OpenStream, chunk: DataStream.Chunk) -> None:
        index = chunk.chunk_index
        if index != st.next_index:
            sid = st.info.stream_id
            if index < st.next_index:
                msg = f"chunk {index} of stream {sid!r} arrived after chunk {st.next_index - 1} (duplicate or out of order)"
            elif index == st.next_index + 1:
                msg = f"chunk {st.next_index} of stream {sid!r} is missing (got chunk {index})"
            else:
                msg = f"chunks {st.next_index}..{index - 1} of stream {sid!r} are missing (got chunk {index})"
            raise StreamChunkOrderError(msg)
        st.next_index += 1
        self._content(st, chunk.content)

    def _content(self, st: _OpenStream, content: bytes) -> None:
        if st.inflater is None:
            self._append(st, content)
            return
        try:
            out = st.inflater.decompress(content, _INFLATE_STEP)
            self._append(st, out)
            while st.inflater.unconsumed_tail:
                out = st.inflater.decompress(st.inflater.unconsumed_tail, _INFLATE_STEP)
                self._append(st, out)
        except zlib.error as e:
            raise DataStreamError(
                f"stream {st.info.stream_id!r}: invalid deflate-raw content ({e})"
            ) from None
        if st.inflater.unused_data:
            raise DataStreamError(
                f"stream {st.info.stream_id!r}: data after the end of the compressed content"
            )

    def _append(self, st: _OpenStream, data: bytes) -> None:
        if not data:
            return
        st.received += len(data)
        total = st.info.total_length
        if total is not None and st.received > total:
            raise DataStreamError(
                f"stream {st.info.stream_id!r} has more content than its total length of {total} bytes"
            )
        if self._max is not None and st.received > self._max:
            raise DataStreamError(f"stream {st.info.stream_id!r} exceeds the limit of {self._max} bytes")
        if st.utf8 is not None:
            try:
                st.utf8.decode(data)
            except UnicodeDecodeError as e:
                raise DataStreamError(
                    f"text stream {st.info.stream_id!r} is not valid UTF-8 ({e.reason})"
                ) from None
        if st.buffer is not None:
            st.buffer += data
        else:
            assert st.sink is not None
            st.sink.write(data)

    def _trailer(self, st: _OpenStream, trailer: DataStream.Trailer) -> ReceivedStream:
        st.info.attributes.update(trailer.attributes)
        if trailer.reason:
            err = StreamAbortedError(
                f"stream {st.info.stream_id!r} was closed by its sender: {trailer.reason}"
            )
            err.reason = trailer.reason
            raise err
        return self._finish(st, inline=False)

    def _finish(self, st: _OpenStream, *, inline: bool) -> ReceivedStream:
        sid = st.info.stream_id
        if st.inflater is not None:
            try:
                self._append(st, st.inflater.flush())
            except zlib.error as e:  # pragma: no cover - flush of a valid prefix does not fail
                raise DataStreamError(f"stream {sid!r}: invalid deflate-raw content ({e})") from None
            if not st.inflater.eof:
                raise StreamIncompleteError(f"stream {sid!r}: the compressed content ends early")
        if st.utf8 is not None:
            try:
                st.utf8.decode(b"", True)
            except UnicodeDecodeError:
                raise StreamIncompleteError(f"text stream {sid!r} ends inside a UTF-8 character") from None
        total = st.info.total_length
        if total is not None and st.received != total:
            raise StreamIncompleteError(
                f"stream {sid!r} ended after {st.received} of its {total} bytes"
                + ("" if inline else f" ({st.next_index} chunks)")
            )
        data = bytes(st.buffer) if st.buffer is not None else None
        return ReceivedStream(st.info, data, 0 if inline else st.next_index)


def _describe(encryption: tuple[bool, int]) -> str:
    encrypted, etype = encryption
    if not encrypted:
        return "not encrypted"
    name = Encryption.Type.Name(etype) if etype in Encryption.Type.values() else str(etype)
    return f"encrypted (encryption_type {name})"


def decrypt_streams(
    cryptor: DataCryptor | None,
    packets: Iterable[DataPacket | bytes | bytearray | memoryview],
    **options: Any,
) -> Iterator[ReceivedStream]:
    """Reassembles every stream in packets (options as :class:`StreamReassembler`);
    yields each one as its last packet arrives. Raises StreamIncompleteError when the
    packets end with a stream still open."""
    reassembler = StreamReassembler(cryptor, **options)
    for packet in packets:
        done = reassembler.feed(packet)
        if done is not None:
            yield done
    if reassembler.open_streams:
        err = StreamIncompleteError(
            f"packets ended before the trailer of stream {reassembler.open_streams[0]!r}"
        )
        err.stream_id = reassembler.open_streams[0]
        raise err


def decrypt_stream(
    cryptor: DataCryptor | None,
    packets: Iterable[DataPacket | bytes | bytearray | memoryview],
    **options: Any,
) -> ReceivedStream:
    """Reassembles and decrypts the one stream in packets (options as :class:`StreamReassembler`).

    Raises StreamIncompleteError when the packets hold no complete stream and
    DataStreamError when they hold more than one.
    """
    result: ReceivedStream | None = None
    for done in decrypt_streams(cryptor, packets, **options):
        if result is not None:
            raise DataStreamError(
                f"packets hold more than one stream ({result.info.stream_id!r}, {done.info.stream_id!r}); "
                "use decrypt_streams"
            )
        result = done
    if result is None:
        raise StreamIncompleteError("packets hold no data stream header")
    return result


# ---------------------------------------------------------------------------
# sending


def _utf8_pieces(text: str, size: int) -> Iterator[bytes]:
    """UTF-8 of text in pieces of at most size bytes, never splitting a character
    (receivers decode each chunk on its own)."""
    data = text.encode("utf-8")
    start = 0
    while len(data) - start > size:
        end = start + size
        while data[end] & 0xC0 == 0x80:  # continuation byte: back up to the character start
            end -= 1
        yield data[start:end]
        start = end
    if start < len(data):
        yield data[start:]


def _rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Pieces merged and cut into chunks of exactly size bytes (the last may be shorter)."""
    buf = bytearray()
    for piece in pieces:
        if not piece:
            continue
        buf += piece
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def _deflate_all(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)  # raw deflate (zlib.compress has no wbits before 3.11)
    return compressor.compress(data) + compressor.flush()


def _deflate(pieces: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(wbits=-15)
    for piece in pieces:
        out = compressor.compress(piece)
        if out:
            yield out
    yield compressor.flush()


def _packet(value: str, message: Any, destinations: list[str], participant_identity: str) -> DataPacket:
    packet = DataPacket(participant_identity=participant_identity, destination_identities=destinations)
    getattr(packet, value).CopyFrom(message)
    return packet


@dataclasses.dataclass
class _StreamPlan:
    """A stream ready to be sent: validated header and a lazy source of chunk contents."""

    header: DataStream.Header
    chunks: Iterable[bytes]
    inline: bytes | None
    compress: bool
    chunk_size: int
    destinations: list[str]
    participant_identity: str
    trailer_attributes: dict[str, str]


def _plan(
    *,
    content_header: DataStream.TextHeader | DataStream.ByteHeader,
    chunks: Iterable[bytes],
    inline: bytes | None,
    stream_id: str | None,
    topic: str,
    mime_type: str,
    attributes: Mapping[str, str] | None,
    total_length: int | None,
    timestamp: int | None,
    destination_identities: Iterable[str],
    participant_identity: str,
    trailer_attributes: Mapping[str, str] | None,
    chunk_size: int,
    compress: bool,
) -> _StreamPlan:
    """Validates the options and builds the header (errors surface at the call, not at the first packet)."""
    if (
        not isinstance(chunk_size, int)
        or isinstance(chunk_size, bool)
        or not 4 <= chunk_size <= STREAM_CHUNK_SIZE
    ):
        raise InvalidArgumentError(f"chunk_size must be 4..{STREAM_CHUNK_SIZE}, got {chunk_size!r}")
    for what, value in (
        ("topic", topic),
        ("mime_type", mime_type),
        ("participant_identity", participant_identity),
    ):
        if not isinstance(value, str):
            raise InvalidArgumentError(f"{what} must be a str, not {type(value).__name__}")
    if stream_id is not None and (not isinstance(stream_id, str) or not stream_id):
        raise InvalidArgumentError("stream_id must be a non-empty str")
    attrs: dict[str, dict[str, str]] = {}
    for what, mapping in (("attributes", attributes), ("trailer_attributes", trailer_attributes)):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise InvalidArgumentError(f"{what} must be a mapping of str to str")
        attrs[what] = dict(mapping or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in attrs[what].items()):
            raise InvalidArgumentError(f"{what} must map str to str")
    if isinstance(destination_identities, str) or not all(isinstance(d, str) for d in destination_identities):
        raise InvalidArgumentError("destination_identities must be an iterable of str")
    header = DataStream.Header(
        stream_id=stream_id if stream_id is not None else str(uuid.uuid4()),
        timestamp=timestamp if timestamp is not None else int(time.time() * 1000),
        topic=topic,
        mime_type=mime_type,
        attributes=attrs["attributes"],
        compression=_DEFLATE_RAW if compress else _NO_COMPRESSION,
    )
    if total_length is not None:
        if not isinstance(total_length, int) or isinstance(total_length, bool) or total_length < 0:
            raise InvalidArgumentError(f"total_length must be an int >= 0, got {total_length!r}")
        header.total_length = total_length
    if isinstance(content_header, DataStream.TextHeader):
        header.text_header.CopyFrom(content_header)
    else:
        header.byte_header.CopyFrom(content_header)
    destinations = list(destination_identities)
    size = _packet("stream_header", header, destinations, participant_identity).ByteSize()
    if size > STREAM_CHUNK_SIZE:
        # As the SDKs: a data packet larger than the data channel MTU cannot be sent reliably.
        raise DataStreamError(
            f"stream header packet has {size} bytes, more than the {STREAM_CHUNK_SIZE}-byte limit; reduce the attributes"
        )
    return _StreamPlan(
        header=header,
        chunks=chunks,
        inline=inline,
        compress=bool(compress),
        chunk_size=chunk_size,
        destinations=destinations,
        participant_identity=participant_identity,
        trailer_attributes=attrs["trailer_attributes"],
    )


def _stream_packets(plan: _StreamPlan) -> Generator[DataPacket, None, None]:
    header, ident, dest = plan.header, plan.participant_identity, plan.destinations
    if plan.inline is not None:
        content, compression = plan.inline, _NO_COMPRESSION
        if plan.compress:
            packed = _deflate_all(plan.inline)
            if len(packed) < len(plan.inline):  # deflate framing makes tiny payloads larger
                content, compression = packed, _DEFLATE_RAW
        single = DataStream.Header()
        single.CopyFrom(header)
        single.inline_content = content
        single.compression = compression
        packet = _packet("stream_header", single, dest, ident)
        if packet.ByteSize() <= STREAM_CHUNK_SIZE:
            yield packet
            return
    yield _packet("stream_header", header, dest, ident)
    contents = _rechunk(_deflate(plan.chunks), plan.chunk_size) if plan.compress else plan.chunks
    for index, content in enumerate(contents):
        chunk = DataStream.Chunk(stream_id=header.stream_id, chunk_index=index, content=content)
        yield _packet("stream_chunk", chunk, dest, ident)
    trailer = DataStream.Trailer(stream_id=header.stream_id, attributes=plan.trailer_attributes)
    yield _packet("stream_trailer", trailer, dest, ident)


def text_stream_packets(
    text: str | Iterable[str],
    *,
    topic: str = "",
    attributes: Mapping[str, str] | None = None,
    stream_id: str | None = None,
    destination_identities: Iterable[str] = (),
    participant_identity: str = "",
    total_length: int | None = None,
    reply_to_stream_id: str = "",
    attached_stream_ids: Iterable[str] = (),
    operation_type: DataStream.OperationType | int = DataStream.OperationType.CREATE,
    version: int = 0,
    generated: bool = False,
    timestamp: int | None = None,
    trailer_attributes: Mapping[str, str] | None = None,
    chunk_size: int = STREAM_CHUNK_SIZE,
    compress: bool = False,
    inline: bool = False,
) -> Generator[DataPacket, None, None]:
    """The clear packets of a text stream: header, chunks, trailer (lazily built).

    ``text`` is a str, or an iterable of str pieces (each piece becomes its own chunks,
    as with an SDK's stream writer; nothing is joined in memory). Chunks hold at most
    ``chunk_size`` bytes (15,000 as the SDKs) and never split a UTF-8 character. The
    total length is announced for a str (its UTF-8 bytes) or when given.
    ``compress`` sends deflate-raw content and ``inline`` a single-packet stream when it
    fits (both need recipients that support data streams v2; off by default).
    """
    whole = isinstance(text, str)
    if not whole and (isinstance(text, (bytes, bytearray, memoryview)) or not isinstance(text, Iterable)):
        raise InvalidBufferError(f"text must be a str or an iterable of str, not {type(text).__name__}")
    encoded = text.encode("utf-8") if isinstance(text, str) else None
    if encoded is not None and total_length is None:
        total_length = len(encoded)

    def pieces() -> Iterator[bytes]:
        for piece in [text] if isinstance(text, str) else text:
            if not isinstance(piece, str):
                raise InvalidBufferError(f"text pieces must be str, not {type(piece).__name__}")
            yield from _utf8_pieces(piece, chunk_size)

    content_header = DataStream.TextHeader(
        operation_type=cast(Any, operation_type),
        version=version,
        reply_to_stream_id=reply_to_stream_id,
        attached_stream_ids=list(attached_stream_ids),
        generated=generated,
    )
    plan = _plan(
        content_header=content_header,
        chunks=pieces(),
        inline=encoded if inline else None,
        stream_id=stream_id,
        topic=topic,
        mime_type=TEXT_MIME_TYPE,
        attributes=attributes,
        total_length=total_length,
        timestamp=timestamp,
        destination_identities=destination_identities,
        participant_identity=participant_identity,
        trailer_attributes=trailer_attributes,
        chunk_size=chunk_size,
        compress=compress,
    )
    return _stream_packets(plan)


def _byte_pieces(data: ByteSource, chunk_size: int) -> tuple[Iterable[bytes], int | None, bytes | None]:
    """(lazy chunks of at most chunk_size bytes, total length if known, whole content if in memory)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        if not view.c_contiguous:
            raise InvalidBufferError("data must be a C-contiguous bytes-like object")
        whole = view.cast("B").tobytes()
        return (whole[i : i + chunk_size] for i in range(0, len(whole), chunk_size)), len(whole), whole
    if hasattr(data, "read"):
        f = cast(BinaryReader, data)

        def read() -> Iterator[bytes]:
            while True:
                piece = f.read(chunk_size)
                if not isinstance(piece, (bytes, bytearray)):
                    raise InvalidBufferError("file must be opened in binary mode")
                if not piece:
                    return
                yield bytes(piece)

        return _rechunk(read(), chunk_size), _remaining_size(f), None
    if isinstance(data, (str, Mapping)) or not isinstance(data, Iterable):
        raise InvalidBufferError(
            f"data must be bytes-like, an iterable of bytes or a binary file, not {type(data).__name__}"
        )
    source = data

    def pieces() -> Iterator[bytes]:
        for piece in source:
            if not isinstance(piece, (bytes, bytearray, memoryview)):
                raise InvalidBufferError(f"data pieces must be bytes-like, not {type(piece).__name__}")
            yield bytes(piece)

    return _rechunk(pieces(), chunk_size), None, None


def _remaining_size(f: object) -> int | None:
    """Bytes left in a regular file from its current position (None for pipes, sockets, ...)."""
    try:
        st = os.fstat(f.fileno())  # type: ignore[attr-defined]
        if not stat.S_ISREG(st.st_mode):
            return None
        return max(st.st_size - int(f.tell()), 0)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def byte_stream_packets(
    data: ByteSource,
    *,
    name: str = "unknown",
    mime_type: str = BYTE_MIME_TYPE,
    topic: str = "",
    attributes: Mapping[str, str] | None = None,
    stream_id: str | None = None,
    destination_identities: Iterable[str] = (),
    participant_identity: str = "",
    total_length: int | None = None,
    timestamp: int | None = None,
    trailer_attributes: Mapping[str, str] | None = None,
    chunk_size: int = STREAM_CHUNK_SIZE,
    compress: bool = False,
    inline: bool = False,
) -> Generator[DataPacket, None, None]:
    """The clear packets of a byte stream: header, chunks, trailer (lazily built).

    ``data`` is bytes-like, an iterable of bytes pieces, or a binary file object (read
    ``chunk_size`` bytes at a time, never all in memory). Chunks are ``chunk_size``
    bytes except the last. The total length is announced when known (bytes-like, a
    regular file) or given. ``compress`` / ``inline`` as for :func:`text_stream_packets`
    (``inline`` only for bytes-like data).
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"name must be a str, not {type(name).__name__}")
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise InvalidArgumentError(f"chunk_size must be 4..{STREAM_CHUNK_SIZE}, got {chunk_size!r}")
    chunks, known_length, whole = _byte_pieces(data, chunk_size)
    plan = _plan(
        content_header=DataStream.ByteHeader(name=name),
        chunks=chunks,
        inline=whole if inline else None,
        stream_id=stream_id,
        topic=topic,
        mime_type=mime_type,
        attributes=attributes,
        total_length=total_length if total_length is not None else known_length,
        timestamp=timestamp,
        destination_identities=destination_identities,
        participant_identity=participant_identity,
        trailer_attributes=trailer_attributes,
        chunk_size=chunk_size,
        compress=compress,
    )
    return _stream_packets(plan)


def file_stream_packets(
    file: str | os.PathLike[str] | BinaryReader,
    *,
    name: str | None = None,
    mime_type: str | None = None,
    **options: Any,
) -> Generator[DataPacket, None, None]:
    """The clear packets of a byte stream with a file's content, read chunk by chunk.

    ``file`` is a path (opened when the first packet is taken, closed when the packets
    are exhausted or the iterator is closed) or a binary file object (read from its
    current position, left open). ``name`` defaults to the file's base name and
    ``mime_type`` to the type guessed from the name. Other options as
    :func:`byte_stream_packets`.
    """
    if isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        size = os.stat(path).st_size  # fails now (FileNotFoundError, ...) rather than at the first packet
        if name is None:
            name = os.path.basename(path)
        return _file_packets(path, size, name, mime_type, options)
    if not hasattr(file, "read"):
        raise InvalidBufferError(f"file must be a path or a binary file object, not {type(file).__name__}")
    if name is None:
        fname = getattr(file, "name", None)
        name = os.path.basename(fname) if isinstance(fname, str) else "unknown"
    if mime_type is None:
        mime_type = mimetypes.guess_type(name)[0] or BYTE_MIME_TYPE
    return byte_stream_packets(file, name=name, mime_type=mime_type, **options)


def _file_packets(
    path: str, size: int, name: str, mime_type: str | None, options: dict[str, Any]
) -> Generator[DataPacket, None, None]:
    # Validate the options now with a stand-in source; the file itself is opened lazily.
    byte_stream_packets(b"", name=name, mime_type=mime_type or BYTE_MIME_TYPE, **options)

    def packets() -> Generator[DataPacket, None, None]:
        with open(path, "rb") as f:
            yield from file_stream_packets(f, name=name, mime_type=mime_type, **options)

    return packets()


def _encrypted(
    cryptor: DataCryptor, packets: Generator[DataPacket, None, None]
) -> Generator[DataPacket, None, None]:
    try:
        for packet in packets:
            yield cryptor.encrypt_data_packet(packet)
    finally:
        close = getattr(packets, "close", None)
        if close is not None:
            close()


def _with_identity(cryptor: DataCryptor, options: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(cryptor, DataCryptor):
        raise InvalidArgumentError(f"cryptor must be a DataCryptor, not {type(cryptor).__name__}")
    options.setdefault("participant_identity", cryptor.participant_identity)
    return options


def encrypt_text_stream(
    cryptor: DataCryptor, text: str | Iterable[str], **options: Any
) -> Generator[DataPacket, None, None]:
    """The encrypted packets of a text stream (options as :func:`text_stream_packets`;
    ``participant_identity`` defaults to the cryptor's). Packets are built and
    encrypted one at a time, as they are taken."""
    return _encrypted(cryptor, text_stream_packets(text, **_with_identity(cryptor, options)))


def encrypt_byte_stream(
    cryptor: DataCryptor, data: ByteSource, **options: Any
) -> Generator[DataPacket, None, None]:
    """The encrypted packets of a byte stream (options as :func:`byte_stream_packets`)."""
    return _encrypted(cryptor, byte_stream_packets(data, **_with_identity(cryptor, options)))


def encrypt_file_stream(
    cryptor: DataCryptor, file: str | os.PathLike[str] | BinaryReader, **options: Any
) -> Generator[DataPacket, None, None]:
    """The encrypted packets of a file sent as a byte stream (options as :func:`file_stream_packets`)."""
    return _encrypted(cryptor, file_stream_packets(file, **_with_identity(cryptor, options)))
