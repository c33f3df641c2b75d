"""Enumerations and key provider options (same names and defaults as ``livekit.rtc``)."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from typing import Any, TypeAlias

from .exceptions import InvalidArgumentError, InvalidKeyError, UnsupportedCodecError

__all__ = [
    "Codec",
    "EncryptionState",
    "KeyDerivationFunction",
    "KeyProviderOptions",
    "KeyMaterial",
    "DEFAULT_RATCHET_SALT",
    "DEFAULT_RATCHET_WINDOW_SIZE",
    "DEFAULT_FAILURE_TOLERANCE",
    "DEFAULT_KEY_RING_SIZE",
    "PBKDF2_ITERATIONS",
    "key_fingerprint",
]

DEFAULT_RATCHET_SALT = b"LKFrameEncryptionKey"
DEFAULT_RATCHET_WINDOW_SIZE = 16
DEFAULT_FAILURE_TOLERANCE = -1
DEFAULT_KEY_RING_SIZE = 16
PBKDF2_ITERATIONS = 100_000

#: Key material as an application passes it: bytes, or a passphrase (its UTF-8 bytes).
KeyMaterial: TypeAlias = bytes | bytearray | memoryview | str


class KeyDerivationFunction(enum.IntEnum):
    """How AES keys and ratchets are derived from key material (values as livekit.rtc)."""

    PBKDF2 = 0  #: PBKDF2-HMAC-SHA256, 100,000 iterations (every native SDK's default)
    HKDF = 1  #: HKDF-SHA256, info = 128 zero bytes (livekit-client for keys given as bytes)


class EncryptionState(enum.IntEnum):
    """State of a frame cryptor (values as livekit.rtc.EncryptionState)."""

    NEW = 0
    OK = 1
    ENCRYPTION_FAILED = 2
    DECRYPTION_FAILED = 3
    MISSING_KEY = 4
    KEY_RATCHETED = 5
    INTERNAL_ERROR = 6


class Codec(str, enum.Enum):
    """Media codecs with their clear-header rules."""

    OPUS = "opus"
    VP8 = "vp8"
    VP9 = "vp9"
    AV1 = "av1"
    H264 = "h264"
    H265 = "h265"

    @property
    def native_id(self) -> int:
        return _NATIVE_IDS[self]

    @property
    def is_video(self) -> bool:
        return self is not Codec.OPUS

    @classmethod
    def parse(cls, value: Codec | str) -> Codec:
        """A Codec from an enum member, a name ("vp8", "H264") or a MIME type ("video/VP8")."""
        if isinstance(value, Codec):
            return value
        if not isinstance(value, str):
            raise UnsupportedCodecError(f"codec must be a str or Codec, not {type(value).__name__}")
        name = value.strip().lower()
        if "/" in name:
            name = name.split("/", 1)[1]
        name = _ALIASES.get(name, name)
        try:
            return cls(name)
        except ValueError:
            choices = ", ".join(c.value for c in cls)
            raise UnsupportedCodecError(f"unsupported codec {value!r} (expected one of {choices})") from None

    def __str__(self) -> str:
        return self.value


_NATIVE_IDS = {Codec.OPUS: 0, Codec.VP8: 1, Codec.VP9: 2, Codec.AV1: 3, Codec.H264: 4, Codec.H265: 5}
_ALIASES = {"h.264": "h264", "avc": "h264", "h.265": "h265", "hevc": "h265", "av01": "av1"}


def key_fingerprint(material: bytes | bytearray | memoryview | str) -> str:
    """First 8 hex digits of SHA-256 of key material: names a key without revealing it."""
    data = material.encode("utf-8") if isinstance(material, str) else bytes(material)
    return hashlib.sha256(data).hexdigest()[:8]


def material_bytes(key: object, what: str = "key") -> bytes:
    """Key material as bytes: bytes-like as is, str as its UTF-8 bytes (a passphrase)."""
    if isinstance(key, str):
        data = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray, memoryview)):
        data = bytes(key)
    else:
        raise InvalidKeyError(f"{what} must be bytes or str, not {type(key).__name__}")
    if not data:
        raise InvalidKeyError(f"{what} must not be empty")
    return data


@dataclasses.dataclass
class KeyProviderOptions:
    """Options of a :class:`~framecryptor.KeyProvider` (names and defaults of livekit.rtc).

    ``key_size`` is 16 (AES-128, every SDK) or 32 (AES-256, a livekit-client option).
    ``shared_key`` set means shared-key mode with that material at key index 0.

    Receive-side protections (framecryptor's own; no LiveKit SDK has them):

    * ``replay_window``: 0 (off) or the number of frames of a sliding window over
      each sender's IV counters; a replayed frame raises :class:`ReplayError`.
    * ``require_encryption``: a disabled cryptor refuses frames
      (:class:`PlaintextRefusedError`) instead of passing plaintext through.
    * ``forward_sif_frames``: False drops every server-injected frame.
    * ``ratchet_search_rate``: ratchet-window searches allowed per second per sender
      and key index (a burst of twice that); forged frames beyond it are dropped
      without the search. ``math.inf``: unlimited.
    * ``event_interval``: least seconds between two ``"e2ee_event"`` events of one kind
      for one participant (more are counted in the next event's ``suppressed``).
    """

    shared_key: bytes | None = dataclasses.field(default=None, repr=False)
    ratchet_salt: bytes = DEFAULT_RATCHET_SALT
    ratchet_window_size: int = DEFAULT_RATCHET_WINDOW_SIZE
    failure_tolerance: int = DEFAULT_FAILURE_TOLERANCE
    key_ring_size: int = DEFAULT_KEY_RING_SIZE
    key_derivation_function: KeyDerivationFunction = KeyDerivationFunction.PBKDF2
    key_size: int = 16
    replay_window: int = 0
    require_encryption: bool = False
    forward_sif_frames: bool = True
    ratchet_search_rate: float = 5.0
    event_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.shared_key is not None:
            self.shared_key = material_bytes(self.shared_key, "shared_key")
        salt: object = self.ratchet_salt
        if isinstance(salt, str):
            salt = salt.encode("utf-8")
        if not isinstance(salt, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"ratchet_salt must be bytes or str, not {type(salt).__name__}")
        self.ratchet_salt = bytes(salt)
        for name in ("ratchet_window_size", "failure_tolerance", "key_ring_size", "key_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidArgumentError(f"{name} must be an int, not {type(value).__name__}")
        if not 0 <= self.ratchet_window_size <= 256:
            raise InvalidArgumentError(f"ratchet_window_size must be 0..256, got {self.ratchet_window_size}")
        if self.failure_tolerance < -1:
            raise InvalidArgumentError(
                f"failure_tolerance must be -1 (never) or >= 0, got {self.failure_tolerance}"
            )
        if not 1 <= self.key_ring_size <= 256:
            raise InvalidArgumentError(f"key_ring_size must be 1..256, got {self.key_ring_size}")
        if self.key_size not in (16, 32):
            raise InvalidArgumentError(f"key_size must be 16 (AES-128) or 32 (AES-256), got {self.key_size}")
        try:
            self.key_derivation_function = KeyDerivationFunction(self.key_derivation_function)
        except ValueError:
            raise InvalidArgumentError(
                f"key_derivation_function must be PBKDF2 or HKDF, got {self.key_derivation_function!r}"
            ) from None
        if not isinstance(self.replay_window, int) or isinstance(self.replay_window, bool):
            raise InvalidArgumentError(
                f"replay_window must be an int, not {type(self.replay_window).__name__}"
            )
        if not 0 <= self.replay_window <= 65536:
            raise InvalidArgumentError(f"replay_window must be 0 (off) .. 65536, got {self.replay_window}")
        for name in ("require_encryption", "forward_sif_frames"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidArgumentError(f"{name} must be a bool")
        for name in ("ratchet_search_rate", "event_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InvalidArgumentError(f"{name} must be a number >= 0, got {value!r}")

    def __repr__(self) -> str:
        shared = "None" if self.shared_key is None else f"<fingerprint {key_fingerprint(self.shared_key)}>"
        return (
            f"KeyProviderOptions(shared_key={shared}, ratchet_salt={self.ratchet_salt!r}, "
            f"ratchet_window_size={self.ratchet_window_size}, failure_tolerance={self.failure_tolerance}, "
            f"key_ring_size={self.key_ring_size}, "
            f"key_derivation_function=KeyDerivationFunction.{self.key_derivation_function.name}, "
            f"key_size={self.key_size}, replay_window={self.replay_window}, "
            f"require_encryption={self.require_encryption}, forward_sif_frames={self.forward_sif_frames}, "
            f"ratchet_search_rate={self.ratchet_search_rate}, event_interval={self.event_interval})"
        )

    def to_livekit(self) -> Any:
        """These options as a real ``livekit.rtc.E2EEOptions`` (encryption GCM, same salt,
        window, tolerance, ring size and KDF). Needs ``pip install framecryptor[livekit]``;
        ``key_size=32`` is refused (livekit.rtc only uses AES-128)."""
        from .livekit_bridge import to_livekit

        return to_livekit(self)
