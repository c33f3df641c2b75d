"""Bridge to the ``livekit`` Python SDK (livekit.rtc 1.2): one key provider for everything.

* :func:`to_livekit` / :func:`room_options` build the real ``livekit.rtc.E2EEOptions`` /
  ``livekit.rtc.RoomOptions(encryption=...)`` from framecryptor options (same salt,
  ratchet window, failure tolerance, key ring size and KDF);
* :func:`attach` mirrors every key operation of a :class:`~framecryptor.KeyProvider` into
  a connected room's key provider (``room.e2ee_manager.key_provider``) and forwards the
  room's ``e2ee_state_changed`` events to the provider's listeners; :func:`detach` stops.

``livekit`` is an optional dependency (``pip install framecryptor[livekit]``); without it
these functions raise ImportError, and everything else in framecryptor works.
Usually reached through ``KeyProviderOptions.to_livekit()``, ``KeyProvider.room_options()``,
``KeyProvider.attach(room)`` and ``KeyProvider.detach()``.
"""

from __future__ import annotations

import importlib
import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import InvalidArgumentError
from .options import EncryptionState, KeyDerivationFunction, KeyProviderOptions, key_fingerprint

if TYPE_CHECKING:
    from .keys import KeyOperation, KeyProvider

__all__ = ["LiveKitAttachment", "attach", "detach", "require_livekit", "room_options", "to_livekit"]

logger = logging.getLogger("framecryptor")

_EXTRA_HINT = "pip install framecryptor[livekit]"


def require_livekit() -> Any:
    """The ``livekit.rtc`` module, or ImportError naming the extra that installs it."""
    try:
        rtc = importlib.import_module("livekit.rtc")
    except ImportError as e:
        raise ImportError(
            f"the livekit.rtc bridge needs the optional 'livekit' package (livekit>=1.2.0,<2): {_EXTRA_HINT}"
        ) from e
    return rtc


# ---------------------------------------------------------------------------
# options


def to_livekit(options: KeyProviderOptions, *, shared_key: bytes | None = None) -> Any:
    """``livekit.rtc.E2EEOptions`` (encryption GCM) with the same key provider options.

    livekit.rtc always derives 16-byte AES keys, so ``key_size=32`` is refused.
    ``shared_key`` overrides ``options.shared_key``.
    """
    rtc = require_livekit()
    if not isinstance(options, KeyProviderOptions):
        raise InvalidArgumentError(f"options must be KeyProviderOptions, not {type(options).__name__}")
    if options.key_size != 16:
        raise InvalidArgumentError(
            f"livekit.rtc has no key size option and always uses AES-128; key_size={options.key_size} "
            "(AES-256) cannot be used with livekit.rtc rooms"
        )
    kdf = rtc.KeyDerivationFunction.Value(KeyDerivationFunction(options.key_derivation_function).name)
    kpo = rtc.KeyProviderOptions(
        shared_key=shared_key if shared_key is not None else options.shared_key,
        ratchet_salt=bytes(options.ratchet_salt),
        ratchet_window_size=options.ratchet_window_size,
        failure_tolerance=options.failure_tolerance,
        key_ring_size=options.key_ring_size,
        key_derivation_function=kdf,
    )
    return rtc.E2EEOptions(key_provider_options=kpo, encryption_type=rtc.EncryptionType.GCM)


def room_options(kp: KeyProvider, **room_options: Any) -> Any:
    """``livekit.rtc.RoomOptions(encryption=...)`` for a room sharing kp's keys.

    In shared-key mode the current shared key at index 0 becomes the options' shared key,
    so the room starts with it. Other ``RoomOptions`` fields can be given as keywords
    (``encryption`` and the deprecated ``e2ee`` cannot).
    """
    rtc = require_livekit()
    for reserved in ("encryption", "e2ee"):
        if reserved in room_options:
            raise InvalidArgumentError(f"room_options() sets the encryption itself; do not pass {reserved!r}")
    shared: bytes | None = None
    with kp._lock:
        if kp._shared_used and kp._shared.slots[0].material is not None:
            shared = kp._shared.slots[0].material
    return rtc.RoomOptions(encryption=to_livekit(kp._options, shared_key=shared), **room_options)


# ---------------------------------------------------------------------------
# attach / detach


class LiveKitAttachment:
    """A key provider mirrored into one room (see :func:`attach`)."""

    def __init__(self, kp: KeyProvider, room: Any, room_kp: Any) -> None:
        self._kp_ref = weakref.ref(kp)
        self._room = room
        self._room_kp = room_kp
        self._lock = threading.Lock()
        self._attached = True
        self._observer: Callable[[KeyOperation], None] = self._on_key_operation
        self._state_handler: Callable[..., None] = self._on_state_changed

    @property
    def room(self) -> Any:
        return self._room

    @property
    def attached(self) -> bool:
        return self._attached

    def detach(self) -> None:
        """Stops mirroring keys and forwarding state events (idempotent)."""
        with self._lock:
            if not self._attached:
                return
            self._attached = False
        kp = self._kp_ref()
        if kp is not None:
            kp.remove_key_observer(self._observer)
            _attachments(kp).discard(self)
        try:
            self._room.off("e2ee_state_changed", self._state_handler)
        except Exception:  # the room may be gone or disconnected
            logger.debug(
                "framecryptor: could not unsubscribe from the room's e2ee_state_changed", exc_info=True
            )

    def __repr__(self) -> str:
        return f"<LiveKitAttachment room={type(self._room).__name__} attached={self._attached}>"

    # -- mirroring --------------------------------------------------------------------

    def _mirror_existing(self, kp: KeyProvider) -> None:
        """Copies the keys kp already holds (latest index of each ring last)."""
        with kp._lock:
            shared = _ring_contents(kp._shared.slots, kp._shared.latest_index) if kp._shared_used else []
            participants = {
                identity: _ring_contents(handler.slots, handler.latest_index)
                for identity, handler in kp._participants.items()
            }
        for index, material in shared:
            self._room_kp.set_shared_key(material, index)
        for identity, keys in participants.items():
            for index, material in keys:
                self._room_kp.set_key(identity, material, index)

    def _on_key_operation(self, op: KeyOperation) -> None:
        if not self._attached:
            return
        rkp = self._room_kp
        identity = op.participant_identity
        if op.op == "set_shared_key":
            rkp.set_shared_key(op.material, op.key_index)
        elif op.op == "set_key":
            assert identity is not None
            rkp.set_key(identity, op.material, op.key_index)
        elif op.op in ("ratchet_shared_key", "ratchet_key"):
            try:
                if identity is None:
                    theirs = rkp.ratchet_shared_key(op.key_index)
                else:
                    theirs = rkp.ratchet_key(identity, op.key_index)
            except Exception:  # e.g. the room had no key there: give it ours
                logger.warning(
                    "framecryptor: the room could not ratchet key %d; setting framecryptor's",
                    op.key_index,
                    exc_info=True,
                )
                self._set(identity, op)
                return
            if bytes(theirs) != op.material:
                logger.warning(
                    "framecryptor: the room ratcheted %s key %d to %s, framecryptor to %s; setting framecryptor's",
                    "the shared" if identity is None else repr(identity),
                    op.key_index,
                    key_fingerprint(bytes(theirs)) if theirs else "nothing",
                    key_fingerprint(op.material),
                )
                self._set(identity, op)
        elif op.op == "auto_ratchet":
            # Our receiver recovered a frame/packet op.steps ratchets ahead: the room gets the
            # resulting material directly (its own ratchet window may not reach that far).
            self._set(identity, op)
        else:  # pragma: no cover - a KeyOperation kind added later
            logger.warning("framecryptor: key operation %r not mirrored into the room", op.op)

    def _set(self, identity: str | None, op: KeyOperation) -> None:
        if identity is None:
            self._room_kp.set_shared_key(op.material, op.key_index)
        else:
            self._room_kp.set_key(identity, op.material, op.key_index)

    def _on_state_changed(self, participant: Any, state: Any) -> None:
        kp = self._kp_ref()
        if kp is None or not self._attached:
            return
        identity = getattr(participant, "identity", None) if participant is not None else None
        try:
            value = EncryptionState(int(state))
        except (TypeError, ValueError):
            logger.warning("framecryptor: unknown e2ee state %r from the room", state)
            return
        kp._emit("e2ee_state_changed", identity, value, None)


def _ring_contents(slots: list[Any], latest: int) -> list[tuple[int, bytes]]:
    keys = [(i, s.material) for i, s in enumerate(slots) if s.material is not None and i != latest]
    if 0 <= latest < len(slots) and slots[latest].material is not None:
        keys.append((latest, slots[latest].material))
    return keys


_registry: weakref.WeakKeyDictionary[Any, set[LiveKitAttachment]] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _attachments(kp: KeyProvider) -> set[LiveKitAttachment]:
    with _registry_lock:
        return _registry.setdefault(kp, set())


def attachments(kp: KeyProvider) -> list[LiveKitAttachment]:
    """The rooms kp is currently attached to."""
    return [a for a in list(_attachments(kp)) if a.attached]


def _room_key_provider(room: Any) -> Any:
    try:
        manager = room.e2ee_manager
    except AttributeError:
        manager = None
    if manager is None:
        raise InvalidArgumentError(
            "the room has no E2EE manager yet: connect it first, with options=kp.room_options()"
        )
    try:
        room_kp = manager.key_provider
    except AttributeError:
        room_kp = None
    if room_kp is None:
        raise InvalidArgumentError(
            "the room was connected without encryption: pass options=kp.room_options() to room.connect()"
        )
    return room_kp


def _check_compatible(kp: KeyProvider, room_kp: Any) -> None:
    """The room must derive keys exactly as kp does, or mirrored material would mean other keys."""
    theirs = getattr(room_kp, "options", None)
    if theirs is None:
        return
    ours = kp._options
    problems = []
    if bytes(getattr(theirs, "ratchet_salt", ours.ratchet_salt)) != ours.ratchet_salt:
        problems.append("ratchet_salt")
    if int(getattr(theirs, "key_derivation_function", int(ours.key_derivation_function))) != int(
        ours.key_derivation_function
    ):
        problems.append("key_derivation_function")
    if int(getattr(theirs, "key_ring_size", ours.key_ring_size)) != ours.key_ring_size:
        problems.append("key_ring_size")
    if ours.key_size != 16:
        problems.append("key_size (livekit.rtc uses AES-128 only)")
    if problems:
        raise InvalidArgumentError(
            "the room's key provider options differ from this KeyProvider's in "
            + ", ".join(problems)
            + ": connect the room with options=kp.room_options()"
        )


def attach(kp: KeyProvider, room: Any) -> LiveKitAttachment:
    """Mirrors kp's keys into a connected ``livekit.rtc.Room`` and forwards its state events.

    Keys already set are copied at once; from then on every set, ratchet and auto-ratchet
    (receiver ratchet window) of kp is repeated on ``room.e2ee_manager.key_provider``
    (ratchets are performed there too and their result checked against kp's). The room's
    ``e2ee_state_changed`` events reach kp's ``"e2ee_state_changed"`` listeners as
    ``(participant_identity or None, EncryptionState, None)``. Attaching the same room
    twice returns the existing attachment.
    """
    require_livekit()
    room_kp = _room_key_provider(room)
    _check_compatible(kp, room_kp)
    for existing in attachments(kp):
        if existing.room is room:
            return existing
    att = LiveKitAttachment(kp, room, room_kp)
    # Observe first, then copy: a key changed in between is mirrored twice, never missed.
    kp.add_key_observer(att._observer)
    try:
        att._mirror_existing(kp)
        room.on("e2ee_state_changed", att._state_handler)
    except BaseException:
        kp.remove_key_observer(att._observer)
        raise
    _attachments(kp).add(att)
    return att


def detach(kp: KeyProvider, room: Any = None) -> int:
    """Detaches kp from room (from every room when None); returns how many were detached."""
    count = 0
    for att in attachments(kp):
        if room is None or att.room is room:
            att.detach()
            count += 1
    return count
