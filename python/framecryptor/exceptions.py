"""Exceptions raised by framecryptor.

Every exception derives from :class:`E2EEError`. Argument errors also derive from
the matching builtin (``ValueError``, ``TypeError``, ``LookupError``) so generic
handlers keep working. No message ever contains key material.
"""

from __future__ import annotations

__all__ = [
    "E2EEError",
    "InvalidArgumentError",
    "InvalidBufferError",
    "InvalidKeyError",
    "UnsupportedCodecError",
    "InvalidFrameError",
    "SifFrameDroppedError",
    "MissingKeyError",
    "DecryptionError",
    "EncryptionError",
    "IvExhaustedError",
    "InternalError",
    "ReplayError",
    "PlaintextRefusedError",
    "InvalidPacketError",
    "DataStreamError",
    "StreamEncryptionMismatchError",
    "StreamChunkOrderError",
    "StreamIncompleteError",
    "StreamAbortedError",
]


class E2EEError(Exception):
    """Base class of every framecryptor error."""

    #: Key index involved, when known (set on decryption and missing-key errors).
    key_index: int | None = None


class InvalidArgumentError(E2EEError, ValueError):
    """An argument is out of range (key index, ring size, option value, buffer size)."""


class InvalidBufferError(E2EEError, TypeError):
    """An argument is not a C-contiguous bytes-like object (e.g. ``str`` or a strided view)."""


class InvalidKeyError(E2EEError, ValueError):
    """Key material or an AES key is unusable (empty, wrong size, wrong type)."""


class UnsupportedCodecError(E2EEError, ValueError):
    """The codec name is not one of opus, vp8, vp9, av1, h264, h265."""


class InvalidFrameError(E2EEError, ValueError):
    """The frame cannot be processed: too short, or its trailer is malformed."""


class SifFrameDroppedError(InvalidFrameError):
    """The frame ends with the room's SIF trailer but is not a known server-injected frame."""


class MissingKeyError(E2EEError, LookupError):
    """No usable key at the key index (empty slot, index beyond the ring, or key invalidated)."""


class DecryptionError(E2EEError):
    """Authentication failed. Deliberately says nothing about why (wrong key, tampering, ...)."""


class EncryptionError(E2EEError):
    """Encryption failed; no output was produced (fail closed)."""


class IvExhaustedError(EncryptionError):
    """The key's IV counter is used up. Set a new key or ratchet before encrypting again."""


class InternalError(E2EEError):
    """OpenSSL reported an unexpected failure."""


class ReplayError(E2EEError):
    """An authentic frame whose IV was already accepted (or is older than the replay
    window) under the same key: a replay. Raised only with replay protection on."""


class PlaintextRefusedError(E2EEError):
    """``require_encryption`` is set and the cryptor is disabled: the frame would have
    passed through unencrypted (or been accepted unencrypted), so it is refused."""


class InvalidPacketError(InvalidFrameError):
    """A data packet cannot be processed: not valid protobuf, no encrypted_packet, a malformed
    IV or extension, already encrypted, or a decrypted payload that is not a payload."""


class DataStreamError(E2EEError, ValueError):
    """A data stream cannot be built or reassembled (see the subclasses for the common cases)."""

    #: Id of the stream involved, when known.
    stream_id: str | None = None


class StreamEncryptionMismatchError(DataStreamError):
    """A chunk or trailer is encrypted differently from its stream's header."""


class StreamChunkOrderError(DataStreamError):
    """A chunk arrived out of order, twice, or after a gap (missing chunks)."""


class StreamIncompleteError(DataStreamError):
    """A stream ended (trailer, or no more packets) before all of its content arrived."""


class StreamAbortedError(DataStreamError):
    """The sender closed the stream abnormally (its trailer carries a reason)."""

    #: The reason the sender gave.
    reason: str = ""
