"""Threads, buffers and memory.

- Results computed from several Python threads (and by the batch API's worker threads)
  equal the single-threaded results; concurrent encrypt/decrypt/ratchet on one key
  provider keeps keys, IVs and outputs consistent.
- Inputs are read in place (bytes, bytearray, memoryview, numpy) and each output is
  allocated once: observed as the peak resident memory of a fresh process.
- The GIL is released during large single calls and batches: observed as another Python
  thread making progress while the call runs.
- Long loops keep resident memory flat (a cheaper variant of bench/test_bench_memory.py).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import framecryptor as fc

import framegen
from helpers import CODECS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import memory

HKDF = fc.KeyDerivationFunction.HKDF
THREADS = 8


def provider(**options: Any) -> fc.KeyProvider:
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=HKDF, **options))
    kp.set_key("alice", b"thread test key material")
    return kp


def sample_frames(codec: str, count: int, seed: int = 1) -> list[tuple[bytes, bool]]:
    """(frame, key_frame) of mixed sizes, including H.26x frames whose IVs need escaping."""
    rng = random.Random(f"{codec}/{seed}")
    out = []
    for i in range(count):
        kf = i % 5 == 0
        size = rng.choice([20, 160, 1200, 5000]) if i % 7 else 30_000
        out.append((framegen.frame(rng, codec, size, kf), kf))
    return out


def run_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Runs target(i) on n threads started together; returns their results, re-raising errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[Exception] = []

    def main(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as e:  # surfaced in the test thread below
            errors.append(e)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def iv_of(wire: bytes) -> bytes:
    return wire[-14:-2]


# -- threaded results equal single-threaded results -----------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_decrypt_from_many_threads_equals_single_threaded(codec: str) -> None:
    kp = provider()
    sender = fc.FrameCryptor(kp, "alice", codec)
    batch = sample_frames(codec, 60)
    wires = [(sender.encrypt(f, kf), kf) for f, kf in batch]
    receiver = fc.FrameCryptor(kp, "alice", codec)
    expected = [receiver.decrypt(w, kf) for w, kf in wires]
    assert all(e == f or codec in ("h264", "h265") for e, (f, _) in zip(expected, batch))

    def work(i: int) -> list[bytes]:
        order = list(range(len(wires)))
        random.Random(i).shuffle(order)  # threads hit different frames at the same time
        got: dict[int, bytes] = {}
        for _ in range(5):
            for j in order:
                w, kf = wires[j]
                got[j] = receiver.decrypt(w, kf)  # one cryptor shared by every thread
        return [got[j] for j in range(len(wires))]

    for result in run_threads(THREADS, work):
        assert result == expected


@pytest.mark.parametrize("codec", ["opus", "vp8", "vp9"])
def test_encrypt_from_many_threads_decrypts_and_never_reuses_an_iv(codec: str) -> None:
    kp = provider()
    sender = fc.FrameCryptor(kp, "alice", codec)  # one cryptor, one key, eight threads
    batch = sample_frames(codec, 50)

    def work(i: int) -> list[tuple[int, bytes]]:
        return [(j, sender.encrypt(f, kf)) for _ in range(10) for j, (f, kf) in enumerate(batch)]

    outputs = [x for r in run_threads(THREADS, work) for x in r]
    receiver = fc.FrameCryptor(kp, "alice", codec)
    for j, wire in outputs:
        frame, kf = batch[j]
        assert receiver.decrypt(wire, kf) == frame
    ivs = {iv_of(w) for _, w in outputs}
    assert len(ivs) == len(outputs) == THREADS * 10 * len(batch)
    key = kp._handler("alice").ring.get(0)
    assert key is not None and key.ivs_issued == len(outputs)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_batches_with_threads_equal_single_calls(codec: str, threads: int) -> None:
    kp = provider()
    sender = fc.FrameCryptor(kp, "alice", codec)
    receiver = fc.FrameCryptor(kp, "alice", codec)
    batch = sample_frames(codec, 80)
    plain = [f for f, _ in batch]
    flags = [kf for _, kf in batch]
    expected = [receiver.decrypt(sender.encrypt(f, kf), kf) for f, kf in batch]

    # batch encryption, decrypted one by one and as a batch
    wires = sender.encrypt_many(plain, flags, threads=threads)
    assert [receiver.decrypt(w, kf) for w, kf in zip(wires, flags)] == expected
    assert receiver.decrypt_many(wires, flags, threads=threads) == expected
    if codec not in ("h264", "h265"):  # (their trailers are escaped)
        assert len({iv_of(w) for w in wires}) == len(wires)

    # single-call encryption, decrypted as a batch
    singles = [sender.encrypt(f, kf) for f, kf in batch]
    assert receiver.decrypt_many(singles, flags, threads=threads) == expected
    # every frame plain, framecryptor's own check
    if codec not in ("h264", "h265"):
        assert expected == plain


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_batch_decrypt_failures_match_single_calls(threads: int) -> None:
    kp = provider(ratchet_window_size=2)
    sender = fc.FrameCryptor(kp, "alice", "h264")
    wires = [sender.encrypt(f, kf) for f, kf in sample_frames("h264", 30)]
    tampered = bytearray(wires[3])
    tampered[len(tampered) // 2] ^= 1
    bad = {
        3: bytes(tampered),  # DecryptionError (after the ratchet window)
        7: wires[7][:-1] + b"\x05",  # MissingKeyError: nothing at index 5
        11: b"\x00\x00\x00\x01\x65",  # InvalidFrameError: too short for a trailer
        13: wires[13][:-2] + b"\x0b\x00",  # InvalidFrameError: IV length byte 11
        17: b"",  # empty frames pass through
    }
    frames_in = [bad.get(i, w) for i, w in enumerate(wires)]

    def single(w: bytes) -> bytes | type[BaseException]:
        try:
            return fc.FrameCryptor(kp, "alice", "h264").decrypt(w)
        except fc.E2EEError as e:
            return type(e)

    expected = [single(w) for w in frames_in]
    assert expected[3] is fc.DecryptionError and expected[7] is fc.MissingKeyError
    assert (
        expected[11] is fc.InvalidFrameError and expected[13] is fc.InvalidFrameError and expected[17] == b""
    )
    got = fc.FrameCryptor(kp, "alice", "h264").decrypt_many(frames_in, threads=threads)
    for i, (g, e) in enumerate(zip(got, expected)):
        if isinstance(e, type):
            assert type(g) is e and getattr(g, "index", None) == i
        else:
            assert g == e


def test_encrypt_many_fails_closed_with_the_index_of_the_bad_frame() -> None:
    sender = fc.FrameCryptor(provider(), "alice", "vp8")
    batch = [b"\x01" + bytes(100)] * 20
    batch[9] = b"\x00\x01"  # a VP8 key frame shorter than its 10-byte header
    with pytest.raises(fc.InvalidFrameError) as info:
        sender.encrypt_many(batch, True, threads=2)
    assert getattr(info.value, "index", None) == 9


# -- concurrent encrypt / decrypt / ratchet on one provider ----------------------------------


def ratchet_chain(material: bytes, steps: int) -> list[bytes]:
    chain = []
    for _ in range(steps):
        material = fc.ratchet_material(material, kdf=HKDF)
        chain.append(material)
    return chain


@pytest.mark.parametrize("shared", [False, True])
def test_concurrent_encrypt_decrypt_and_ratchet(shared: bool) -> None:
    """Index 0 is never ratcheted: its frames always decrypt. Index 1 is ratcheted 120 times
    by four threads while two others use it: each ratchet returns a distinct next step of the
    chain, and a frame of index 1 either decrypts to its plaintext or fails authentication
    (a newer key replaced the one it was encrypted with) -- never anything else."""
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=HKDF, ratchet_window_size=4))
    m0, m1 = b"index zero material", b"index one material"
    if shared:
        kp.set_shared_key(m0, 0)
        kp.set_shared_key(m1, 1)
    else:
        kp.set_key("alice", m0, 0)
        kp.set_key("alice", m1, 1)

    def ratchet() -> bytes:
        return kp.ratchet_shared_key(1) if shared else kp.ratchet_key("alice", 1)

    def export() -> bytes:
        return kp.export_shared_key(1) if shared else kp.export_key("alice", 1)

    batch = sample_frames("vp8", 40)
    ratchets_per_thread = 30
    done = threading.Event()

    def ratcheter() -> list[bytes]:
        return [ratchet() for _ in range(ratchets_per_thread)]

    def user(key_index: int) -> tuple[int, int]:
        sender = fc.FrameCryptor(kp, "alice", "vp8", key_index=key_index)
        receiver = fc.FrameCryptor(kp, "alice", "vp8")
        ok = failed = 0
        rounds = 0
        while rounds < 3 or not done.is_set():
            for f, kf in batch:
                wire = sender.encrypt(f, kf)
                try:
                    plain = receiver.decrypt(wire, kf)
                except fc.DecryptionError:
                    assert key_index == 1, "a frame of the never-ratcheted index failed"
                    failed += 1
                    continue
                assert plain == f
                ok += 1
            rounds += 1
        return ok, failed

    roles: list[Callable[[], Any]] = [ratcheter] * 4 + [lambda: user(0)] * 3 + [lambda: user(1)] * 2
    finished: list[int] = []
    lock = threading.Lock()

    def role(i: int) -> Any:
        r = roles[i]()
        if i < 4:
            with lock:
                finished.append(i)
                if len(finished) == 4:
                    done.set()  # the users stop once every ratcheter has finished
        return r

    results = run_threads(len(roles), role)
    total = 4 * ratchets_per_thread
    chain = ratchet_chain(m1, total)
    returned = [m for r in results[:4] for m in r]
    assert sorted(returned) == sorted(chain)  # every step once: no lost or repeated ratchet
    for r in results[:4]:
        assert r == sorted(r, key=chain.index)  # each thread saw the chain move forward
    assert export() == chain[-1]
    for ok, failed in results[4:7]:
        assert ok >= 3 * len(batch) and failed == 0
    for ok, failed in results[7:]:
        assert ok + failed >= 3 * len(batch)


def test_recovery_racing_another_recovery_still_decrypts() -> None:
    """The interleaving of the threaded test below, made deterministic: frame 0 fails with the
    old key; before its ratchet search runs, another frame's search moves the slot three steps
    ahead (what a second thread does). Frame 0 must still decrypt with that key."""
    material = b"receiver ratchet material"
    sender_kp = provider()
    sender_kp.set_key("alice", material)
    for _ in range(3):
        sender_kp.ratchet_key("alice")
    sender = fc.FrameCryptor(sender_kp, "alice", "vp8")
    frames_in = [b"\x01" + bytes([i]) * 50 for i in range(2)]
    wires = [sender.encrypt(f) for f in frames_in]
    kp = provider(ratchet_window_size=8)
    kp.set_key("alice", material)
    receiver = fc.FrameCryptor(kp, "alice", "vp8")
    other = fc.FrameCryptor(kp, "alice", "vp8")
    original = kp._recover

    def racing(*args: Any, **kwargs: Any) -> Any:
        kp._recover = original  # type: ignore[method-assign]
        assert other.decrypt(wires[1]) == frames_in[1]  # the other thread wins the race
        return original(*args, **kwargs)

    kp._recover = racing  # type: ignore[method-assign]
    assert receiver.decrypt(wires[0]) == frames_in[0]


# Non-deterministic twin of the test above (failed in most runs while the race existed).
def test_concurrent_receivers_ratchet_once() -> None:
    """Frames from a sender three ratchets ahead, decrypted by eight threads at once: every
    frame decrypts, and the receiver's key moves exactly three steps (not three per thread)."""
    material = b"receiver ratchet material"
    sender_kp = provider()
    sender_kp.set_key("alice", material)
    for _ in range(3):
        sender_kp.ratchet_key("alice")
    sender = fc.FrameCryptor(sender_kp, "alice", "h264")
    batch = sample_frames("h264", 20)
    wires = [(sender.encrypt(f, kf), kf) for f, kf in batch]
    expected = [fc.FrameCryptor(sender_kp, "alice", "h264").decrypt(w, kf) for w, kf in wires]

    receiver_kp = provider(ratchet_window_size=8)
    receiver_kp.set_key("alice", material)
    steps: list[int] = []
    receiver_kp.add_key_observer(lambda op: steps.append(op.steps) if op.op == "auto_ratchet" else None)
    receiver = fc.FrameCryptor(receiver_kp, "alice", "h264")
    results = run_threads(THREADS, lambda i: [receiver.decrypt(w, kf) for w, kf in wires])
    for r in results:
        assert r == expected
    assert receiver_kp.export_key("alice") == ratchet_chain(material, 3)[-1]
    assert steps == [3]
    assert receiver.state is fc.EncryptionState.OK or receiver.state is fc.EncryptionState.KEY_RATCHETED


# -- buffers -----------------------------------------------------------------------------------


def buffer_kinds(data: bytes) -> dict[str, Any]:
    return {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "memoryview slice": memoryview(b"xx" + data + b"yy")[2:-2],
        "numpy uint8": np.frombuffer(data, np.uint8).copy(),
        "numpy 2-d": np.frombuffer(data + bytes(-len(data) % 4), np.uint8).reshape(4, -1)
        if len(data) % 4 == 0
        else np.frombuffer(data, np.uint8).copy(),
    }


@pytest.mark.parametrize("codec", CODECS)
def test_every_buffer_kind_in_every_api(codec: str) -> None:
    kp = provider()
    sender = fc.FrameCryptor(kp, "alice", codec)
    receiver = fc.FrameCryptor(kp, "alice", codec)
    frame, kf = sample_frames(codec, 3)[1]
    expected = receiver.decrypt(sender.encrypt(frame, kf), kf)
    for name, buf in buffer_kinds(frame).items():
        wire = sender.encrypt(buf, kf)
        assert type(wire) is bytes, name
        for wname, wbuf in buffer_kinds(wire).items():
            assert receiver.decrypt(wbuf, kf) == expected, (name, wname)
        out = np.zeros(sender.max_encrypted_size(len(frame)), np.uint8)
        n = sender.encrypt_into(buf, out, kf)
        back = np.zeros(receiver.max_decrypted_size(n), np.uint8)
        m = receiver.decrypt_into(out[:n], back, kf)
        assert back[:m].tobytes() == expected, name
    kinds = list(buffer_kinds(frame).values())
    wires = sender.encrypt_many(kinds, kf, threads=2)
    assert receiver.decrypt_many([np.frombuffer(w, np.uint8) for w in wires], kf, threads=2) == [
        expected
    ] * len(kinds)


def test_into_writes_the_callers_array_in_place() -> None:
    kp = provider()
    sender = fc.FrameCryptor(kp, "alice", "vp8")
    receiver = fc.FrameCryptor(kp, "alice", "vp8")
    frame = np.frombuffer(b"\x01" + bytes(range(200)), np.uint8)
    arena = np.full(4096, 0xEE, np.uint8)
    address = arena.__array_interface__["data"][0]
    n = sender.encrypt_into(frame, arena[100:], False)
    assert n == frame.nbytes + 30
    assert arena.__array_interface__["data"][0] == address
    assert (arena[:100] == 0xEE).all() and (arena[100 + n :] == 0xEE).all()  # nothing outside its slice
    assert receiver.decrypt(arena[100 : 100 + n]) == frame.tobytes()  # type: ignore[arg-type]
    m = receiver.decrypt_into(arena[100 : 100 + n], arena[2000:])
    assert arena[2000 : 2000 + m].tobytes() == frame.tobytes()


def test_into_refuses_unusable_outputs() -> None:
    sender = fc.FrameCryptor(provider(), "alice", "vp8")
    frame = b"\x01" + bytes(100)
    with pytest.raises(fc.InvalidArgumentError):
        sender.encrypt_into(frame, np.zeros(sender.max_encrypted_size(len(frame)) - 1, np.uint8))
    with pytest.raises(fc.InvalidBufferError):
        sender.encrypt_into(frame, np.zeros(1000, np.uint8)[::2])  # strided
    with pytest.raises(fc.InvalidBufferError):
        sender.encrypt_into(frame, bytes(1000))  # read-only
    with pytest.raises(fc.InvalidBufferError):
        sender.encrypt(np.zeros((20, 20), np.uint8)[:, :10])  # type: ignore[arg-type]  # strided input


def test_disabled_cryptor_returns_the_same_bytes_object() -> None:
    c = fc.FrameCryptor(provider(), "alice", "vp8", enabled=False)
    frame = b"\x01" + bytes(100)
    assert c.encrypt(frame) is frame and c.decrypt(frame) is frame


_PEAK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import framecryptor as fc

    def peak():
        # VmHWM: the peak resident set of this process's own memory (ru_maxrss would start
        # at the parent's resident size: Linux carries it over fork and exec)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024

    api = sys.argv[1]
    n = 64 << 20
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF))
    kp.set_key("alice", b"peak")
    c = fc.FrameCryptor(kp, "alice", "vp8")
    frame = np.full(n, 7, np.uint8)  # the input: 64 MiB, resident
    frame[0] = 1  # a VP8 delta frame
    parts = [frame[i : i + (8 << 20)] for i in range(0, n, 8 << 20)]  # numpy views, no copies
    if api == "encrypt":
        p = peak(); out = c.encrypt(frame); growth = peak() - p
        assert c.decrypt(out) == frame.tobytes()
    elif api == "decrypt":
        wire = np.frombuffer(c.encrypt(frame), np.uint8)
        p = peak(); out = c.decrypt(wire); growth = peak() - p
        assert out == frame.tobytes()
    elif api == "encrypt_into":
        dst = np.full(c.max_encrypted_size(n), 1, np.uint8)
        p = peak(); k = c.encrypt_into(frame, dst); growth = peak() - p
        assert c.decrypt(dst[:k]) == frame.tobytes()
    elif api == "decrypt_into":
        wire = np.frombuffer(c.encrypt(frame), np.uint8)
        dst = np.full(c.max_decrypted_size(wire.nbytes), 1, np.uint8)
        p = peak(); k = c.decrypt_into(wire, dst); growth = peak() - p
        assert (dst[:k] == frame).all()
    elif api == "encrypt_many":
        p = peak(); outs = c.encrypt_many(parts, threads=2); growth = peak() - p
        assert c.decrypt_many(outs) == [x.tobytes() for x in parts]
    elif api == "decrypt_many":
        wires = [np.frombuffer(w, np.uint8) for w in c.encrypt_many(parts)]
        p = peak(); outs = c.decrypt_many(wires, threads=2); growth = peak() - p
        assert outs == [x.tobytes() for x in parts]
    print(json.dumps(growth))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM from /proc/self/status")
@pytest.mark.parametrize(
    "api", ["encrypt", "decrypt", "encrypt_many", "decrypt_many", "encrypt_into", "decrypt_into"]
)
def test_inputs_are_not_copied_and_outputs_allocated_once(api: str) -> None:
    """In a fresh process holding a 64 MiB numpy frame, encrypting or decrypting it raises the
    peak resident memory by about one frame (the output), not two (an input copy, or an output
    built and then copied); the *_into variants, writing to a preallocated array, by nothing."""
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, api], check=False, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    growth = json.loads(proc.stdout)
    mib = 1 << 20
    if api.endswith("_into"):
        assert growth < 8 * mib, growth / mib
    else:
        assert 48 * mib < growth < 96 * mib, growth / mib


# -- the GIL -----------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["encrypt", "decrypt", "encrypt_many", "decrypt_many"])
def test_gil_is_released_during_large_calls(api: str) -> None:
    """With a switch interval longer than the call, another Python thread can only run while
    the call has released the GIL: a counter it increments moves during the call."""
    kp = provider()
    c = fc.FrameCryptor(kp, "alice", "vp8")
    frame = b"\x01" + bytes(32 << 20)
    wire = c.encrypt(frame)
    parts = [frame[: 4 << 20]] * 8
    wires = c.encrypt_many(parts)
    call: Callable[[], object] = {
        "encrypt": lambda: c.encrypt(frame),
        "decrypt": lambda: c.decrypt(wire),
        "encrypt_many": lambda: c.encrypt_many(parts, threads=1),
        "decrypt_many": lambda: c.decrypt_many(wires, threads=1),
    }[api]
    counter = [0]
    stop = False
    go = threading.Event()

    def spin() -> None:
        go.wait()
        while not stop:
            counter[0] += 1
            time.sleep(0)  # lets the main thread take the GIL back as soon as it wants it

    old = sys.getswitchinterval()
    t = threading.Thread(target=spin)
    t.start()
    moved = []
    try:
        sys.setswitchinterval(2.0)
        go.set()
        for _ in range(3):
            before = counter[0]
            call()
            moved.append(counter[0] - before)
    finally:
        stop = True
        sys.setswitchinterval(old)
        t.join()
    assert max(moved) > 0, moved


# -- memory ------------------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_long_loops_keep_rss_flat() -> None:
    """200k frames through each API (bench/test_bench_memory.py runs 1M): resident memory
    after the loop is within 2 MiB of what it was after the warm-up."""
    for r in memory.leak_loops(200_000):
        assert r.growth < 2 << 20, (r.name, r.growth)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_leak_check_sees_a_leak() -> None:
    """The measurement can fail: keeping 1 KiB per frame alive shows up."""
    kept: list[bytes] = []
    c = fc.FrameCryptor(provider(), "alice", "opus")
    frame = b"\x78" + bytes(1023)
    r = memory._measure("leaky", 20_000, 1, lambda: kept.append(c.encrypt(frame)))
    assert r.growth > 10 << 20
