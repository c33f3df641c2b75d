"""Key provider: shared and per-participant key rings, derivation, ratcheting."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from . import _native
from .exceptions import DecryptionError, InvalidArgumentError, MissingKeyError
from .options import (
    PBKDF2_ITERATIONS,
    EncryptionState,
    KeyDerivationFunction,
    KeyMaterial,
    KeyProviderOptions,
    key_fingerprint,
    material_bytes,
)

if TYPE_CHECKING:
    from .cryptor import FrameCryptor

__all__ = ["KeyProvider", "KeyOperation", "E2EEEvent", "derive_key_material", "ratchet_material", "HKDF_INFO"]

logger = logging.getLogger("framecryptor")
T = TypeVar("T")

_FAILING = frozenset(
    {
        EncryptionState.ENCRYPTION_FAILED,
        EncryptionState.DECRYPTION_FAILED,
        EncryptionState.MISSING_KEY,
        EncryptionState.INTERNAL_ERROR,
    }
)
_WORKING = frozenset({EncryptionState.OK, EncryptionState.KEY_RATCHETED})
_PROVIDER_COUNTS = ("ratchets", "auto_ratchets", "ratchet_searches", "ratchet_searches_limited")

#: HKDF info used by every LiveKit SDK: 128 zero bytes.
HKDF_INFO = bytes(128)
#: Derived keys kept per provider (material digest -> AES key and next material).
_DERIVATION_CACHE_SIZE = 1024


def _kdf32(material: bytes, salt: bytes, kdf: KeyDerivationFunction) -> bytes:
    if kdf is KeyDerivationFunction.PBKDF2:
        return _native.pbkdf2_sha256(material, salt, PBKDF2_ITERATIONS, 32)
    return _native.hkdf_sha256(material, salt, HKDF_INFO, 32)


def derive_key_material(
    material: KeyMaterial,
    *,
    salt: bytes | str = b"LKFrameEncryptionKey",
    kdf: KeyDerivationFunction = KeyDerivationFunction.PBKDF2,
    key_size: int = 16,
) -> bytes:
    """The AES key LiveKit derives from key material (KDF output truncated to ``key_size``)."""
    if key_size not in (16, 32):
        raise InvalidArgumentError(f"key_size must be 16 or 32, got {key_size}")
    salt_b = salt.encode() if isinstance(salt, str) else bytes(salt)
    return _kdf32(material_bytes(material), salt_b, KeyDerivationFunction(kdf))[:key_size]


def ratchet_material(
    material: KeyMaterial,
    *,
    salt: bytes | str = b"LKFrameEncryptionKey",
    kdf: KeyDerivationFunction = KeyDerivationFunction.PBKDF2,
) -> bytes:
    """The 32-byte material one ratchet step produces (what ``ratchet_key`` returns)."""
    salt_b = salt.encode() if isinstance(salt, str) else bytes(salt)
    return _kdf32(material_bytes(material), salt_b, KeyDerivationFunction(kdf))


@dataclasses.dataclass(frozen=True, repr=False)
class KeyOperation:
    """A change of key material, as reported to key observers (see KeyProvider.add_key_observer).

    ``op`` is one of "set_shared_key", "ratchet_shared_key", "set_key", "ratchet_key" and
    "auto_ratchet" (the receiver's ratchet window moved a key ``steps`` ratchets ahead);
    ``participant_identity`` is None for the shared ring.
    """

    op: str
    participant_identity: str | None
    key_index: int
    material: bytes  # the new key material
    steps: int = 1

    def __repr__(self) -> str:
        return (
            f"KeyOperation(op={self.op!r}, participant_identity={self.participant_identity!r}, "
            f"key_index={self.key_index}, material=<fingerprint {key_fingerprint(self.material)}>, steps={self.steps})"
        )


@dataclasses.dataclass(frozen=True)
class E2EEEvent:
    """A noteworthy change for one participant (the ``"e2ee_event"`` event).

    ``kind``: ``"failure_started"`` (a cryptor went from working to failing: the
    ``state`` says how), ``"recovered"`` (back to OK or ratcheted), ``"key_ratcheted"``,
    ``"key_invalidated"`` (failure tolerance exceeded), ``"replay_detected"``,
    ``"ratchet_search_limited"`` (forged or undecryptable frames dropped without a
    ratchet-window search). At most one event per kind and participant per
    ``options.event_interval`` seconds; ``suppressed`` counts those held back since
    the previous one.
    """

    participant_identity: str | None
    kind: str
    key_index: int | None = None
    state: EncryptionState | None = None
    suppressed: int = 0


# ---------------------------------------------------------------------------
# internals


@dataclasses.dataclass(eq=False)
class _Derived:
    """Everything derived from one key material by one KDF run."""

    key: _native.AesGcmKey  # AES key (first key_size bytes of the KDF output)
    next_material: bytes  # the KDF output: material after one ratchet


@dataclasses.dataclass(eq=False)
class _Slot:
    material: bytes | None = None
    derived: _Derived | None = None
    generation: int = 0  # bumped on every set/ratchet of this slot
    failures: int = 0
    invalid: bool = False  # failure tolerance exceeded: frames are refused until a new key


class _KeyHandler:
    """The key ring of one participant (or the shared ring)."""

    def __init__(self, ring_size: int) -> None:
        self.ring = _native.KeyRing(ring_size)
        self.slots = [_Slot() for _ in range(ring_size)]
        self.latest_index = 0
        self.failing = False  # some slot has a non-zero failure count


class KeyProvider:
    """Keys for encrypting and decrypting frames and packets.

    Shared-key mode (``options.shared_key`` or :meth:`set_shared_key`): one key ring for
    every participant. Per-participant mode: :meth:`set_key` per identity. A participant
    with keys of its own uses them; any other participant uses the shared ring.

    Key material is what the application passes (bytes, or a passphrase as ``str``).
    The AES key is derived with ``options.key_derivation_function`` and ``ratchet_salt``.
    """

    def __init__(self, options: KeyProviderOptions | None = None) -> None:
        if options is None:
            options = KeyProviderOptions()
        if not isinstance(options, KeyProviderOptions):
            raise InvalidArgumentError(f"options must be KeyProviderOptions, not {type(options).__name__}")
        # Snapshot: later edits to the caller's object do not reach this provider.
        self._options = dataclasses.replace(options)
        self._lock = threading.RLock()
        self._shared = _KeyHandler(self._options.key_ring_size)
        self._shared_used = False
        self._participants: dict[str, _KeyHandler] = {}
        self._cache: collections.OrderedDict[bytes, _Derived] = collections.OrderedDict()
        self._cryptors: weakref.WeakSet[FrameCryptor] = weakref.WeakSet()
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._key_observers: list[Callable[[KeyOperation], Any]] = []
        self._counters: dict[str, _native.FrameCounters] = {}
        self._replay_guards: dict[str, _native.ReplayGuard] = {}
        self._ratchet_stats: collections.Counter[tuple[str, int, str]] = collections.Counter()
        self._search_buckets: dict[tuple[str, int], list[float]] = {}
        self._event_times: dict[tuple[str | None, str], tuple[float, int]] = {}
        self.sif = _native.SifPolicy()
        self.sif.forwarding = self._options.forward_sif_frames
        if self._options.shared_key is not None:
            self.set_shared_key(self._options.shared_key, 0)

    # -- options and introspection ------------------------------------------------

    @property
    def options(self) -> KeyProviderOptions:
        """A copy of the options this provider was created with."""
        return dataclasses.replace(self._options)

    @property
    def shared_key_mode(self) -> bool:
        """True once a shared key has been set."""
        return self._shared_used

    def participants(self) -> list[str]:
        """Identities that have keys of their own."""
        with self._lock:
            return list(self._participants)

    def key_fingerprint(self, participant_identity: str | None = None, key_index: int = 0) -> str | None:
        """Fingerprint of the current material at a slot (None when empty)."""
        with self._lock:
            slot = self._slot(self._handler(participant_identity), key_index)
            return None if slot.material is None else key_fingerprint(slot.material)

    def latest_key_index(self, participant_identity: str | None = None) -> int:
        """Key index most recently set or ratcheted for the participant (or the shared ring)."""
        with self._lock:
            return self._handler(participant_identity).latest_index

    def metrics(self) -> dict[str, dict[int, dict[str, int]]]:
        """Counts per participant and key index.

        Frame counts (``encrypted``, ``encrypt_failed``, ``decrypted``, ``auth_failed``,
        ``missing_key``, ``invalid_frame``, ``replayed``, ``sif_forwarded``,
        ``sif_dropped``; SIF frames under key index 0) come from the participant's
        cryptors; ``ratchets`` (set by the application), ``auto_ratchets`` (steps the
        receive window moved), ``ratchet_searches`` and ``ratchet_searches_limited``
        from the provider. Key indexes with no count are left out.
        """
        with self._lock:
            out: dict[str, dict[int, dict[str, int]]] = {}
            for identity, counters in self._counters.items():
                out[identity] = {int(k): dict(v) for k, v in counters.snapshot().items()}
            for (identity, key_index, kind), n in self._ratchet_stats.items():
                row = out.setdefault(identity, {}).setdefault(
                    key_index, dict.fromkeys(_native.FrameCounters.KINDS, 0)
                )
                row[kind] = row.get(kind, 0) + n
            for rows in out.values():
                for row in rows.values():
                    for kind in _PROVIDER_COUNTS:
                        row.setdefault(kind, 0)
            return out

    # -- shared key ----------------------------------------------------------------------

    def set_shared_key(self, key: KeyMaterial, key_index: int = 0) -> None:
        """Sets the shared key material at key_index (str = passphrase, its UTF-8 bytes)."""
        material = material_bytes(key)
        with self._lock:
            self._shared_used = True
            self._install(self._shared, key_index, material)
        self._notify(KeyOperation("set_shared_key", None, key_index, material))

    def export_shared_key(self, key_index: int = 0) -> bytes:
        """The current shared key material at key_index (after any ratchets)."""
        with self._lock:
            return self._export(self._shared, key_index, "shared key")

    def ratchet_shared_key(self, key_index: int = 0) -> bytes:
        """Ratchets the shared key at key_index; returns the new 32-byte material."""
        with self._lock:
            new = self._ratchet(self._shared, key_index)
        self._after_ratchet(KeyOperation("ratchet_shared_key", None, key_index, new))
        return new

    # -- per-participant keys ----------------------------------------------------------

    def set_key(self, participant_identity: str, key: KeyMaterial, key_index: int = 0) -> None:
        """Sets the participant's key material at key_index."""
        identity = self._identity(participant_identity)
        material = material_bytes(key)
        with self._lock:
            handler = self._participants.get(identity)
            if handler is None:
                handler = _KeyHandler(self._options.key_ring_size)
                self._install(handler, key_index, material)  # validates before registering
                self._participants[identity] = handler
                self._rebind(identity)
            else:
                self._install(handler, key_index, material)
        self._notify(KeyOperation("set_key", identity, key_index, material))

    def export_key(self, participant_identity: str, key_index: int = 0) -> bytes:
        """The participant's current key material at key_index (after any ratchets)."""
        identity = self._identity(participant_identity)
        with self._lock:
            handler = self._participants.get(identity)
            if handler is None:
                raise MissingKeyError(f"no keys set for participant {identity!r}")
            return self._export(handler, key_index, f"key of participant {identity!r}")

    def ratchet_key(self, participant_identity: str, key_index: int = 0) -> bytes:
        """Ratchets the participant's key at key_index; returns the new 32-byte material."""
        identity = self._identity(participant_identity)
        with self._lock:
            handler = self._participants.get(identity)
            if handler is None:
                raise MissingKeyError(f"no keys set for participant {identity!r}")
            new = self._ratchet(handler, key_index)
        self._after_ratchet(KeyOperation("ratchet_key", identity, key_index, new))
        return new

    # -- server-injected frames ----------------------------------------------------

    def set_sif_trailer(self, trailer: bytes) -> None:
        """Sets the room's SIF trailer (JoinResponse.sif_trailer); empty disables SIF handling."""
        self.sif.trailer = trailer

    @property
    def sif_trailer(self) -> bytes:
        return self.sif.trailer

    # -- events ------------------------------------------------------------------------

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Registers a callback; returns it (usable as a decorator).

        Events: ``"e2ee_state_changed"`` (participant_identity, state, cryptor),
        ``"key_ratcheted"`` (participant_identity or None for the shared ring, key_index,
        fingerprint of the new material), ``"e2ee_event"`` (an :class:`E2EEEvent`:
        failure started / recovered edges and other noteworthy changes, rate-limited).
        """
        if event not in ("e2ee_state_changed", "key_ratcheted", "e2ee_event"):
            raise InvalidArgumentError(f"unknown event {event!r}")
        with self._lock:
            self._listeners.setdefault(event, []).append(callback)
        return callback

    def off(self, event: str, callback: Callable[..., Any]) -> None:
        with self._lock:
            listeners = self._listeners.get(event, [])
            if callback in listeners:
                listeners.remove(callback)

    def add_key_observer(self, observer: Callable[[KeyOperation], Any]) -> None:
        """Calls observer(KeyOperation) after every change of key material (set, ratchet,
        auto-ratchet), outside the provider's lock. Used to mirror keys elsewhere."""
        with self._lock:
            self._key_observers.append(observer)

    def remove_key_observer(self, observer: Callable[[KeyOperation], Any]) -> None:
        with self._lock:
            if observer in self._key_observers:
                self._key_observers.remove(observer)

    def _notify(self, op: KeyOperation) -> None:
        with self._lock:
            observers = list(self._key_observers)
        for obs in observers:
            try:
                obs(op)
            except Exception:  # an observer must not break key handling
                logger.exception("framecryptor key observer failed")

    def _after_ratchet(self, op: KeyOperation) -> None:
        fp = key_fingerprint(op.material)
        who = op.participant_identity or ""
        with self._lock:
            kind = "auto_ratchets" if op.op == "auto_ratchet" else "ratchets"
            self._ratchet_stats[(who, op.key_index, kind)] += op.steps
        self._emit("key_ratcheted", op.participant_identity, op.key_index, fp)
        self._event(op.participant_identity, "key_ratcheted", op.key_index)
        self._notify(op)

    def _emit(self, event: str, *args: Any) -> None:
        with self._lock:
            listeners = list(self._listeners.get(event, ()))
        for cb in listeners:
            try:
                cb(*args)
            except Exception:  # a listener must not break the media path
                logger.exception("framecryptor %s listener failed", event)

    def __repr__(self) -> str:
        with self._lock:
            mode = "shared" if self._shared_used else "per-participant"
            return (
                f"<KeyProvider {mode} participants={len(self._participants)} "
                f"kdf={self._options.key_derivation_function.name} key_size={self._options.key_size}>"
            )

    # -- internals (used by the cryptors) --------------------------------------------

    @staticmethod
    def _identity(participant_identity: object) -> str:
        if not isinstance(participant_identity, str):
            raise InvalidArgumentError(
                f"participant_identity must be a str, not {type(participant_identity).__name__}"
            )
        return participant_identity

    def _handler(self, participant_identity: str | None) -> _KeyHandler:
        if participant_identity is None:
            return self._shared
        return self._participants.get(participant_identity, self._shared)

    def _slot(self, handler: _KeyHandler, key_index: int) -> _Slot:
        if not isinstance(key_index, int) or isinstance(key_index, bool):
            raise InvalidArgumentError(f"key_index must be an int, not {type(key_index).__name__}")
        if not 0 <= key_index < len(handler.slots):
            raise InvalidArgumentError(
                f"key_index {key_index} out of range for a key ring of {len(handler.slots)}"
            )
        return handler.slots[key_index]

    def _derive(self, material: bytes) -> _Derived:
        """AES key and next material of one material, computed once (one KDF run).

        The AES key goes from the KDF straight into OpenSSL; it never exists as a
        Python object (which could not be wiped)."""
        digest = hashlib.sha256(material).digest()
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None:
                self._cache.move_to_end(digest)
                return hit
        o = self._options
        key, next_material = _native.derive_key(
            material, o.ratchet_salt, int(o.key_derivation_function), o.key_size
        )
        derived = _Derived(key, next_material)
        with self._lock:
            self._cache[digest] = derived
            while len(self._cache) > _DERIVATION_CACHE_SIZE:
                self._cache.popitem(last=False)
        return derived

    def _install(self, handler: _KeyHandler, key_index: int, material: bytes) -> None:
        slot = self._slot(handler, key_index)
        derived = self._derive(material)
        slot.material = material
        slot.derived = derived
        slot.generation += 1
        slot.failures = 0
        slot.invalid = False
        handler.ring.set(key_index, derived.key)
        handler.latest_index = key_index

    def _export(self, handler: _KeyHandler, key_index: int, what: str) -> bytes:
        slot = self._slot(handler, key_index)
        if slot.material is None:
            raise MissingKeyError(f"no {what} at index {key_index}")
        return slot.material

    def _ratchet(self, handler: _KeyHandler, key_index: int) -> bytes:
        slot = self._slot(handler, key_index)
        if slot.derived is None:
            raise MissingKeyError(f"nothing to ratchet at index {key_index}")
        new_material = slot.derived.next_material
        self._install(handler, key_index, new_material)
        return new_material

    def _ratchet_chain(self, material: bytes, steps: int) -> Iterator[tuple[bytes, _Derived]]:
        """(material, derivation) for 1..steps ratchets ahead of material, derived lazily
        (a frame one step ahead costs one KDF run) and cached."""
        for _ in range(steps):
            material = self._derive(material).next_material
            yield material, self._derive(material)

    def _search_allowed(self, identity: str, key_index: int) -> bool:
        """Token bucket per sender and key index for ratchet-window searches."""
        rate = self._options.ratchet_search_rate
        if math.isinf(rate):
            return True
        burst = max(1.0, 2.0 * rate)
        now = time.monotonic()
        with self._lock:
            bucket = self._search_buckets.setdefault((identity, key_index), [burst, now])
            bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if bucket[0] >= 1.0:
                bucket[0] -= 1.0
                self._ratchet_stats[(identity, key_index, "ratchet_searches")] += 1
                return True
            self._ratchet_stats[(identity, key_index, "ratchet_searches_limited")] += 1
        self._event(identity, "ratchet_search_limited", key_index)
        return False

    def _ring_for(self, identity: str) -> _native.KeyRing:
        with self._lock:
            return self._handler(identity).ring

    def _register(self, cryptor: FrameCryptor) -> None:
        with self._lock:
            self._cryptors.add(cryptor)

    def _rebind(self, identity: str) -> None:
        """Points the cryptors of identity at its current key ring."""
        ring = self._handler(identity).ring
        for c in list(self._cryptors):
            if c.participant_identity == identity:
                c._core.key_ring = ring

    def _recover(
        self,
        identity: str,
        key_index: int,
        attempt: Callable[[_native.AesGcmKey], T],
    ) -> tuple[T, int] | None:
        """Tries the keys up to ratchet_window_size ratchets ahead of the slot's key.

        On success the slot moves to the ratcheted key (chained: a frame n steps
        ahead is recovered in one go) and (plaintext, steps) is returned.
        """
        window = self._options.ratchet_window_size
        with self._lock:
            handler = self._handler(identity)
            if window <= 0 or key_index >= len(handler.slots):
                return None
            slot = handler.slots[key_index]
            if slot.material is None or slot.invalid or slot.derived is None:
                return None
            material, generation, current = slot.material, slot.generation, slot.derived.key
        # The slot's key may have moved since the frame's first attempt (another
        # thread's recovery or ratchet): the current key gets one try first.
        try:
            return attempt(current), 0
        except DecryptionError:
            pass
        if not self._search_allowed(identity, key_index):
            return None
        for steps, (new_material, derived) in enumerate(self._ratchet_chain(material, window), start=1):
            try:
                plaintext = attempt(derived.key)
            except DecryptionError:
                continue
            with self._lock:
                # Commit only if nobody replaced the key in the meantime.
                committed = slot.generation == generation
                if committed:
                    self._install(handler, key_index, new_material)
            if committed:
                owner = None if handler is self._shared else identity
                self._after_ratchet(KeyOperation("auto_ratchet", owner, key_index, new_material, steps))
            return plaintext, steps
        return None

    def _record_failure(self, identity: str, key_index: int) -> bool:
        """Counts a decryption failure; returns True when the key just became invalid."""
        tolerance = self._options.failure_tolerance
        with self._lock:
            handler = self._handler(identity)
            if key_index >= len(handler.slots):
                return False
            slot = handler.slots[key_index]
            slot.failures += 1
            handler.failing = True
            if (
                tolerance >= 0
                and slot.failures > tolerance
                and not slot.invalid
                and slot.material is not None
            ):
                # Frames at this index are refused (MissingKeyError) until a new key is set.
                slot.invalid = True
                handler.ring.set(key_index, None)
                invalidated = True
            else:
                invalidated = False
        if invalidated:
            self._event(identity, "key_invalidated", key_index)
        return invalidated

    def _record_success(self, identity: str, key_index: int) -> None:
        with self._lock:
            handler = self._handler(identity)
            if handler.failing and 0 <= key_index < len(handler.slots):
                handler.slots[key_index].failures = 0
                handler.failing = any(s.failures for s in handler.slots)

    def _is_invalid(self, identity: str, key_index: int) -> bool:
        with self._lock:
            handler = self._handler(identity)
            return 0 <= key_index < len(handler.slots) and handler.slots[key_index].invalid

    def _state_changed(
        self, identity: str, old: EncryptionState, state: EncryptionState, cryptor: FrameCryptor
    ) -> None:
        self._emit("e2ee_state_changed", identity, state, cryptor)
        if state in _FAILING and old not in _FAILING:
            self._event(identity, "failure_started", None, state)
        elif state in _WORKING and old in _FAILING:
            self._event(identity, "recovered", None, state)

    def _event(
        self,
        identity: str | None,
        kind: str,
        key_index: int | None = None,
        state: EncryptionState | None = None,
    ) -> None:
        """Emits an E2EEEvent unless one of its kind went out for identity less than
        event_interval seconds ago (then it is counted into the next one)."""
        now = time.monotonic()
        with self._lock:
            last, held = self._event_times.get((identity, kind), (-math.inf, 0))
            if now - last < self._options.event_interval:
                self._event_times[(identity, kind)] = (last, held + 1)
                return
            self._event_times[(identity, kind)] = (now, 0)
        self._emit("e2ee_event", E2EEEvent(identity, kind, key_index, state, held))

    def _counters_for(self, identity: str) -> _native.FrameCounters:
        with self._lock:
            counters = self._counters.get(identity)
            if counters is None:
                counters = self._counters[identity] = _native.FrameCounters()
            return counters

    def _replay_guard_for(self, identity: str) -> _native.ReplayGuard | None:
        window = self._options.replay_window
        if window <= 0:
            return None
        with self._lock:
            guard = self._replay_guards.get(identity)
            if guard is None:
                guard = self._replay_guards[identity] = _native.ReplayGuard(window, max(1024, window))
            return guard

    # -- livekit.rtc bridge (optional extra: pip install framecryptor[livekit]) --------

    def room_options(self, **room_options: Any) -> Any:
        """A real ``livekit.rtc.RoomOptions(encryption=...)`` matching this provider (its
        options, and the current shared key at index 0 in shared-key mode); other
        RoomOptions fields can be passed as keywords."""
        from .livekit_bridge import room_options as _room_options

        return _room_options(self, **room_options)

    def attach(self, room: Any) -> Any:
        """Mirrors every key operation (set, ratchet, auto-ratchet, shared key) into a
        connected ``livekit.rtc.Room``'s key provider and forwards its
        ``e2ee_state_changed`` events to this provider's listeners (cryptor None).
        Returns the attachment (``.detach()``)."""
        from .livekit_bridge import attach as _attach

        return _attach(self, room)

    def detach(self, room: Any = None) -> int:
        """Stops mirroring into room (every attached room when None); returns the number detached."""
        from .livekit_bridge import detach as _detach

        return _detach(self, room)
