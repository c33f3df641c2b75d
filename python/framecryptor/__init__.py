"""framecryptor: LiveKit end-to-end encryption for media frames and data packets, on OpenSSL.

Byte-compatible with livekit-client (JS) and the native SDKs (frames, data packets,
text/byte streams, data tracks); bridges to livekit.rtc rooms (``pip install
framecryptor[livekit]``)::

    import framecryptor as fc

    kp = fc.KeyProvider(fc.KeyProviderOptions())
    kp.set_shared_key(b"room secret")
    sender = fc.FrameCryptor(kp, "alice", "vp8")
    wire = sender.encrypt(frame, key_frame=True)
    plain = fc.FrameCryptor(kp, "alice", "vp8").decrypt(wire)
"""

from __future__ import annotations

from . import exceptions
from ._native import AesGcmKey
from .cryptor import DecryptedFrame, FrameCryptor, FrameMetadata
from .data import (
    DataCryptor,
    DataTrackE2eeExtension,
    DataTrackExtensions,
    DataTrackPacket,
    EncryptedDataTrackFrame,
    parse_data_track_extensions,
    parse_data_track_packet,
)
from .exceptions import (
    DataStreamError,
    DecryptionError,
    E2EEError,
    EncryptionError,
    InternalError,
    InvalidArgumentError,
    InvalidBufferError,
    InvalidFrameError,
    InvalidKeyError,
    InvalidPacketError,
    IvExhaustedError,
    MissingKeyError,
    PlaintextRefusedError,
    ReplayError,
    SifFrameDroppedError,
    StreamAbortedError,
    StreamChunkOrderError,
    StreamEncryptionMismatchError,
    StreamIncompleteError,
    UnsupportedCodecError,
)
from .inspect import FrameInspection, KeyCandidate, inspect_frame
from .keys import HKDF_INFO, E2EEEvent, KeyOperation, KeyProvider, derive_key_material, ratchet_material
from .options import (
    DEFAULT_FAILURE_TOLERANCE,
    DEFAULT_KEY_RING_SIZE,
    DEFAULT_RATCHET_SALT,
    DEFAULT_RATCHET_WINDOW_SIZE,
    PBKDF2_ITERATIONS,
    Codec,
    EncryptionState,
    KeyDerivationFunction,
    KeyProviderOptions,
    key_fingerprint,
)
from .packet_trailer import append_packet_trailer, strip_packet_trailer
from .streams import (
    STREAM_CHUNK_SIZE,
    ReceivedStream,
    StreamInfo,
    StreamReassembler,
    byte_stream_packets,
    decrypt_stream,
    decrypt_streams,
    encrypt_byte_stream,
    encrypt_file_stream,
    encrypt_text_stream,
    file_stream_packets,
    text_stream_packets,
)

__version__ = "0.1.0"

__all__ = [
    "AesGcmKey",
    "Codec",
    "DecryptedFrame",
    "DecryptionError",
    "DEFAULT_FAILURE_TOLERANCE",
    "DEFAULT_KEY_RING_SIZE",
    "DEFAULT_RATCHET_SALT",
    "DEFAULT_RATCHET_WINDOW_SIZE",
    "E2EEError",
    "E2EEEvent",
    "EncryptionError",
    "EncryptionState",
    "FrameCryptor",
    "FrameMetadata",
    "HKDF_INFO",
    "InternalError",
    "InvalidArgumentError",
    "InvalidBufferError",
    "InvalidFrameError",
    "InvalidKeyError",
    "IvExhaustedError",
    "KeyDerivationFunction",
    "KeyOperation",
    "KeyProvider",
    "KeyProviderOptions",
    "MissingKeyError",
    "PBKDF2_ITERATIONS",
    "PlaintextRefusedError",
    "ReplayError",
    "SifFrameDroppedError",
    "UnsupportedCodecError",
    "append_packet_trailer",
    "derive_key_material",
    "exceptions",
    "key_fingerprint",
    "ratchet_material",
    "strip_packet_trailer",
    # frame inspection ("why doesn't it decrypt?")
    "FrameInspection",
    "KeyCandidate",
    "inspect_frame",
    # data channel (packets, data tracks, streams)
    "DataCryptor",
    "DataStreamError",
    "DataTrackE2eeExtension",
    "DataTrackExtensions",
    "DataTrackPacket",
    "EncryptedDataTrackFrame",
    "InvalidPacketError",
    "ReceivedStream",
    "STREAM_CHUNK_SIZE",
    "StreamAbortedError",
    "StreamChunkOrderError",
    "StreamEncryptionMismatchError",
    "StreamIncompleteError",
    "StreamInfo",
    "StreamReassembler",
    "byte_stream_packets",
    "decrypt_stream",
    "decrypt_streams",
    "encrypt_byte_stream",
    "encrypt_file_stream",
    "encrypt_text_stream",
    "file_stream_packets",
    "parse_data_track_extensions",
    "parse_data_track_packet",
    "text_stream_packets",
]
