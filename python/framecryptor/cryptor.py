"""Frame cryptor: encrypts and decrypts one participant's media frames."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import _native
from .exceptions import (
    DecryptionError,
    E2EEError,
    EncryptionError,
    InternalError,
    InvalidArgumentError,
    InvalidBufferError,
    InvalidFrameError,
    MissingKeyError,
    PlaintextRefusedError,
    ReplayError,
    SifFrameDroppedError,
)
from .keys import KeyProvider
from .options import Codec, EncryptionState

__all__ = ["FrameCryptor", "DecryptedFrame", "FrameMetadata"]

logger = logging.getLogger("framecryptor")

StateListener = Callable[["FrameCryptor", EncryptionState], Any]


@dataclasses.dataclass(frozen=True)
class FrameMetadata:
    """Contents of an LKTS packet trailer (frame metadata published with a track)."""

    user_timestamp: int | None = None
    frame_id: int | None = None
    user_data: bytes | None = None


@dataclasses.dataclass(frozen=True)
class DecryptedFrame:
    """A decrypted frame with what was learned while decrypting it."""

    data: bytes
    kind: str  # "decrypted", "empty", "sif" (server-injected, forwarded) or "passthrough"
    key_index: int | None = None
    header_len: int = 0  # clear header bytes (as on the wire)
    escaped: bool = False  # the encrypted part was RBSP-escaped (H.264/H.265)
    ratchet_steps: int = 0  # ratchets the key needed (0: the key as set)
    sif_payload: str | None = None
    metadata: FrameMetadata | None = None


class FrameCryptor(_native.FrameCryptorBase):
    """Encrypts frames with ``participant_identity``'s key (or the shared key) at
    :attr:`key_index`, and decrypts that participant's frames with the key index
    each frame's trailer names.

    A disabled cryptor passes frames through unchanged in both directions.
    Errors are raised as exceptions; :attr:`state` follows ``livekit.rtc``'s
    ``EncryptionState`` and every change is reported to the state listeners and
    to the key provider's ``"e2ee_state_changed"`` event.
    """

    def __init__(
        self,
        key_provider: KeyProvider,
        participant_identity: str,
        codec: Codec | str,
        key_index: int = 0,
        *,
        enabled: bool = True,
        packet_trailer: bool = False,
        normalize_start_codes: bool = True,
    ) -> None:
        if not isinstance(key_provider, KeyProvider):
            raise InvalidArgumentError(
                f"key_provider must be a KeyProvider, not {type(key_provider).__name__}"
            )
        identity = KeyProvider._identity(participant_identity)
        self._codec = Codec.parse(codec)
        self._kp = key_provider
        self._identity = identity
        core = _native.FrameCryptorCore(
            self._codec.native_id, key_provider._ring_for(identity), key_provider.sif
        )
        core.packet_trailer = bool(packet_trailer)
        core.normalize_start_codes = bool(normalize_start_codes)
        core.counters = key_provider._counters_for(identity)
        core.replay_guard = key_provider._replay_guard_for(identity)
        # The native base holds the core, the enabled flag and the state value, and
        # runs encrypt()/decrypt() (see cpp/python/bind_fast.cpp).
        super().__init__(core)
        self.enabled = bool(enabled)
        self._refuse_plaintext = key_provider._options.require_encryption
        self._state_lock = threading.Lock()
        self._listeners: list[StateListener] = []
        self.set_key_index(key_index)
        key_provider._register(self)

    # -- properties ----------------------------------------------------------------

    @property
    def participant_identity(self) -> str:
        return self._identity

    @property
    def codec(self) -> Codec:
        return self._codec

    @property
    def key_provider(self) -> KeyProvider:
        return self._kp

    @property
    def state(self) -> EncryptionState:
        return EncryptionState(self._state)

    def set_enabled(self, enabled: bool) -> None:
        """Enables or disables encryption; disabled cryptors pass frames through."""
        self.enabled = bool(enabled)

    @property
    def key_index(self) -> int:
        """Key index used for encryption."""
        return int(self._core.key_index)

    def set_key_index(self, key_index: int) -> None:
        if not isinstance(key_index, int) or isinstance(key_index, bool):
            raise InvalidArgumentError(f"key_index must be an int, not {type(key_index).__name__}")
        self._core.key_index = key_index

    def max_encrypted_size(self, frame_size: int) -> int:
        """Output size that is always enough for :meth:`encrypt_into`."""
        return int(self._core.max_encrypted_size(frame_size))

    def max_decrypted_size(self, frame_size: int) -> int:
        """Output size that is always enough for :meth:`decrypt_into` (SIF frames aside)."""
        return int(self._core.max_decrypted_size(frame_size))

    def add_state_listener(self, listener: StateListener) -> None:
        """Calls listener(cryptor, state) on every state change."""
        self._listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def __repr__(self) -> str:
        return (
            f"<FrameCryptor participant={self._identity!r} codec={self._codec.value} "
            f"key_index={self.key_index} enabled={self.enabled} state={self.state.name}>"
        )

    # -- encryption ----------------------------------------------------------------

    # encrypt(frame, key_frame=False) and decrypt(frame, key_frame=None) are
    # inherited from the native base; these are its slow-path callbacks.

    def _plaintext_refused(self) -> None:
        raise PlaintextRefusedError(
            f"cryptor for {self._identity!r} is disabled and the key provider requires encryption: "
            "frame refused instead of passing through in the clear"
        )

    def _passthrough(self, frame: Any) -> bytes:
        if self._refuse_plaintext:
            self._plaintext_refused()
        return _native.as_bytes(frame)

    def _encrypt_ok(self) -> None:
        self._set_state(EncryptionState.OK)

    def encrypt_into(self, frame: Any, out: Any, key_frame: bool = False) -> int:
        """Encrypts into a caller-owned writable buffer; returns the bytes written.

        ``out`` must hold :meth:`max_encrypted_size` bytes. When disabled, the frame is
        copied as is.
        """
        if not self.enabled:
            return _copy_into(self._passthrough(frame), out)
        try:
            n = self._core.encrypt_into(frame, out, bool(key_frame))
        except E2EEError as e:
            self._encrypt_failed(e)
            raise
        if self._state != EncryptionState.OK and n:
            self._set_state(EncryptionState.OK)
        return int(n)

    def encrypt_many(
        self,
        frames: Iterable[Any],
        key_frames: Sequence[bool] | bool | None = None,
        *,
        threads: int | None = None,
    ) -> list[bytes]:
        """Encrypts a batch of frames in C++ with the GIL released, spread over ``threads``
        threads (None: all cores for batches above 256 KiB, else one).

        ``key_frames``: one flag per frame, one flag for all, or None (all delta).
        Fails closed: if any frame cannot be encrypted, its exception is raised (with the
        frame's position in ``index``) and no output of the batch is returned.
        """
        if not self.enabled:
            return [self._passthrough(f) for f in frames]
        try:
            out: list[bytes] = self._core.encrypt_many(frames, key_frames, threads)
        except E2EEError as e:
            self._encrypt_failed(e)
            raise
        if self._state != EncryptionState.OK and any(out):
            self._set_state(EncryptionState.OK)
        return out

    def _encrypt_failed(self, e: E2EEError) -> None:
        if isinstance(e, MissingKeyError):
            self._set_state(EncryptionState.MISSING_KEY)
        elif isinstance(e, InternalError):
            self._set_state(EncryptionState.INTERNAL_ERROR)
        elif isinstance(e, (EncryptionError, InvalidFrameError)):
            self._set_state(EncryptionState.ENCRYPTION_FAILED)

    # -- decryption ----------------------------------------------------------------

    def decrypt_into(self, frame: Any, out: Any, key_frame: bool | None = None) -> int:
        """Decrypts into a caller-owned writable buffer; returns the bytes written."""
        if not self.enabled:
            return _copy_into(self._passthrough(frame), out)
        try:
            n = self._core.decrypt_into(frame, out, key_frame)
        except DecryptionError as e:
            return _copy_into(self._recover(frame, key_frame, e).data, out)
        except E2EEError as e:
            self._decrypt_failed(e)
            raise
        if self._state != EncryptionState.OK:
            self._decrypt_ok(_last_byte(frame), frame)
        return int(n)

    def decrypt_many(
        self,
        frames: Iterable[Any],
        key_frames: Sequence[bool | None] | bool | None = None,
        *,
        threads: int | None = None,
    ) -> list[bytes | E2EEError]:
        """Decrypts a batch of frames in C++ with the GIL released (``threads`` as in
        :meth:`encrypt_many`).

        Returns one entry per frame, in order: the plaintext, or the exception that
        :meth:`decrypt` would have raised for that frame (not raised; its ``index`` is
        the frame's position). A failed frame never costs the others. Frames that fail
        authentication go through the ratchet window one by one, as in :meth:`decrypt`.
        """
        frames = frames if isinstance(frames, Sequence) else list(frames)
        if not self.enabled:
            return [self._passthrough(f) for f in frames]
        results: list[bytes | E2EEError]
        results, failed, any_decrypted = self._core.decrypt_many(frames, key_frames, threads)
        for i in failed:  # in frame order, as decrypt() would have met them
            r = results[i]
            if isinstance(r, DecryptionError):
                kf = key_frames if key_frames is None or isinstance(key_frames, bool) else key_frames[i]
                try:
                    results[i] = self._recover(frames[i], kf, r).data
                except DecryptionError as e:
                    results[i] = e
            elif isinstance(r, E2EEError):
                self._decrypt_failed(r)
        last_ok = any_decrypted and results and not isinstance(results[-1], E2EEError)
        if last_ok and self._state != EncryptionState.OK:  # the state follows the batch's last frame
            self._decrypt_ok(_last_byte(frames[-1]), frames[-1])
        return results

    def decrypt_frame(self, frame: Any, key_frame: bool | None = None) -> DecryptedFrame:
        """Like :meth:`decrypt`, returning the plaintext with what decryption found."""
        if not self.enabled:
            return DecryptedFrame(self._passthrough(frame), "passthrough")
        try:
            data, info = self._core.decrypt_detailed(frame, key_frame)
        except DecryptionError as e:
            return self._recover(frame, key_frame, e)
        except E2EEError as e:
            self._decrypt_failed(e)
            raise
        if self._state != EncryptionState.OK and info["kind"] == "decrypted":
            self._decrypt_ok(info["key_index"])
        return _decrypted(data, info, 0)

    def _decrypt_ok(self, key_index: int, frame: Any = None) -> None:
        """First successful decryption after another state (the hot path only checks the state).

        frame is given when the caller did not learn whether it was decrypted (empty and
        forwarded server-injected frames say nothing about the keys).
        """
        if key_index < 0:
            return
        if frame is not None:
            trailer = self._kp.sif.trailer
            if trailer and _native.as_bytes(frame).endswith(trailer):
                return
        self._set_state(EncryptionState.OK)
        self._kp._record_success(self._identity, key_index)

    def _decrypt_failed(self, e: E2EEError) -> None:
        if isinstance(e, SifFrameDroppedError):
            return  # a dropped server-injected frame says nothing about the keys
        if isinstance(e, ReplayError):
            self._kp._event(self._identity, "replay_detected", e.key_index)
            return  # an authentic old frame: the keys are fine
        if isinstance(e, MissingKeyError):
            if e.key_index is not None and self._kp._is_invalid(self._identity, e.key_index):
                e.args = (
                    f"key at index {e.key_index} for {self._identity!r} was invalidated after more than "
                    f"{self._kp._options.failure_tolerance} consecutive failures; set a new key",
                )
            self._set_state(EncryptionState.MISSING_KEY)
        elif isinstance(e, InternalError):
            self._set_state(EncryptionState.INTERNAL_ERROR)
        elif isinstance(e, InvalidFrameError):
            self._set_state(EncryptionState.DECRYPTION_FAILED)

    def _recover_bytes(self, frame: Any, key_frame: bool | None, error: DecryptionError) -> bytes:
        return self._recover(frame, key_frame, error).data

    def _recover(self, frame: Any, key_frame: bool | None, error: DecryptionError) -> DecryptedFrame:
        """Ratchet window, then failure accounting; raises error when nothing opens the frame."""
        key_index = error.key_index if error.key_index is not None else _last_byte(frame)
        core = self._core

        def attempt(key: _native.AesGcmKey) -> tuple[bytes, dict[str, Any]]:
            return core.decrypt_detailed(frame, key_frame, key)

        result = self._kp._recover(self._identity, key_index, attempt)
        if result is not None:
            (data, info), steps = result
            self._set_state(EncryptionState.KEY_RATCHETED)
            self._kp._record_success(self._identity, key_index)
            return _decrypted(data, info, steps)
        self._kp._record_failure(self._identity, key_index)
        counters = self._core.counters
        if counters is not None and 0 <= key_index <= 255:
            counters.add(key_index, "auth_failed")
        self._set_state(EncryptionState.DECRYPTION_FAILED)
        raise error

    # -- state -----------------------------------------------------------------------

    def _set_state(self, state: EncryptionState) -> None:
        with self._state_lock:
            if state == self._state:
                return
            old = EncryptionState(self._state)
            self._state = int(state)
        for listener in list(self._listeners):
            try:
                listener(self, state)
            except Exception:  # a listener must not break the media path
                logger.exception("framecryptor state listener failed")
        self._kp._state_changed(self._identity, old, state, self)


def _copy_into(data: bytes, out: Any) -> int:
    """Copies data to the start of a writable buffer (the checks of the native *_into)."""
    try:
        view = memoryview(out)
    except TypeError:
        raise InvalidBufferError(
            f"out must be a writable C-contiguous buffer, not {type(out).__name__}"
        ) from None
    with view:
        if view.readonly or not view.c_contiguous:
            raise InvalidBufferError("out must be a writable C-contiguous buffer")
        flat = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        if len(flat) < len(data):
            raise InvalidArgumentError(f"out has {len(flat)} bytes, needs {len(data)}")
        flat[: len(data)] = data
    return len(data)


def _last_byte(frame: Any) -> int:
    try:
        view = memoryview(frame)
        return int(view.cast("B")[-1]) if view.nbytes else -1
    except (TypeError, ValueError):
        return -1


def _decrypted(data: bytes, info: dict[str, Any], steps: int) -> DecryptedFrame:
    pt = info.get("packet_trailer")
    metadata = FrameMetadata(*pt) if pt is not None else None
    return DecryptedFrame(
        data=data,
        kind=info["kind"],
        key_index=info["key_index"] if info["key_index"] >= 0 else None,
        header_len=info["header_len"],
        escaped=info["escaped"],
        ratchet_steps=steps,
        sif_payload=info["sif_payload"],
        metadata=metadata,
    )
