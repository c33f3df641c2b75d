"""Data-channel E2EE: data packets and data-track frames, wire-compatible with LiveKit.

A LiveKit data packet (``livekit.DataPacket``) carries one value: a user packet, a chat
message, an RPC request/ack/response or a data-stream header/chunk/trailer (these are
encrypted), or a speaker update, SIP DTMF, transcription or metrics batch (these are
never encrypted). Encryption moves the value into an ``EncryptedPacketPayload``
(its own field numbers), serializes it and puts AES-GCM of those bytes into
``DataPacket.encrypted_packet``::

    EncryptedPacket{encryption_type = GCM, iv (12 bytes), key_index, encrypted_value = ciphertext || tag}

No AAD is used (livekit-client and the native SDKs authenticate nothing else), so the
clear fields of the packet (kind, identity, destinations, sequence) are not protected.
The key is the sender's key at its latest key index, from the same key provider as
media frames; the IV comes from that key's never-repeating IV generator, shared with
media frames, so an IV never repeats under one key across media and data.

Data tracks use the same encryption for each frame payload; the key index and IV travel
in the data-track packet header as the E2EE extension (tag 1, length 13: key index, IV).

Protobuf classes are those of ``livekit-protocol`` (``livekit.protocol.models``).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any, Literal, overload

from google.protobuf.message import DecodeError
from livekit.protocol.models import DataPacket, EncryptedPacket, EncryptedPacketPayload, Encryption

from .exceptions import (
    DecryptionError,
    InvalidArgumentError,
    InvalidBufferError,
    InvalidPacketError,
    MissingKeyError,
)
from .keys import KeyProvider

__all__ = [
    "CLEAR_VALUES",
    "ENCRYPTABLE_VALUES",
    "DataCryptor",
    "DataTrackE2eeExtension",
    "DataTrackExtensions",
    "DataTrackPacket",
    "EncryptedDataTrackFrame",
    "is_encrypted",
    "parse_data_track_extensions",
    "parse_data_track_packet",
]

IV_SIZE = 12
TAG_SIZE = 16

#: DataPacket values that are encrypted (moved into EncryptedPacketPayload), in field order.
ENCRYPTABLE_VALUES: tuple[str, ...] = tuple(
    f.name for f in EncryptedPacketPayload.DESCRIPTOR.oneofs_by_name["value"].fields
)
#: DataPacket values every SDK sends in the clear; encryption passes them through unchanged.
CLEAR_VALUES: tuple[str, ...] = ("speaker", "sip_dtmf", "transcription", "metrics")

_GCM = Encryption.Type.GCM
_NONE = Encryption.Type.NONE


def _check_payload_schema() -> None:
    """EncryptedPacketPayload and DataPacket must agree on every shared value (name and type)."""
    packet_fields = DataPacket.DESCRIPTOR.fields_by_name
    for name in ENCRYPTABLE_VALUES:
        theirs = packet_fields.get(name)
        ours = EncryptedPacketPayload.DESCRIPTOR.fields_by_name[name]
        if theirs is None or theirs.message_type is not ours.message_type:  # pragma: no cover
            raise ImportError(
                f"livekit-protocol: DataPacket.{name} does not match EncryptedPacketPayload.{name}"
            )


_check_payload_schema()

Payload = EncryptedPacketPayload | bytes | bytearray | memoryview


def _as_bytes(data: object, what: str) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        view = memoryview(data)
        if not view.c_contiguous:
            raise InvalidBufferError(f"{what} must be a C-contiguous bytes-like object")
        return view.tobytes()
    raise InvalidBufferError(f"{what} must be bytes-like, not {type(data).__name__}")


def _parse(cls: Any, data: object, what: str) -> Any:
    raw = _as_bytes(data, what)
    msg = cls()
    try:
        msg.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise InvalidPacketError(f"{what} is not a valid serialized {cls.__name__} ({len(raw)} bytes)") from e
    return msg


def _data_packet(packet: object, what: str = "packet") -> DataPacket:
    """A copy of packet (a DataPacket or its serialized bytes): callers' objects are never modified."""
    if isinstance(packet, DataPacket):
        out = DataPacket()
        out.CopyFrom(packet)
        return out
    if isinstance(packet, (bytes, bytearray, memoryview)):
        parsed: DataPacket = _parse(DataPacket, packet, what)
        return parsed
    raise InvalidBufferError(
        f"{what} must be a DataPacket or its serialized bytes, not {type(packet).__name__}"
    )


def is_encrypted(packet: DataPacket) -> bool:
    """True when the packet carries an ``encrypted_packet``."""
    return bool(packet.WhichOneof("value") == "encrypted_packet")


class DataCryptor:
    """Encrypts and decrypts LiveKit data packets with a :class:`~framecryptor.KeyProvider`.

    ``participant_identity`` is the sender whose key encrypts (the local participant)
    and, unless a packet or call names another one, whose key decrypts. In shared-key
    mode every identity without keys of its own uses the shared ring.

    Decryption uses the packet's key index, the provider's ratchet window (packets
    encrypted with a key ratcheted up to ``ratchet_window_size`` times are recovered
    and the key moves forward; livekit-client's data cryptor cannot do this) and its
    failure tolerance. Errors are raised, never half-decoded output: malformed input
    raises :class:`~framecryptor.InvalidPacketError`, an empty or out-of-range key slot
    :class:`~framecryptor.MissingKeyError`, and an authentication failure the opaque
    :class:`~framecryptor.DecryptionError`.
    """

    def __init__(self, key_provider: KeyProvider, participant_identity: str) -> None:
        if not isinstance(key_provider, KeyProvider):
            raise InvalidArgumentError(
                f"key_provider must be a KeyProvider, not {type(key_provider).__name__}"
            )
        self._kp = key_provider
        self._identity = KeyProvider._identity(participant_identity)

    @property
    def key_provider(self) -> KeyProvider:
        return self._kp

    @property
    def participant_identity(self) -> str:
        return self._identity

    def __repr__(self) -> str:
        return f"<DataCryptor participant={self._identity!r}>"

    # -- encryption ----------------------------------------------------------------

    def encrypt_bytes(self, plaintext: bytes | bytearray | memoryview) -> tuple[bytes, bytes, int]:
        """Encrypts raw bytes with the sender's latest key: returns (iv, ciphertext || tag, key_index)."""
        data = _as_bytes(plaintext, "plaintext")
        kp = self._kp
        with kp._lock:
            handler = kp._handler(self._identity)
            key_index = handler.latest_index
            key = handler.ring.get(key_index)
        if key is None:
            err = MissingKeyError(f"no key at index {key_index} for {self._identity!r} to encrypt with")
            err.key_index = key_index
            raise err
        iv, ciphertext = key.seal(data)
        return bytes(iv), bytes(ciphertext), key_index

    def encrypt_payload(self, payload: Payload) -> EncryptedPacket:
        """Encrypts an ``EncryptedPacketPayload`` (or plaintext bytes, sent as they are).

        Returns the ``EncryptedPacket`` (encryption_type GCM, iv, key_index,
        encrypted_value) to put into ``DataPacket.encrypted_packet``.
        """
        if isinstance(payload, EncryptedPacketPayload):
            if payload.WhichOneof("value") is None:
                raise InvalidArgumentError("EncryptedPacketPayload has no value set")
            plaintext = payload.SerializeToString()
        else:
            plaintext = _as_bytes(payload, "payload")
        iv, ciphertext, key_index = self.encrypt_bytes(plaintext)
        return EncryptedPacket(encryption_type=_GCM, iv=iv, key_index=key_index, encrypted_value=ciphertext)

    def encrypt_data_packet(self, packet: DataPacket | bytes | bytearray | memoryview) -> DataPacket:
        """Returns a copy of packet with its value moved into ``encrypted_packet``.

        Speaker updates, SIP DTMF, transcriptions and metrics come back unchanged (the SDKs
        send them in the clear). Kind, identity, destinations, sequence and participant sid
        are kept as they are. Accepts a serialized DataPacket too.
        """
        out = _data_packet(packet)
        which = out.WhichOneof("value")
        if which is None:
            raise InvalidPacketError("DataPacket has no value to encrypt")
        if which == "encrypted_packet":
            raise InvalidPacketError("DataPacket is already encrypted (it carries encrypted_packet)")
        if which in CLEAR_VALUES:
            return out
        if which not in ENCRYPTABLE_VALUES:
            # A value this livekit-protocol knows but the payload cannot carry: never send it in clear.
            raise InvalidPacketError(
                f"DataPacket value {which!r} cannot be encrypted (not in EncryptedPacketPayload)"
            )
        payload = EncryptedPacketPayload()
        getattr(payload, which).CopyFrom(getattr(out, which))
        encrypted = self.encrypt_payload(payload)
        out.ClearField(which)
        out.encrypted_packet.CopyFrom(encrypted)
        return out

    # -- decryption ----------------------------------------------------------------

    def decrypt_bytes(
        self,
        ciphertext: bytes | bytearray | memoryview,
        iv: bytes | bytearray | memoryview,
        key_index: int,
        *,
        participant_identity: str | None = None,
    ) -> bytes:
        """Decrypts ciphertext || tag with the sender's key at key_index (ratchet window applies)."""
        identity = (
            self._identity if participant_identity is None else KeyProvider._identity(participant_identity)
        )
        ct = _as_bytes(ciphertext, "ciphertext")
        ivb = _as_bytes(iv, "iv")
        if len(ivb) != IV_SIZE:
            raise InvalidPacketError(f"iv must be {IV_SIZE} bytes, got {len(ivb)}")
        if len(ct) < TAG_SIZE:
            raise InvalidPacketError(
                f"encrypted value has {len(ct)} bytes, shorter than the {TAG_SIZE}-byte tag"
            )
        if not isinstance(key_index, int) or isinstance(key_index, bool) or key_index < 0:
            raise InvalidArgumentError(f"key_index must be an int >= 0, got {key_index!r}")
        kp = self._kp
        with kp._lock:
            handler = kp._handler(identity)
            ring_size = len(handler.slots)
            key = handler.ring.get(key_index) if key_index < ring_size else None
        if key is None:
            if key_index >= ring_size:
                msg = f"key index {key_index} is beyond the key ring of {ring_size}"
            elif kp._is_invalid(identity, key_index):
                msg = (
                    f"key at index {key_index} for {identity!r} was invalidated after more than "
                    f"{kp._options.failure_tolerance} consecutive failures; set a new key"
                )
            else:
                msg = f"no key at index {key_index} for {identity!r}"
            err = MissingKeyError(msg)
            err.key_index = key_index
            raise err
        try:
            plaintext = key.open(ivb, ct)
        except DecryptionError:
            result = kp._recover(identity, key_index, lambda k: k.open(ivb, ct))
            if result is None:
                kp._record_failure(identity, key_index)
                err2 = DecryptionError("decryption failed")
                err2.key_index = key_index
                raise err2 from None
            plaintext = result[0]
        kp._record_success(identity, key_index)
        return bytes(plaintext)

    @overload
    def decrypt_packet(
        self,
        packet: EncryptedPacket | bytes | bytearray | memoryview,
        *,
        raw: Literal[False] = False,
        participant_identity: str | None = None,
    ) -> EncryptedPacketPayload: ...

    @overload
    def decrypt_packet(
        self,
        packet: EncryptedPacket | bytes | bytearray | memoryview,
        *,
        raw: Literal[True],
        participant_identity: str | None = None,
    ) -> bytes: ...

    def decrypt_packet(
        self,
        packet: EncryptedPacket | bytes | bytearray | memoryview,
        *,
        raw: bool = False,
        participant_identity: str | None = None,
    ) -> EncryptedPacketPayload | bytes:
        """Decrypts an ``EncryptedPacket`` (or its serialized bytes).

        Returns the parsed ``EncryptedPacketPayload``, or with ``raw=True`` the decrypted
        bytes unparsed (data-track payloads, or captured packets whose plaintext is not a
        payload). Packets with ``encryption_type`` NONE are accepted (livekit-client sends
        them that way); CUSTOM and unknown types are refused. The key is
        ``participant_identity``'s (default: this cryptor's).
        """
        if isinstance(packet, EncryptedPacket):
            ep = packet
        elif isinstance(packet, (bytes, bytearray, memoryview)):
            ep = _parse(EncryptedPacket, packet, "encrypted packet")
        else:
            raise InvalidBufferError(
                f"packet must be an EncryptedPacket or bytes, not {type(packet).__name__}"
            )
        if ep.encryption_type not in (_GCM, _NONE):
            name = (
                Encryption.Type.Name(ep.encryption_type)
                if ep.encryption_type in Encryption.Type.values()
                else ep.encryption_type
            )
            raise InvalidPacketError(
                f"unsupported encryption_type {name} (only GCM, or NONE as livekit-client sends)"
            )
        plaintext = self.decrypt_bytes(
            ep.encrypted_value, ep.iv, ep.key_index, participant_identity=participant_identity
        )
        if raw:
            return plaintext
        try:
            payload: EncryptedPacketPayload = _parse(EncryptedPacketPayload, plaintext, "decrypted payload")
        except InvalidPacketError as e:
            raise InvalidPacketError(
                f"{e}; use raw=True for plaintexts that are not payloads"
            ) from e.__cause__
        if payload.WhichOneof("value") is None:
            raise InvalidPacketError(
                f"decrypted payload ({len(plaintext)} bytes) holds no known EncryptedPacketPayload value; "
                "use raw=True for plaintexts that are not payloads"
            )
        return payload

    def decrypt_data_packet(
        self, packet: DataPacket | bytes | bytearray | memoryview, *, participant_identity: str | None = None
    ) -> DataPacket:
        """Returns a copy of packet with ``encrypted_packet`` replaced by the decrypted value.

        The key is ``participant_identity``'s, else the packet's ``participant_identity``
        (set by the server on forwarded packets), else this cryptor's. Speaker updates,
        SIP DTMF, transcriptions and metrics are returned unchanged (never encrypted); any
        other value without ``encrypted_packet`` raises :class:`InvalidPacketError`.
        Accepts a serialized DataPacket (e.g. captured from the wire).
        """
        out = _data_packet(packet)
        which = out.WhichOneof("value")
        if which in CLEAR_VALUES:
            return out
        if which != "encrypted_packet":
            what = "no value" if which is None else f"a clear {which!r} value"
            raise InvalidPacketError(f"DataPacket has no encrypted_packet ({what})")
        identity = participant_identity
        if identity is None:
            identity = out.participant_identity or self._identity
        payload = self.decrypt_packet(out.encrypted_packet, participant_identity=identity)
        value = payload.WhichOneof("value")
        assert value is not None  # decrypt_packet refuses empty payloads
        out.ClearField("encrypted_packet")
        getattr(out, value).CopyFrom(getattr(payload, value))
        return out

    # -- data tracks ------------------------------------------------------------------

    def encrypt_data_track_frame(self, payload: bytes | bytearray | memoryview) -> EncryptedDataTrackFrame:
        """Encrypts one data-track frame payload: returns the encrypted payload and the
        E2EE extension (key index, IV) to carry in the frame's packet headers."""
        iv, ciphertext, key_index = self.encrypt_bytes(
            payload
        )  # key rings hold <= 256 keys: index fits a byte
        return EncryptedDataTrackFrame(ciphertext, DataTrackE2eeExtension(key_index, iv))

    def decrypt_data_track_frame(
        self,
        payload: bytes | bytearray | memoryview,
        extension: DataTrackE2eeExtension | bytes | bytearray | memoryview | None,
        *,
        participant_identity: str | None = None,
    ) -> bytes:
        """Decrypts one data-track frame payload with the key index and IV of its E2EE
        extension (a :class:`DataTrackE2eeExtension`, or its serialized bytes)."""
        if extension is None:
            raise InvalidPacketError("encrypted data-track frame without an E2EE extension")
        if not isinstance(extension, DataTrackE2eeExtension):
            extension = DataTrackE2eeExtension.from_bytes(extension)
        return self.decrypt_bytes(
            payload, extension.iv, extension.key_index, participant_identity=participant_identity
        )


# ---------------------------------------------------------------------------
# data tracks: packet header extensions (livekit data-track packet format v0)

_EXT_TAG_PADDING = 0
_EXT_TAG_E2EE = 1
_EXT_TAG_USER_TIMESTAMP = 2
_BASE_HEADER_LEN = 12


@dataclasses.dataclass(frozen=True, repr=False)
class DataTrackE2eeExtension:
    """The E2EE extension of a data-track packet header: tag 1, length 13, then the key
    index (1 byte) and the 12-byte IV of the frame's encrypted payload."""

    key_index: int
    iv: bytes

    TAG = _EXT_TAG_E2EE
    LENGTH = 1 + IV_SIZE

    def __post_init__(self) -> None:
        if (
            not isinstance(self.key_index, int)
            or isinstance(self.key_index, bool)
            or not 0 <= self.key_index <= 0xFF
        ):
            raise InvalidArgumentError(f"key_index must be 0..255, got {self.key_index!r}")
        iv = _as_bytes(self.iv, "iv")
        if len(iv) != IV_SIZE:
            raise InvalidArgumentError(f"iv must be {IV_SIZE} bytes, got {len(iv)}")
        object.__setattr__(self, "iv", iv)

    @property
    def value(self) -> bytes:
        """The 13 extension bytes: key index, then IV."""
        return bytes([self.key_index]) + self.iv

    def to_bytes(self) -> bytes:
        """The extension as written into a packet header: tag, length, key index, IV (15 bytes)."""
        return bytes([self.TAG, self.LENGTH]) + self.value

    @classmethod
    def from_value(cls, value: bytes | bytearray | memoryview) -> DataTrackE2eeExtension:
        """Parses the 13 extension bytes (key index, IV)."""
        data = _as_bytes(value, "extension value")
        if len(data) != cls.LENGTH:
            raise InvalidPacketError(f"E2EE extension value must be {cls.LENGTH} bytes, got {len(data)}")
        return cls(data[0], data[1:])

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> DataTrackE2eeExtension:
        """Parses an extension block (as in a packet header) and returns its E2EE extension.

        Accepts exactly the 15 bytes :meth:`to_bytes` writes, or a whole extension block
        with other extensions and padding. Raises InvalidPacketError when there is none.
        """
        ext = parse_data_track_extensions(data).e2ee
        if ext is None:
            raise InvalidPacketError("no E2EE extension (tag 1) in the data-track extension block")
        return ext

    def __repr__(self) -> str:
        return f"DataTrackE2eeExtension(key_index={self.key_index}, iv={self.iv.hex()})"


@dataclasses.dataclass(frozen=True)
class DataTrackExtensions:
    """Known extensions of a data-track packet header."""

    e2ee: DataTrackE2eeExtension | None = None
    user_timestamp: int | None = None


@dataclasses.dataclass(frozen=True)
class EncryptedDataTrackFrame:
    """An encrypted data-track frame payload and the E2EE extension its packets carry."""

    payload: bytes
    extension: DataTrackE2eeExtension


@dataclasses.dataclass(frozen=True)
class DataTrackPacket:
    """A parsed data-track packet (format v0): base header fields, extensions, payload."""

    marker: str  # "single", "start", "inter" or "final"
    track_handle: int
    sequence: int
    frame_number: int
    timestamp: int
    extensions: DataTrackExtensions
    payload: bytes


def parse_data_track_extensions(block: bytes | bytearray | memoryview) -> DataTrackExtensions:
    """Parses a data-track extension block (TLVs: tag, length, value; tag 0 is padding).

    Unknown tags are skipped and longer-than-known values are accepted (forward
    compatible), as livekit-client and the Rust SDK do; a value running past the block
    raises :class:`InvalidPacketError`.
    """
    data = _as_bytes(block, "extension block")
    e2ee: DataTrackE2eeExtension | None = None
    user_timestamp: int | None = None
    pos = 0
    while len(data) - pos >= 2:
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if tag == _EXT_TAG_PADDING:
            continue  # both SDKs step over padding two bytes at a time
        if length > len(data) - pos:
            raise InvalidPacketError(
                f"data-track extension {tag} claims {length} bytes, {len(data) - pos} left"
            )
        value = data[pos : pos + length]
        pos += length
        if tag == _EXT_TAG_E2EE:
            if length < DataTrackE2eeExtension.LENGTH:
                raise InvalidPacketError(
                    f"E2EE extension has {length} bytes, needs {DataTrackE2eeExtension.LENGTH}"
                )
            e2ee = DataTrackE2eeExtension.from_value(value[: DataTrackE2eeExtension.LENGTH])
        elif tag == _EXT_TAG_USER_TIMESTAMP and length >= 8:
            user_timestamp = struct.unpack(">Q", value[:8])[0]
    return DataTrackExtensions(e2ee=e2ee, user_timestamp=user_timestamp)


_MARKERS = {0: "inter", 1: "final", 2: "start", 3: "single"}


def parse_data_track_packet(packet: bytes | bytearray | memoryview) -> DataTrackPacket:
    """Parses a data-track packet (format v0: 12-byte base header, optional extension
    block, payload), e.g. to find the E2EE extension of a captured packet."""
    data = _as_bytes(packet, "data-track packet")
    if len(data) < _BASE_HEADER_LEN:
        raise InvalidPacketError(f"data-track packet has {len(data)} bytes, shorter than the 12-byte header")
    first = data[0]
    version = (first >> 5) & 0x07
    if version != 0:
        raise InvalidPacketError(f"unsupported data-track packet version {version}")
    marker = _MARKERS[(first >> 3) & 0x03]
    has_ext = bool((first >> 2) & 0x01)
    track_handle, sequence, frame_number, timestamp = struct.unpack(">HHHI", data[2:12])
    if track_handle == 0:
        raise InvalidPacketError("data-track packet with track handle 0 (not a valid handle)")
    pos = _BASE_HEADER_LEN
    extensions = DataTrackExtensions()
    if has_ext:
        if len(data) < pos + 2:
            raise InvalidPacketError("data-track packet has the extension flag but no extension length")
        (words,) = struct.unpack(">H", data[pos : pos + 2])
        end = pos + 4 * (words + 1)
        if end > len(data):
            raise InvalidPacketError(
                f"data-track extension block ends at {end}, past the packet's {len(data)} bytes"
            )
        extensions = parse_data_track_extensions(data[pos + 2 : end])
        pos = end
    return DataTrackPacket(marker, track_handle, sequence, frame_number, timestamp, extensions, data[pos:])
