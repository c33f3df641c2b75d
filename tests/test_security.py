"""Protections beyond the reference SDKs: replay window, bounded ratchet work, fail-closed
policies, key hygiene, metrics and events."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import pytest

import framecryptor as fc
from framecryptor import _native

from helpers import make_provider
from vectors import h, options_for, original_material, params

FRAME = b"\xb1" + bytes(range(64))


def pair(**options: Any) -> tuple[fc.FrameCryptor, fc.FrameCryptor]:
    tx = fc.FrameCryptor(make_provider(), "alice", "vp8")
    rx = fc.FrameCryptor(make_provider(**options), "alice", "vp8")
    return tx, rx


# -- replay protection ----------------------------------------------------------------


def test_replayed_frame_raises_distinct_error_and_is_counted() -> None:
    tx, rx = pair(replay_window=64)
    events: list[fc.E2EEEvent] = []
    rx.key_provider.on("e2ee_event", events.append)
    wire = tx.encrypt(FRAME)
    assert rx.decrypt(wire) == FRAME
    with pytest.raises(fc.ReplayError) as info:
        rx.decrypt(wire)
    assert not isinstance(info.value, fc.DecryptionError)
    assert rx.state is fc.EncryptionState.OK  # the keys are fine: no failure state
    assert rx.decrypt(tx.encrypt(FRAME)) == FRAME
    m = rx.key_provider.metrics()["alice"][0]
    assert (m["decrypted"], m["replayed"]) == (2, 1)
    assert [e.kind for e in events] == ["replay_detected"]


def test_replay_window_accepts_reordering_once_and_refuses_too_old() -> None:
    tx, rx = pair(replay_window=16)
    wires = [tx.encrypt(FRAME) for _ in range(40)]
    for i in [5, 3, 4, 0, 1, 2] + [i for i in range(6, 40) if i != 20]:  # reordered, 20 held back
        assert rx.decrypt(wires[i]) == FRAME
    for i in (39, 30, 24):  # seen already
        with pytest.raises(fc.ReplayError):
            rx.decrypt(wires[i])
    with pytest.raises(fc.ReplayError):  # never seen, but 19 behind the newest of a 16-frame window
        rx.decrypt(wires[20])


def test_replay_detected_across_tracks_and_after_ratchet_fresh_window() -> None:
    kp_tx, kp_rx = make_provider(), make_provider(replay_window=32)
    video_tx = fc.FrameCryptor(kp_tx, "alice", "vp8")
    video_rx = fc.FrameCryptor(kp_rx, "alice", "vp8")
    other_rx = fc.FrameCryptor(kp_rx, "alice", "vp8")  # another receiver of the same sender
    wire = video_tx.encrypt(FRAME)
    assert video_rx.decrypt(wire) == FRAME
    with pytest.raises(fc.ReplayError):
        other_rx.decrypt(wire)
    kp_tx.ratchet_key("alice")
    kp_rx.ratchet_key("alice")
    assert video_rx.decrypt(video_tx.encrypt(FRAME)) == FRAME


def test_concurrent_replays_accepted_exactly_once() -> None:
    tx, rx = pair(replay_window=128)
    wire = tx.encrypt(b"\xb1" + bytes(5000))  # above the GIL threshold: decrypts run in parallel
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            rx.decrypt(wire)
            result = "ok"
        except fc.ReplayError:
            result = "replay"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["replay"] * 7


@pytest.mark.parametrize("v", params("frame", lambda v: v["ciphertext"] and v["codec"] in ("vp8", "h264")))
def test_replay_of_livekit_client_frames_detected(v: dict[str, Any]) -> None:
    kp = fc.KeyProvider(options_for(v["key"], replay_window=64))
    kp.set_key("alice", h(v["key"]["materialHex"]), v["key"]["keyIndex"])
    rx = fc.FrameCryptor(kp, "alice", v["codec"])
    wire = h(v["ciphertext"])
    if not wire:
        return
    rx.decrypt(wire)
    with pytest.raises(fc.ReplayError):
        rx.decrypt(wire)


def test_replay_guard_memory_is_bounded_for_per_frame_prefixes(kp: fc.KeyProvider) -> None:
    """livekit-client-like IVs change their first 8 bytes every frame (one stream per
    frame): the guard remembers a bounded number of recent streams exactly."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from helpers import aes_key

    aes = AESGCM(aes_key(kp))
    wires = []
    for i in range(500):
        iv = i.to_bytes(4, "big") * 3
        wires.append(b"\x78" + aes.encrypt(iv, b"x", b"\x78") + iv + b"\x0c\x00")
    rx = fc.FrameCryptor(kp, "alice", "opus")
    rx._core.replay_guard = _native.ReplayGuard(64, 32)  # at most 32 streams
    for w in wires:
        assert rx.decrypt(w) == b"\x78x"
    with pytest.raises(fc.ReplayError):
        rx.decrypt(wires[-1])  # recent: remembered
    assert rx.decrypt(wires[0]) == b"\x78x"  # evicted long ago: the documented limit


# -- bounded ratchet work ------------------------------------------------------------------


def test_forged_frame_flood_is_rate_limited() -> None:
    rx = fc.FrameCryptor(make_provider(ratchet_search_rate=1.0), "alice", "vp8")
    forged = fc.FrameCryptor(make_provider(key=b"attacker"), "alice", "vp8")
    events: list[fc.E2EEEvent] = []
    rx.key_provider.on("e2ee_event", events.append)
    for _ in range(200):
        with pytest.raises(fc.DecryptionError):
            rx.decrypt(forged.encrypt(FRAME))
    m = rx.key_provider.metrics()["alice"][0]
    assert m["auth_failed"] == 200
    assert 1 <= m["ratchet_searches"] <= 4  # burst of 2, refilled at 1/s while the loop runs
    assert m["ratchet_searches_limited"] == 200 - m["ratchet_searches"]
    assert "ratchet_search_limited" in [e.kind for e in events]


def test_ratchet_derivations_are_lazy_and_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = _native.derive_key

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(_native, "derive_key", counting)
    sender = make_provider(key=b"k")
    receiver = make_provider(key=b"k", ratchet_window_size=16, ratchet_search_rate=math.inf)
    sender.ratchet_key("alice")
    rx = fc.FrameCryptor(receiver, "alice", "opus")
    before = calls
    rx.decrypt(fc.FrameCryptor(sender, "alice", "opus").encrypt(b"\x78a"))
    assert calls - before <= 1  # one step ahead: one new derivation (the ratcheted key was cached by sender)
    wrong = fc.FrameCryptor(make_provider(key=b"other"), "alice", "opus")
    with pytest.raises(fc.DecryptionError):
        rx.decrypt(wrong.encrypt(b"\x78a"))
    first = calls
    for _ in range(5):
        with pytest.raises(fc.DecryptionError):
            rx.decrypt(wrong.encrypt(b"\x78a"))
    assert calls == first  # the 16-step chain was derived once, then served from the cache


# -- fail closed ----------------------------------------------------------------------------


def test_require_encryption_refuses_plaintext_both_ways() -> None:
    kp = make_provider(require_encryption=True)
    c = fc.FrameCryptor(kp, "alice", "vp8", enabled=False)
    for call in (
        c.encrypt,
        c.decrypt,
        c.decrypt_frame,
        lambda f: c.encrypt_many([f]),
        lambda f: c.decrypt_many([f]),
    ):
        with pytest.raises(fc.PlaintextRefusedError):
            call(FRAME)
    with pytest.raises(fc.PlaintextRefusedError):
        c.encrypt_into(FRAME, bytearray(200))
    c.set_enabled(True)
    assert c.decrypt(c.encrypt(FRAME)) == FRAME
    # without the option a disabled cryptor passes frames through
    assert fc.FrameCryptor(make_provider(), "alice", "vp8", enabled=False).decrypt(FRAME) == FRAME


def test_sif_forwarding_can_be_disabled() -> None:
    silence = b"\xf8\xff\xfe" + bytes(77)
    for forward, expect in ((True, silence), (False, None)):
        kp = make_provider(forward_sif_frames=forward)
        kp.set_sif_trailer(b"LK-ROCKS")
        c = fc.FrameCryptor(kp, "alice", "opus")
        if expect is None:
            with pytest.raises(fc.SifFrameDroppedError):
                c.decrypt(silence + b"LK-ROCKS")
            assert kp.metrics()["alice"][0]["sif_dropped"] == 1
        else:
            assert c.decrypt(silence + b"LK-ROCKS") == expect


# -- key hygiene -------------------------------------------------------------------------------


def test_aes_keys_never_become_python_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*a: Any, **k: Any) -> Any:
        raise AssertionError("AES key bytes derived in Python")

    import framecryptor.keys as keys_module

    monkeypatch.setattr(keys_module, "_kdf32", forbidden)
    monkeypatch.setattr(fc, "derive_key_material", forbidden)
    kp = make_provider(kdf=fc.KeyDerivationFunction.PBKDF2, key=b"secret")
    kp.ratchet_key("alice")
    c = fc.FrameCryptor(kp, "alice", "opus")
    assert c.decrypt(c.encrypt(b"\x78z")) == b"\x78z"


def test_no_key_material_in_logs_reprs_events(caplog: pytest.LogCaptureFixture) -> None:
    secret = b"\x13\x37" * 16
    kp = make_provider(key=secret, failure_tolerance=0, ratchet_window_size=2)
    events: list[Any] = []
    ops: list[Any] = []
    kp.on("e2ee_event", events.append)
    kp.add_key_observer(ops.append)
    kp.on("e2ee_state_changed", lambda *a: (_ for _ in ()).throw(RuntimeError("listener bug")))
    rx = fc.FrameCryptor(kp, "alice", "vp8")
    wrong = fc.FrameCryptor(make_provider(key=b"x"), "alice", "vp8")
    with caplog.at_level(logging.DEBUG, logger="framecryptor"):
        for _ in range(3):
            with pytest.raises(fc.E2EEError):
                rx.decrypt(wrong.encrypt(FRAME))
        kp.ratchet_key("alice")
    texts = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    texts += [
        repr(x)
        for x in (
            *events,
            *ops,
            kp,
            rx,
            kp.options,
            rx.decrypt_frame(fc.FrameCryptor(kp, "alice", "vp8").encrypt(FRAME)),
        )
    ]
    assert any("listener failed" in t for t in texts)  # the broken listener was logged, not raised
    derived = fc.derive_key_material(secret, kdf=fc.KeyDerivationFunction.HKDF)
    for t in texts:
        for needle in (
            secret.hex(),
            repr(secret),
            derived.hex(),
            repr(derived),
            kp.export_key("alice").hex(),
        ):
            assert needle not in t


# -- metrics and events -------------------------------------------------------------------------


def test_metrics_per_participant_and_key_index() -> None:
    kp = make_provider(ratchet_window_size=0)
    kp.set_key("alice", b"second", 3)
    tx0 = fc.FrameCryptor(kp, "alice", "vp8")
    tx3 = fc.FrameCryptor(kp, "alice", "vp8", key_index=3)
    rx = fc.FrameCryptor(kp, "alice", "vp8")
    for _ in range(4):
        rx.decrypt(tx0.encrypt(FRAME))
    rx.decrypt(tx3.encrypt(FRAME))
    bad = bytearray(tx3.encrypt(FRAME))
    bad[5] ^= 1
    with pytest.raises(fc.DecryptionError):
        rx.decrypt(bytes(bad))
    bad[-1] = 7
    with pytest.raises(fc.MissingKeyError):
        rx.decrypt(bytes(bad))
    with pytest.raises(fc.InvalidFrameError):
        rx.decrypt(b"\xb1" * 10)
    kp.ratchet_key("alice", 3)
    m = kp.metrics()["alice"]
    assert m[0]["encrypted"] == 4 and m[0]["decrypted"] == 4
    assert (m[3]["encrypted"], m[3]["decrypted"], m[3]["auth_failed"], m[3]["ratchets"]) == (2, 1, 1, 1)
    assert m[7]["missing_key"] == 1
    assert sum(row["invalid_frame"] for row in m.values()) == 1


def test_state_edges_are_rate_limited_events() -> None:
    kp = make_provider(ratchet_window_size=0, event_interval=3600)
    events: list[fc.E2EEEvent] = []
    kp.on("e2ee_event", events.append)
    rx = fc.FrameCryptor(kp, "alice", "opus")
    good = fc.FrameCryptor(make_provider(), "alice", "opus")
    wrong = fc.FrameCryptor(make_provider(key=b"wrong"), "alice", "opus")
    for _ in range(3):
        rx.decrypt(good.encrypt(b"\x78a"))
        with pytest.raises(fc.DecryptionError):
            rx.decrypt(wrong.encrypt(b"\x78a"))
    rx.decrypt(good.encrypt(b"\x78a"))
    assert [(e.kind, e.state) for e in events] == [
        ("failure_started", fc.EncryptionState.DECRYPTION_FAILED),
        ("recovered", fc.EncryptionState.OK),
    ]
    kp2 = make_provider(ratchet_window_size=0, event_interval=0)
    events2: list[fc.E2EEEvent] = []
    kp2.on("e2ee_event", events2.append)
    rx2 = fc.FrameCryptor(kp2, "alice", "opus")
    for _ in range(3):
        rx2.decrypt(good.encrypt(b"\x78a"))
        with pytest.raises(fc.DecryptionError):
            rx2.decrypt(wrong.encrypt(b"\x78a"))
    assert [e.kind for e in events2] == ["failure_started", "recovered"] * 2 + ["failure_started"]
    assert all(e.suppressed == 0 for e in events2)


def test_key_invalidation_event() -> None:
    kp = make_provider(ratchet_window_size=0, failure_tolerance=1)
    events: list[fc.E2EEEvent] = []
    kp.on("e2ee_event", events.append)
    rx = fc.FrameCryptor(kp, "alice", "opus")
    wrong = fc.FrameCryptor(make_provider(key=b"wrong"), "alice", "opus")
    for _ in range(2):
        with pytest.raises(fc.DecryptionError):
            rx.decrypt(wrong.encrypt(b"\x78a"))
    assert [e.kind for e in events] == ["failure_started", "key_invalidated"]
    assert events[1].key_index == 0


def test_vector_frames_still_decrypt_with_all_protections_on() -> None:
    """Protections must not cost interoperability: every JS frame once, with everything on."""
    for p in params("frame", lambda v: v["ciphertext"]):
        v = p.values[0]
        kp = fc.KeyProvider(
            options_for(v["key"], replay_window=1024, require_encryption=True, forward_sif_frames=False)
        )
        kp.set_key("alice", original_material(v["key"]), v["key"]["keyIndex"])
        for _ in range(v["key"]["ratchets"]):
            kp.ratchet_key("alice", v["key"]["keyIndex"])
        rx = fc.FrameCryptor(kp, "alice", v["codec"])
        assert rx.decrypt(h(v["ciphertext"]), {"key": True, "delta": False}.get(v["frameType"])) == h(
            v.get("decrypted") or v["plaintext"]
        )
