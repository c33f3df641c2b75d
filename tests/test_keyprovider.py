"""Key provider: options, modes, ring, derivation and ratchets."""

from __future__ import annotations

import threading

import pytest

import framecryptor as fc

from helpers import make_provider


def test_defaults_are_livekit_rtc_defaults() -> None:
    o = fc.KeyProviderOptions()
    assert (o.shared_key, o.ratchet_salt, o.ratchet_window_size, o.failure_tolerance, o.key_ring_size) == (
        None,
        b"LKFrameEncryptionKey",
        16,
        -1,
        16,
    )
    assert o.key_derivation_function is fc.KeyDerivationFunction.PBKDF2 and o.key_size == 16
    assert (fc.KeyDerivationFunction.PBKDF2, fc.KeyDerivationFunction.HKDF) == (0, 1)
    assert [s.value for s in fc.EncryptionState] == list(range(7))


def test_livekit_rtc_enums_have_the_same_values() -> None:
    rtc = pytest.importorskip("livekit.rtc")
    for s in fc.EncryptionState:
        assert rtc.EncryptionState.Value(s.name) == s.value
    for k in fc.KeyDerivationFunction:
        assert rtc.KeyDerivationFunction.Value(k.name) == k.value
    ours, theirs = fc.KeyProviderOptions(), rtc.KeyProviderOptions()
    for name in ("shared_key", "ratchet_salt", "ratchet_window_size", "failure_tolerance", "key_ring_size"):
        assert getattr(ours, name) == getattr(theirs, name)


def test_options_snapshot_and_str_salt() -> None:
    o = fc.KeyProviderOptions(ratchet_salt="custom-salt")
    assert o.ratchet_salt == b"custom-salt"
    kp = fc.KeyProvider(o)
    o.key_ring_size = 3
    assert kp.options.key_ring_size == 16


def test_shared_key_set_export_ratchet() -> None:
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF))
    assert not kp.shared_key_mode
    kp.set_shared_key("passphrase", 2)
    assert kp.shared_key_mode and kp.export_shared_key(2) == b"passphrase"
    new = kp.ratchet_shared_key(2)
    assert new == fc.ratchet_material(b"passphrase", kdf=fc.KeyDerivationFunction.HKDF) and len(new) == 32
    assert kp.export_shared_key(2) == new and kp.latest_key_index() == 2
    with pytest.raises(fc.MissingKeyError):
        kp.export_shared_key(0)


def test_options_shared_key_is_index_0() -> None:
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(shared_key=b"s", key_derivation_function=fc.KeyDerivationFunction.HKDF)
    )
    assert kp.export_shared_key(0) == b"s" and kp.key_fingerprint() == fc.key_fingerprint(b"s")


def test_per_participant_keys_are_separate() -> None:
    kp = make_provider()
    kp.set_key("bob", b"bob key", 1)
    assert kp.export_key("bob", 1) == b"bob key" and kp.export_key("alice") == b"k" * 16
    assert sorted(kp.participants()) == ["alice", "bob"]
    kp.ratchet_key("bob", 1)
    assert kp.export_key("alice") == b"k" * 16
    assert kp.latest_key_index("bob") == 1


def test_ring_size_bounds() -> None:
    for size in (1, 256):
        kp = make_provider(key_ring_size=size)
        kp.set_key("alice", b"last", size - 1)
        c = fc.FrameCryptor(kp, "alice", "opus", key_index=size - 1)
        assert c.decrypt(c.encrypt(b"\x78z")) == b"\x78z"
        with pytest.raises(fc.InvalidArgumentError):
            kp.set_key("alice", b"x", size)


def test_pbkdf2_and_key_size_32() -> None:
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_size=32))
    kp.set_key("alice", "pässword")
    key = kp._handler("alice").ring.get(0)
    assert key.key_size == 32
    assert fc.derive_key_material("pässword", key_size=32) == fc.ratchet_material("pässword")


def test_ratchet_returns_chain_and_is_cached() -> None:
    kp = make_provider(kdf=fc.KeyDerivationFunction.PBKDF2, key=b"chain")
    first = kp.ratchet_key("alice")
    second = kp.ratchet_key("alice")
    assert second == fc.ratchet_material(first)
    kp.set_key("alice", b"chain")
    assert kp.ratchet_key("alice") == first  # same material, same chain (served from the cache)


def test_concurrent_key_operations_are_consistent() -> None:
    kp = make_provider()
    tx = fc.FrameCryptor(kp, "alice", "vp8")
    errors: list[BaseException] = []

    def ratchet() -> None:
        try:
            for _ in range(50):
                kp.ratchet_key("alice")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def crypt() -> None:
        try:
            rx = fc.FrameCryptor(kp, "alice", "vp8")
            for _ in range(500):
                wire = tx.encrypt(b"\xb1" + bytes(3000))
                try:
                    assert rx.decrypt(wire) == b"\xb1" + bytes(3000)
                except fc.DecryptionError:
                    pass  # the key moved between encrypt and decrypt; never wrong output
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=ratchet)] + [threading.Thread(target=crypt) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = b"k" * 16
    for _ in range(50):
        expected = fc.ratchet_material(expected, kdf=fc.KeyDerivationFunction.HKDF)
    assert kp.export_key("alice") == expected


def test_key_observers_see_every_change_without_material_in_repr() -> None:
    sender = make_provider(key=b"one")
    receiver = make_provider(key=b"one", ratchet_window_size=4)
    ops: list[fc.KeyOperation] = []
    receiver.add_key_observer(ops.append)
    receiver.set_shared_key(b"shared", 1)
    receiver.ratchet_shared_key(1)
    receiver.set_key("bob", b"bob", 2)
    receiver.ratchet_key("bob", 2)
    sender.ratchet_key("alice")
    sender.ratchet_key("alice")
    fc.FrameCryptor(receiver, "alice", "opus").decrypt(
        fc.FrameCryptor(sender, "alice", "opus").encrypt(b"\x78a")
    )
    assert [(o.op, o.participant_identity, o.key_index, o.steps) for o in ops] == [
        ("set_shared_key", None, 1, 1),
        ("ratchet_shared_key", None, 1, 1),
        ("set_key", "bob", 2, 1),
        ("ratchet_key", "bob", 2, 1),
        ("auto_ratchet", "alice", 0, 2),
    ]
    assert ops[-1].material == sender.export_key("alice")
    for o in ops:
        assert f"<fingerprint {fc.key_fingerprint(o.material)}>" in repr(o)
        assert o.material.hex() not in repr(o) and repr(o.material) not in repr(o)
    receiver.remove_key_observer(ops.append)
    receiver.set_key("bob", b"x")
    assert len(ops) == 5
