"""The benchmarks' pure-Python baseline (bench/pyref.py) implements the same format.

Checked against the real livekit-client 2.23.0 frames and key chains (tests/vectors) and
against framecryptor in both directions, for every codec and many sizes, so a benchmark
never compares framecryptor with something that does less work. Also: the benchmark
cases set up and run (they never rot), and the native raw AES-GCM loop behind the
"OpenSSL limit" works.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framecryptor as fc
from framecryptor import _native

import framegen
from helpers import CODECS, js_find_nalu_indices, js_layout, js_parse_rbsp, js_write_rbsp
from vectors import h, kdf_vectors, key_frame_of, of_type, original_material, params

# bench/ lives next to tests/ (not installed): import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import cases, frames, pyref

MATERIAL = b"pyref test key material"
KEY = pyref.derive_key(MATERIAL, kdf="hkdf")


def provider() -> fc.KeyProvider:
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF))
    kp.set_key("alice", MATERIAL)
    return kp


def pair(codec: str) -> tuple[fc.FrameCryptor, pyref.PyFrameCryptor]:
    return fc.FrameCryptor(provider(), "alice", codec), pyref.PyFrameCryptor(KEY, codec)


# -- against livekit-client 2.23.0 -------------------------------------------------------

JS_DECRYPTED = params("frame", lambda v: v["ciphertext"] is not None and v["js"].get("decrypt") == "ok")


@pytest.mark.parametrize("v", JS_DECRYPTED)
def test_pyref_decrypts_livekit_client_frames(v: dict[str, Any]) -> None:
    key = v["key"]
    p = pyref.PyFrameCryptor(h(key["aesKey"]), v["codec"], key["keyIndex"])
    expected = h(v.get("decrypted") or v["plaintext"])
    assert p.decrypt(h(v["ciphertext"]), key_frame_of(v)) == expected


@pytest.mark.parametrize(
    "v", params("frame", lambda v: v["ciphertext"] is not None and not v.get("passthrough"))
)
def test_pyref_sender_layout_is_livekit_clients(v: dict[str, Any]) -> None:
    """pyref puts the same clear header on the wire as livekit-client did for the same plaintext."""
    key = v["key"]
    p = pyref.PyFrameCryptor(h(key["aesKey"]), v["codec"], key["keyIndex"])
    wire = p.encrypt(h(v["plaintext"]), bool(key_frame_of(v)))
    parsed = v["parsed"]
    assert wire[: parsed["headerLen"]] == h(parsed["header"])
    assert pyref.rbsp_unescape(wire)[-2:] == bytes([12, key["keyIndex"]])


@pytest.mark.parametrize("v", params("ratchet"))
def test_pyref_key_chain_matches_livekit_client(v: dict[str, Any]) -> None:
    kdf: pyref.Kdf = "pbkdf2" if v["kdf"] == "PBKDF2" else "hkdf"
    salt = v["salt"].encode()
    material = original_material(v["key"])
    for n, aes in enumerate(v["aesKeys128"]):
        assert pyref.derive_key(material, salt, kdf) == h(aes)
        if n < len(v["chain"]):
            material = pyref.ratchet(material, salt, kdf)
            assert material == h(v["chain"][n])


@pytest.mark.parametrize("v", [pytest.param(v, id=v["kdf"] + "-" + v["key"]) for v in kdf_vectors()])
def test_pyref_kdf_vectors(v: dict[str, Any]) -> None:
    material = v["material_utf8"].encode() if "material_utf8" in v else h(v["material"])
    salt = v["salt_utf8"].encode() if "salt_utf8" in v else h(v["salt"])
    kdf: pyref.Kdf = "pbkdf2" if v["kdf"].startswith("PBKDF2") else "hkdf"
    assert pyref.derive_key(material, salt, kdf, key_size=v["length"]) == h(v["key"])


def test_vector_selection_is_complete() -> None:
    assert len(JS_DECRYPTED) == 146 and len(of_type("ratchet")) == 5


# -- byte-stream helpers against the plain restatements of livekit-client ------------------


def test_nal_scan_escaping_and_layout_match_livekit_client() -> None:
    rng = random.Random(7)
    alphabet = [0, 0, 0, 1, 3, 0x65, 0x41, 0x26, 0x02, 0x09, 0x67]
    for _ in range(5000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 16)))
        assert pyref.find_nal_units(data) == js_find_nalu_indices(data), data.hex()
        for codec in ("h264", "h265"):
            for kf in (False, True):
                assert pyref.clear_header(codec, data, kf) == js_layout(codec, kf, data), data.hex()
        assert pyref.rbsp_escape(data) == js_write_rbsp(data)
        assert pyref.rbsp_unescape(data) == js_parse_rbsp(data)
        needs = any(data[i : i + 3] == b"\x00\x00\x03" for i in range(len(data) - 3))
        assert pyref.needs_rbsp_unescape(data) is needs


# -- against framecryptor, both directions --------------------------------------------------

SIZES = [1, 2, 3, 4, 5, 9, 10, 11, 12, 29, 30, 31, 64, 160, 1200, 4096, 50_000]


@pytest.mark.parametrize("codec", CODECS)
def test_pyref_and_framecryptor_decrypt_each_other(codec: str) -> None:
    c, p = pair(codec)
    rng = random.Random(codec)
    checked = 0
    for size in SIZES:
        for kf in (False, True):
            for _ in range(12 if size < 100 else 3):
                frame = framegen.frame(rng, codec, size, kf)
                if codec == "vp8" and len(frame) < (10 if kf else 3):
                    with pytest.raises(fc.InvalidFrameError):
                        c.encrypt(frame, kf)
                    with pytest.raises(ValueError):
                        p.encrypt(frame, kf)
                    continue
                ours = c.encrypt(frame, kf)
                # framecryptor -> pyref: the same plaintext framecryptor's receiver gets
                assert p.decrypt(ours, kf) == c.decrypt(ours, kf), (size, kf, frame.hex())
                # pyref -> framecryptor
                theirs = p.encrypt(frame, kf)
                assert c.decrypt(theirs, kf) == pyref.received_plaintext(codec, frame, kf), (
                    size,
                    kf,
                    frame.hex(),
                )
                checked += 1
    assert checked > 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(codec=st.sampled_from(CODECS), frame=st.binary(min_size=0, max_size=300), key_frame=st.booleans())
def test_pyref_and_framecryptor_agree_on_arbitrary_bytes(codec: str, frame: bytes, key_frame: bool) -> None:
    c, p = pair(codec)
    try:
        ours = c.encrypt(frame, key_frame)
    except fc.InvalidFrameError:
        with pytest.raises(ValueError):
            p.encrypt(frame, key_frame)
        return
    assert p.decrypt(ours, key_frame) == c.decrypt(ours, key_frame)
    theirs = p.encrypt(frame, key_frame)
    assert c.decrypt(theirs, key_frame) == pyref.received_plaintext(codec, frame, key_frame)


def test_pyref_rejects_tampering_and_wrong_keys() -> None:
    p = pyref.PyFrameCryptor(KEY, "h264")
    frame = frames.frame("h264", 1200, key_frame=True)
    wire = p.encrypt(frame, True)
    for i in (0, 30, len(wire) // 2, len(wire) - 20):  # header (AAD), ciphertext, tag
        bad = bytearray(wire)
        bad[i] ^= 0x40
        with pytest.raises(pyref.DecryptError):
            p.decrypt(bytes(bad), True)
    with pytest.raises(pyref.DecryptError):
        pyref.PyFrameCryptor(bytes(16), "h264").decrypt(wire, True)
    with pytest.raises(pyref.DecryptError):
        p.decrypt(wire[:-2] + bytes([11, 0]), True)  # IV length byte
    assert p.decrypt(b"") == b"" and p.encrypt(b"") == b""


def test_pyref_ivs_never_repeat() -> None:
    p = pyref.PyFrameCryptor(KEY, "vp8")
    ivs = {p.encrypt(b"\x01abc", False)[-14:-2] for _ in range(1000)}
    assert len(ivs) == 1000


# -- the benchmark suite's own pieces ---------------------------------------------------------


@pytest.mark.parametrize("case", cases.TARGET_CASES + cases.CODEC_CASES, ids=lambda c: c.name)
def test_benchmark_case_sets_up_and_runs(case: cases.Case) -> None:
    """Every benchmarked operation runs on its case (setup cross-checks both implementations)."""
    s = cases.setup(case, count=2)
    assert [len(f) for f in s.frames] == [case.size, case.size] and s.frames[0] != s.frames[1]
    assert s.header_len == s.receiver.decrypt_frame(s.wire[0], case.key_frame).header_len
    for direction in cases.DIRECTIONS:
        for impl in cases.IMPLS + cases.REFERENCE_IMPLS:
            s.operation(impl, direction)()
    enc = s.operation("batch2", "encrypt")()
    assert isinstance(enc, list) and len(enc) == 2
    assert s.operation("batch", "decrypt")() == [
        pyref.received_plaintext(case.codec, f, case.key_frame) for f in s.frames
    ]


def test_benchmark_frames_have_real_codec_headers() -> None:
    sps_pps_idr = frames.frame("h264", 50_000, key_frame=True)
    assert [sps_pps_idr[i] & 0x1F for i in pyref.find_nal_units(sps_pps_idr) or []] == [7, 8, 5]
    h265_key = frames.frame("h265", 50_000, key_frame=True)
    assert [(h265_key[i] >> 1) & 0x3F for i in pyref.find_nal_units(h265_key) or []] == [32, 33, 34, 20]
    vp8_key = frames.frame("vp8", 50_000, key_frame=True)
    assert vp8_key[0] & 1 == 0 and vp8_key[3:6] == b"\x9d\x01\x2a"
    assert frames.frame("vp8", 1200)[0] & 1 == 1
    assert frames.header_len("h264", 1200, False) == 6


@pytest.mark.parametrize("decrypt", [False, True])
def test_raw_gcm_loop(decrypt: bool) -> None:
    seconds = _native._raw_gcm_loop(1200, 100, decrypt, 3)
    assert isinstance(seconds, float) and seconds > 0
    assert _native._raw_gcm_loop(0, 10, decrypt) >= 0
    with pytest.raises(fc.InvalidArgumentError):
        _native._raw_gcm_loop(10, 1, decrypt, 11)
