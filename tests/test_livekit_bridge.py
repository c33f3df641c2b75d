"""The livekit.rtc bridge (livekit 1.2): options, room options, key mirroring, state events.

No LiveKit server can run on these machines, so nothing here connects. Everything that
works without a connection uses the real livekit.rtc classes: E2EEOptions, KeyProviderOptions,
RoomOptions, the enums, Room.connect's conversion of the options into its FFI request, and the
room's E2EEManager/KeyProvider, whose methods build real FFI requests. Only what a connection
would provide is faked: ``FakeNative`` answers those FFI requests in place of the native
library (keeping keys and ratcheting them with `cryptography`, independently of framecryptor),
and ``FakeRoom`` stands in for the connected Room object (the room's real E2EEManager, and
livekit.rtc's own EventEmitter for on/off/emit).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from livekit import rtc
from livekit.rtc import _ffi_client
from livekit.rtc import e2ee as rtc_e2ee
from livekit.rtc._proto import ffi_pb2

import framecryptor as fc

HKDF_ = fc.KeyDerivationFunction.HKDF
PBKDF2 = fc.KeyDerivationFunction.PBKDF2


# ---------------------------------------------------------------------------
# options and enums (real livekit.rtc classes)


def test_to_livekit_builds_real_e2ee_options() -> None:
    opts = fc.KeyProviderOptions(
        shared_key=b"room secret", ratchet_salt=b"my salt", ratchet_window_size=5, failure_tolerance=3,
        key_ring_size=32, key_derivation_function=HKDF_,
    )  # fmt: skip
    e2ee = opts.to_livekit()
    assert type(e2ee) is rtc.E2EEOptions
    assert e2ee.encryption_type == rtc.EncryptionType.GCM
    kpo = e2ee.key_provider_options
    assert type(kpo) is rtc.KeyProviderOptions
    assert (kpo.shared_key, kpo.ratchet_salt, kpo.ratchet_window_size, kpo.failure_tolerance, kpo.key_ring_size) == (
        b"room secret", b"my salt", 5, 3, 32,
    )  # fmt: skip
    assert kpo.key_derivation_function == rtc.KeyDerivationFunction.HKDF
    assert (
        fc.KeyProviderOptions().to_livekit().key_provider_options.key_derivation_function
        == rtc.KeyDerivationFunction.PBKDF2
    )


def test_defaults_and_enums_agree_with_livekit_rtc() -> None:
    ours, theirs = fc.KeyProviderOptions(), rtc.KeyProviderOptions()
    for name in ("shared_key", "ratchet_salt", "ratchet_window_size", "failure_tolerance", "key_ring_size"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert int(ours.key_derivation_function) == theirs.key_derivation_function
    assert (fc.DEFAULT_RATCHET_SALT, fc.DEFAULT_RATCHET_WINDOW_SIZE, fc.DEFAULT_FAILURE_TOLERANCE, fc.DEFAULT_KEY_RING_SIZE) == (
        rtc_e2ee.DEFAULT_RATCHET_SALT, rtc_e2ee.DEFAULT_RATCHET_WINDOW_SIZE, rtc_e2ee.DEFAULT_FAILURE_TOLERANCE,
        rtc_e2ee.DEFAULT_KEY_RING_SIZE,
    )  # fmt: skip
    assert {s.name: s.value for s in fc.EncryptionState} == dict(rtc.EncryptionState.items())
    assert {k.name: k.value for k in fc.KeyDerivationFunction} == dict(rtc.KeyDerivationFunction.items())


def test_key_size_32_is_refused() -> None:
    with pytest.raises(fc.InvalidArgumentError, match="livekit.rtc has no key size option.*key_size=32") as e:
        fc.KeyProviderOptions(key_size=32).to_livekit()
    assert isinstance(e.value, ValueError)
    with pytest.raises(fc.InvalidArgumentError, match="key_size=32"):
        fc.KeyProvider(fc.KeyProviderOptions(key_size=32)).room_options()


def test_room_options_are_real_room_options() -> None:
    kp = fc.KeyProvider(fc.KeyProviderOptions(ratchet_window_size=4, key_derivation_function=HKDF_))
    ro = kp.room_options(auto_subscribe=False, dynacast=True)
    assert type(ro) is rtc.RoomOptions
    assert ro.e2ee is None  # not the deprecated field
    assert type(ro.encryption) is rtc.E2EEOptions
    assert (ro.auto_subscribe, ro.dynacast) == (False, True)
    assert ro.encryption.key_provider_options.shared_key is None  # per-participant mode
    assert ro.encryption.key_provider_options.ratchet_window_size == 4
    # Shared-key mode: the current shared key (after ratchets) goes into the options.
    kp.set_shared_key(b"shared")
    new = kp.ratchet_shared_key(0)
    assert kp.room_options().encryption.key_provider_options.shared_key == new
    with pytest.raises(fc.InvalidArgumentError, match="encryption"):
        kp.room_options(encryption=None)
    with pytest.raises(fc.InvalidArgumentError, match="e2ee"):
        kp.room_options(e2ee=None)


class _Stop(Exception):
    pass


class _CaptureConnect:
    """An FFI client that records Room.connect's request and stops there (no connection)."""

    class _Queue:
        def subscribe(self, *args: Any, **kwargs: Any) -> object:
            return object()

        def unsubscribe(self, queue: object) -> None:
            pass

    def __init__(self) -> None:
        self.requests: list[ffi_pb2.FfiRequest] = []
        self.queue = self._Queue()

    def request(self, req: ffi_pb2.FfiRequest) -> Any:
        self.requests.append(req)
        raise _Stop


def test_room_connect_converts_our_options_into_its_ffi_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Room.connect's own code copies RoomOptions.encryption into the connect request."""
    capture = _CaptureConnect()
    monkeypatch.setattr(_ffi_client.FfiClient, "_instance", capture)
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(ratchet_salt=b"salty", ratchet_window_size=3, failure_tolerance=4, key_ring_size=8,
                              key_derivation_function=HKDF_)
    )  # fmt: skip
    kp.set_shared_key(b"shh")

    async def connect() -> None:
        room = rtc.Room()
        with pytest.raises(_Stop):
            await room.connect("ws://127.0.0.1:9", "token", kp.room_options())

    asyncio.run(connect())  # a DeprecationWarning (options.e2ee) would fail here: warnings are errors
    (req,) = capture.requests
    options = req.connect.options
    assert options.HasField("encryption") and not options.HasField("e2ee")
    enc = options.encryption
    assert enc.encryption_type == rtc.EncryptionType.GCM
    k = enc.key_provider_options
    assert (k.shared_key, k.ratchet_salt, k.ratchet_window_size, k.failure_tolerance, k.key_ring_size) == (
        b"shh", b"salty", 3, 4, 8,
    )  # fmt: skip
    assert k.key_derivation_function == rtc.KeyDerivationFunction.HKDF


# ---------------------------------------------------------------------------
# attach / detach (real E2EEManager and KeyProvider; fake native side and room object)


def _ratchet(material: bytes, options: Any) -> bytes:
    """One ratchet step as the native key provider does it (restated with `cryptography`)."""
    if options.key_derivation_function == rtc.KeyDerivationFunction.HKDF:
        return HKDF(hashes.SHA256(), 32, options.ratchet_salt, bytes(128)).derive(material)
    return PBKDF2HMAC(hashes.SHA256(), 32, options.ratchet_salt, 100_000).derive(material)


class FakeNative:
    """Answers the E2EE FFI requests of a connected room as the native library would."""

    def __init__(self, options: Any, ratchet: Any = _ratchet) -> None:
        self.options = options
        self.ratchet = ratchet
        self.calls: list[tuple[Any, ...]] = []
        self.shared: dict[int, bytes] = {}
        self.keys: dict[tuple[str, int], bytes] = {}

    def request(self, req: ffi_pb2.FfiRequest) -> ffi_pb2.FfiResponse:
        assert req.WhichOneof("message") == "e2ee" and req.e2ee.room_handle == 7
        e = req.e2ee
        kind = e.WhichOneof("message")
        resp = ffi_pb2.FfiResponse()
        if kind == "set_shared_key":
            self.calls.append((kind, e.set_shared_key.key_index, e.set_shared_key.shared_key))
            self.shared[e.set_shared_key.key_index] = e.set_shared_key.shared_key
            resp.e2ee.set_shared_key.SetInParent()
        elif kind == "set_key":
            m = e.set_key
            self.calls.append((kind, m.participant_identity, m.key_index, m.key))
            self.keys[(m.participant_identity, m.key_index)] = m.key
            resp.e2ee.set_key.SetInParent()
        elif kind == "ratchet_shared_key":
            index = e.ratchet_shared_key.key_index
            self.calls.append((kind, index))
            self.shared[index] = self.ratchet(self.shared[index], self.options)
            resp.e2ee.ratchet_shared_key.new_key = self.shared[index]
        elif kind == "ratchet_key":
            slot = (e.ratchet_key.participant_identity, e.ratchet_key.key_index)
            self.calls.append((kind, *slot))
            self.keys[slot] = self.ratchet(self.keys[slot], self.options)
            resp.e2ee.ratchet_key.new_key = self.keys[slot]
        elif kind == "get_shared_key":
            resp.e2ee.get_shared_key.key = self.shared[e.get_shared_key.key_index]
        elif kind == "get_key":
            resp.e2ee.get_key.key = self.keys[(e.get_key.participant_identity, e.get_key.key_index)]
        else:  # pragma: no cover
            raise AssertionError(f"unexpected request {kind}")
        return resp


class FakeRoom(rtc.EventEmitter[str]):
    """The connected Room object: livekit.rtc's EventEmitter and the real E2EEManager it creates at connect."""

    def __init__(self, options: Any) -> None:
        super().__init__()
        self.e2ee_manager = rtc.E2EEManager(7, options.encryption or options.e2ee)

    def state_changed(self, identity: str | None, state: int) -> None:
        """What Room does for an e2ee_state_changed FFI event (room.py: emit(participant or None, state))."""
        participant = None if identity is None else type("P", (), {"identity": identity})()
        self.emit("e2ee_state_changed", participant, state)


def _kp(**options: Any) -> fc.KeyProvider:
    options.setdefault("key_derivation_function", HKDF_)
    return fc.KeyProvider(fc.KeyProviderOptions(**options))


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Returns connect(kp, **fake_native_kw) -> (room, native)."""

    def connect(kp: fc.KeyProvider, **kw: Any) -> tuple[FakeRoom, FakeNative]:
        ro = kp.room_options()
        native = FakeNative(ro.encryption.key_provider_options, **kw)
        monkeypatch.setattr(_ffi_client.FfiClient, "_instance", native)
        return FakeRoom(ro), native

    return connect


def test_attach_mirrors_keys_already_set(connected: Any) -> None:
    kp = _kp()
    kp.set_shared_key(b"shared-0", 0)
    kp.set_shared_key(b"shared-2", 2)
    kp.set_key("alice", b"alice-1", 1)
    kp.set_key("alice", b"alice-0", 0)  # alice's latest index: 0
    room, native = connected(kp)
    att = kp.attach(room)
    assert att.attached and att.room is room
    assert native.calls == [
        ("set_shared_key", 0, b"shared-0"),
        ("set_shared_key", 2, b"shared-2"),  # the latest index last
        ("set_key", "alice", 1, b"alice-1"),
        ("set_key", "alice", 0, b"alice-0"),
    ]
    assert room.e2ee_manager.key_provider.export_key("alice", 1) == b"alice-1"


def test_attach_mirrors_every_key_operation(connected: Any) -> None:
    kp = _kp()
    room, native = connected(kp)
    kp.attach(room)
    room_kp = room.e2ee_manager.key_provider
    kp.set_key("bob", "bob's passphrase", 3)
    kp.set_shared_key(b"everyone", 1)
    assert native.calls == [("set_key", "bob", 3, b"bob's passphrase"), ("set_shared_key", 1, b"everyone")]
    # Ratchets are performed on the room's side too, and give the same material.
    ours = kp.ratchet_key("bob", 3)
    assert native.calls[-1] == ("ratchet_key", "bob", 3)
    assert room_kp.export_key("bob", 3) == ours == kp.export_key("bob", 3)
    ours = kp.ratchet_shared_key(1)
    assert native.calls[-1] == ("ratchet_shared_key", 1)
    assert room_kp.export_shared_key(1) == ours


def test_pbkdf2_ratchets_agree(connected: Any) -> None:
    kp = _kp(key_derivation_function=PBKDF2)
    kp.set_key("carol", b"material")
    room, native = connected(kp)
    kp.attach(room)
    ours = kp.ratchet_key("carol", 0)
    assert room.e2ee_manager.key_provider.export_key("carol", 0) == ours
    assert [c[0] for c in native.calls] == ["set_key", "ratchet_key"]  # no correction needed


def test_a_diverging_ratchet_is_corrected_and_logged_by_fingerprint(
    connected: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kp = _kp()
    kp.set_key("alice", b"secret material")
    room, native = connected(kp, ratchet=lambda m, o: b"\x01" * 32)  # a room that ratchets differently
    kp.attach(room)
    with caplog.at_level(logging.WARNING, logger="framecryptor"):
        ours = kp.ratchet_key("alice", 0)
    assert native.calls[-2:] == [("ratchet_key", "alice", 0), ("set_key", "alice", 0, ours)]
    assert room.e2ee_manager.key_provider.export_key("alice", 0) == ours
    (record,) = caplog.records
    assert (
        fc.key_fingerprint(ours) in record.getMessage()
        and fc.key_fingerprint(b"\x01" * 32) in record.getMessage()
    )
    assert ours.hex() not in record.getMessage() and "secret" not in record.getMessage()


def test_a_room_that_cannot_ratchet_gets_our_material(
    connected: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kp = _kp()
    kp.set_key("alice", b"material")
    room, native = connected(kp)
    kp.attach(room)
    del native.keys[("alice", 0)]  # the room lost that key (e.g. reconnected)
    with caplog.at_level(logging.WARNING, logger="framecryptor"):
        ours = kp.ratchet_key("alice", 0)
    assert native.keys[("alice", 0)] == ours
    assert "could not ratchet key 0" in caplog.text


def test_auto_ratchet_is_mirrored_as_the_new_material(connected: Any) -> None:
    sender = _kp()
    sender.set_key("alice", b"k" * 16)
    for _ in range(3):
        sender.ratchet_key("alice", 0)
    packet = fc.DataCryptor(sender, "alice").encrypt_payload(b"ahead")
    kp = _kp()
    kp.set_key("alice", b"k" * 16)
    room, native = connected(kp)
    kp.attach(room)
    assert fc.DataCryptor(kp, "alice").decrypt_packet(packet, raw=True) == b"ahead"
    assert native.calls[-1] == ("set_key", "alice", 0, sender.export_key("alice", 0))


def test_state_events_reach_our_listeners(connected: Any) -> None:
    kp = _kp()
    room, _ = connected(kp)
    seen: list[tuple[Any, ...]] = []
    kp.on("e2ee_state_changed", lambda *a: seen.append(a))
    kp.attach(room)
    room.state_changed("bob", rtc.EncryptionState.DECRYPTION_FAILED)
    room.state_changed(None, rtc.EncryptionState.OK)
    room.state_changed("bob", 99)  # unknown state: logged, not forwarded
    assert seen == [("bob", fc.EncryptionState.DECRYPTION_FAILED, None), (None, fc.EncryptionState.OK, None)]
    assert isinstance(seen[0][1], fc.EncryptionState)


def test_detach_stops_mirroring_and_events(connected: Any) -> None:
    kp = _kp()
    room, native = connected(kp)
    seen: list[Any] = []
    kp.on("e2ee_state_changed", lambda *a: seen.append(a))
    att = kp.attach(room)
    assert kp.attach(room) is att  # attaching the same room twice: one attachment
    assert kp.detach() == 1 and not att.attached
    kp.set_key("alice", b"after detach")
    room.state_changed("alice", rtc.EncryptionState.OK)
    assert native.calls == [] and seen == []
    assert kp.detach() == 0
    att.detach()  # idempotent


def test_detach_one_room_of_two(connected: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    kp = _kp()
    room1, native1 = connected(kp)
    kp.attach(room1)
    room2 = FakeRoom(kp.room_options())
    kp.attach(room2)  # both rooms' requests reach native1 (one FFI client per process)
    kp.set_key("a", b"1")
    assert native1.calls.count(("set_key", "a", 0, b"1")) == 2
    assert kp.detach(room1) == 1
    kp.set_key("a", b"2")
    assert native1.calls.count(("set_key", "a", 0, b"2")) == 1


def test_attach_refuses_rooms_that_do_not_match(connected: Any) -> None:
    kp = _kp()
    room, _ = connected(kp)
    plain = FakeRoom(rtc.RoomOptions())  # connected without encryption
    with pytest.raises(fc.InvalidArgumentError, match="without encryption"):
        kp.attach(plain)
    with pytest.raises(fc.InvalidArgumentError, match="connect it first"):
        kp.attach(object())
    other = FakeRoom(_kp(ratchet_salt=b"other salt").room_options())
    with pytest.raises(fc.InvalidArgumentError, match="ratchet_salt"):
        kp.attach(other)
    pbkdf2_room = FakeRoom(_kp(key_derivation_function=PBKDF2).room_options())
    with pytest.raises(fc.InvalidArgumentError, match="key_derivation_function"):
        kp.attach(pbkdf2_room)
    with pytest.raises(fc.InvalidArgumentError, match="key_size"):
        _kp(key_size=32).attach(room)


def test_a_failing_room_does_not_break_the_provider(
    connected: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    kp = _kp()
    room, native = connected(kp)
    kp.attach(room)

    def broken(req: Any) -> Any:
        raise RuntimeError("room disconnected")

    monkeypatch.setattr(native, "request", broken)  # the native side fails from now on
    with caplog.at_level(logging.ERROR, logger="framecryptor"):
        kp.set_key("alice", b"still works")
    assert kp.export_key("alice", 0) == b"still works"
    assert "key observer failed" in caplog.text


# ---------------------------------------------------------------------------
# without the livekit package


def test_without_livekit_the_bridge_raises_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "livekit.rtc", None)  # as if `livekit` were not installed
    kp = _kp()
    for call in (fc.KeyProviderOptions().to_livekit, kp.room_options, lambda: kp.attach(object())):
        with pytest.raises(ImportError, match=r"pip install framecryptor\[livekit\]"):
            call()


def test_framecryptor_works_without_livekit() -> None:
    """A fresh interpreter where livekit.rtc cannot be imported: all but the bridge works."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["livekit.rtc"] = None
        import framecryptor as fc
        kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF))
        kp.set_key("alice", b"k" * 16)
        dc = fc.DataCryptor(kp, "alice")
        assert fc.decrypt_stream(dc, list(fc.encrypt_text_stream(dc, "hi"))).text == "hi"
        assert fc.FrameCryptor(kp, "alice", "vp8").decrypt(fc.FrameCryptor(kp, "alice", "vp8").encrypt(bytes(20), True)) == bytes(20)
        try:
            kp.room_options()
        except ImportError as e:
            print("IMPORTERROR", e)
        """
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "IMPORTERROR" in out.stdout and "pip install framecryptor[livekit]" in out.stdout


def test_importing_framecryptor_does_not_import_livekit_rtc() -> None:
    code = "import sys, framecryptor; print('livekit.rtc' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "False", out.stderr


def test_importing_livekit_rtc_raises_no_warnings() -> None:
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import livekit.rtc"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
