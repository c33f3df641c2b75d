"""``framecryptor inspect`` and :func:`framecryptor.inspect.inspect_frame`.

Checked against the livekit-client 2.23.0 reference frames: the clear header length, key
index, IV and tag livekit-client wrote, the SSRC and RTP timestamp its IV encodes, and
the key (KDF, ratchet step) that opens each frame.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import framecryptor as fc
from framecryptor import _native
from framecryptor.cli import main
from framecryptor.inspect import Confidence, KeyCandidate, KeySearch, describe_iv, guess_codec, inspect_frame

from vectors import h, key_frame_of, of_type, original_material

ENCRYPTED = [v for v in of_type("frame") if v["ciphertext"] and not v.get("passthrough")]


@functools.cache
def search_for(material: bytes, kdf: str, salt: str, ratchets: int = 0) -> KeySearch:
    """One KeySearch per key: its derivations are reused across vectors."""
    return KeySearch(
        [KeyCandidate(material, "bytes")], kdfs=(fc.KeyDerivationFunction[kdf],), salt=salt, ratchets=ratchets
    )


def vector_search(v: dict[str, Any], ratchets: int = 0, derived: bool = True) -> KeySearch:
    k = v["key"]
    material = h(k["materialHex"]) if derived else original_material(k)
    return search_for(material, k["kdf"], k["salt"], ratchets)


# ---------------------------------------------------------------------------
# the library function, against livekit-client's frames


@pytest.mark.parametrize("v", ENCRYPTED, ids=[v["id"] for v in ENCRYPTED])
def test_inspect_explains_livekit_client_frames(v: dict[str, Any]) -> None:
    wire = h(v["ciphertext"])
    r = inspect_frame(wire, codec=v["codec"], key_frame=key_frame_of(v), search=vector_search(v))
    parsed = v["parsed"]
    assert r.trailer_ok and r.iv_length_byte == 12
    assert r.key_index == parsed["keyIndex"] == v["key"]["keyIndex"]
    assert r.match is not None
    assert r.match.plaintext == h(v.get("decrypted") or v["plaintext"])
    assert r.match.key_size == v["key"]["keySize"] // 8 and r.match.ratchet_steps == 0
    assert r.clear_header_len == parsed["headerLen"]
    if parsed["rbspEscaped"]:
        assert r.escaped
    assert r.escaped == (v["codec"] in ("h264", "h265") and r.clear_header_len not in (3, 10))
    assert r.rbsp_escapes == parsed["rbspInsertedBytes"]
    assert r.tag == parsed["tag"]
    assert r.iv is not None and r.iv.hex == parsed["iv"]
    # livekit-client's IV: SSRC | RTP timestamp | timestamp - send count
    assert r.iv.scheme == "livekit"
    assert r.iv.ssrc == (v["ssrc"] if v["ssrc"] is not None else 0xFFFFFFFF)
    assert r.iv.rtp_timestamp == v["timestamp"]
    assert r.iv.send_count == (v["timestamp"] - parsed["ivFields"]["word3"]) % (1 << 32)
    assert r.sif is None and r.packet_trailer is None


@pytest.mark.parametrize("v", ENCRYPTED, ids=[v["id"] for v in ENCRYPTED])
def test_inspect_finds_codec_and_ratchet_step_by_itself(v: dict[str, Any]) -> None:
    """No codec, the original (un-ratcheted) key: the layout and the ratchet step are found."""
    steps = v["key"]["ratchets"]
    r = inspect_frame(h(v["ciphertext"]), search=vector_search(v, ratchets=3, derived=False))
    assert r.match is not None
    assert r.match.ratchet_steps == steps
    assert r.match.header_len == v["parsed"]["headerLen"]
    assert r.codec is not None
    if r.codec.value != v["codec"]:
        # Only codecs whose rules give this frame the same layout can be confused.
        layout = (r.match.header_len, r.match.escaped)
        assert layout in _native.receiver_layouts(
            fc.Codec.parse(v["codec"]).native_id, h(v["ciphertext"]), -1
        )
        assert r.codec_confidence is not Confidence.HIGH or {r.codec.value, v["codec"]} == {"vp9", "av1"}


def test_codec_guess_on_livekit_client_frames() -> None:
    """Guesses from the clear bytes alone: right whenever the guess claims to be sure."""
    wrong_but_sure = []
    right = 0
    for v in ENCRYPTED:
        g = guess_codec(h(v["ciphertext"]))
        if g.codec is not None and g.codec.value == v["codec"]:
            right += 1
        elif g.confidence in (Confidence.HIGH, Confidence.MEDIUM):
            wrong_but_sure.append((v["id"], g))
    assert wrong_but_sure == []
    assert right >= 110  # of 141: VP9/AV1 show nothing, tiny H.26x frames hide their start code


def test_codec_guess_rules() -> None:
    assert guess_codec(b"").codec is None
    vp8_key = bytes.fromhex("1002009d012a080008000047088585888584880202000c0d6000feffab5080")
    g = guess_codec(vp8_key)
    assert (g.codec, g.confidence) == (fc.Codec.VP8, Confidence.HIGH) and "8x8" in g.reason
    h265 = (
        b"\x00\x00\x00\x01\x40\x01\x0c"
        + b"\x00\x00\x00\x01\x42\x01\x01"
        + b"\x00\x00\x01\x26\x01\xaf"
        + bytes(40)
    )
    assert guess_codec(h265).codec is fc.Codec.H265
    h264 = (
        b"\x00\x00\x00\x01\x67\x42\xc0\x1f"
        + b"\x00\x00\x00\x01\x68\xce"
        + b"\x00\x00\x01\x65\x88"
        + bytes(40)
    )
    g = guess_codec(h264)
    assert (g.codec, g.confidence) == (fc.Codec.H264, Confidence.HIGH)
    assert guess_codec(bytes([0x9C]) * 3000).codec is None  # big, no start code, no VP8 tag


def test_describe_iv() -> None:
    iv = describe_iv(bytes.fromhex("0000100204c47f9204c3cf87"))
    assert (iv.scheme, iv.ssrc, iv.rtp_timestamp, iv.send_count) == ("livekit", 4098, 79986578, 45067)
    ours = fc.AesGcmKey(bytes(16)).seal(b"x")[0]
    d = describe_iv(ours)
    assert d.scheme == "framecryptor" and d.counter == 0 and d.prefix == ours[:8].hex()
    with pytest.raises(fc.InvalidArgumentError):
        describe_iv(b"short")


def test_our_frames_and_both_kdfs_and_aes256() -> None:
    kp = fc.KeyProvider(
        fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF, key_size=32)
    )
    kp.set_key("bob", b"raw key bytes", 7)
    kp.ratchet_key("bob", 7)
    wire = fc.FrameCryptor(kp, "bob", "vp8", key_index=7).encrypt(b"\x31" + bytes(range(100)))
    both = (fc.KeyDerivationFunction.PBKDF2, fc.KeyDerivationFunction.HKDF)
    r = inspect_frame(wire, keys=[b"wrong", b"raw key bytes"], kdfs=both, ratchets=2)
    assert r.match is not None
    m = r.match
    assert (m.fingerprint, m.kdf, m.key_size, m.ratchet_steps, m.key_index) == (
        fc.key_fingerprint(b"raw key bytes"),
        fc.KeyDerivationFunction.HKDF,
        32,
        1,
        7,
    )
    assert r.codec is fc.Codec.VP8 and r.clear_header_len == 3 and r.key_frame is False
    assert r.iv is not None and r.iv.scheme == "framecryptor"
    assert r.keys_tried == 2 * 2 * 3 * 2
    none = inspect_frame(wire, keys=["nope"], kdfs=both, ratchets=1)
    assert none.match is None and any("none of the 8 candidate keys" in n for n in none.notes)


def test_sif_lkts_and_not_encrypted_frames() -> None:
    blank = bytes.fromhex("1002009d012a080008000047088585888584880202000c0d6000feffab5080")
    trailer = bytes.fromhex("4f27253ac674c3b2")
    found = inspect_frame(blank + trailer)
    assert (
        found.sif is not None
        and found.sif.payload == "vp8-key-frame-8x8"
        and found.sif.trailer == trailer.hex()
    )
    assert not found.sif.trailer_given
    given = inspect_frame(blank + b"\x01\x02" + trailer, sif_trailer=trailer)
    assert given.sif is not None and given.sif.payload is None and given.sif.trailer_given

    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=fc.KeyDerivationFunction.HKDF))
    kp.set_shared_key(b"k" * 16)
    wire = fc.FrameCryptor(kp, "a", "opus").encrypt(b"\xf8" + bytes(60))
    tagged = fc.append_packet_trailer(wire, user_timestamp=1234, frame_id=9, user_data=b"hi")
    r = inspect_frame(tagged, keys=[b"k" * 16], kdfs=(fc.KeyDerivationFunction.HKDF,))
    assert r.packet_trailer is not None
    assert (r.packet_trailer.user_timestamp, r.packet_trailer.frame_id, r.packet_trailer.user_data) == (
        1234,
        9,
        b"hi",
    )
    assert r.size == len(wire) and r.match is not None and r.match.plaintext == b"\xf8" + bytes(60)

    plain = inspect_frame(b"\x31" + bytes(50), codec="vp8", keys=["x"])
    assert not plain.trailer_ok and plain.match is None and plain.keys_tried == 0
    assert any("not a LiveKit-encrypted frame" in n for n in plain.notes)
    short = inspect_frame(b"\x01\x02\x03")
    assert not short.trailer_ok and any("shorter than the 30-byte" in n for n in short.notes)


def test_results_never_hold_key_material_in_text() -> None:
    v = next(v for v in ENCRYPTED if v["key"]["type"] == "passphrase")
    secret = v["key"]["value"]
    r = inspect_frame(h(v["ciphertext"]), keys=[KeyCandidate.passphrase(secret)], ratchets=3)
    text = json.dumps(r.to_dict()) + repr(r) + repr(r.match)
    aes = v["key"]["aesKey"]
    for needle in (secret, secret.encode().hex(), v["key"]["materialHex"], aes):
        assert needle not in text
    assert fc.key_fingerprint(secret) in text


# ---------------------------------------------------------------------------
# the command


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def js_vector(pred: Any) -> dict[str, Any]:
    return next(v for v in ENCRYPTED if pred(v))


def test_cli_names_the_key_kdf_and_ratchet(capsys: pytest.CaptureFixture[str]) -> None:
    v = js_vector(
        lambda v: (
            v["codec"] == "h264"
            and v["key"]["type"] == "passphrase"
            and v["key"]["ratchets"] == 3
            and v["frameType"] == "key"
        )
    )
    secret = v["key"]["value"]
    rc, out, err = run(
        capsys, "inspect", v["ciphertext"], "--key", "wrong", "--key", secret, "--ratchets", "3"
    )
    assert rc == 0 and err == ""
    assert (
        f"OPENS with key {fc.key_fingerprint(secret)} (passphrase), PBKDF2, AES-128-GCM, ratcheted 3x" in out
    )
    assert f"key index    {v['key']['keyIndex']}" in out
    assert "codec        h264 (high" in out
    assert f"clear header {v['parsed']['headerLen']} bytes" in out
    assert f"SSRC {v['ssrc']} " in out and f"RTP timestamp {v['timestamp']}" in out
    assert "IDR slice" in out or "non-IDR slice" in out
    assert secret not in out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    v = js_vector(lambda v: v["codec"] == "h265" and v["key"]["type"] == "raw" and v["key"]["ratchets"] == 0)
    rc, out, _ = run(
        capsys, "inspect", v["ciphertext"], "--key-hex", v["key"]["value"], "--kdf", "hkdf", "--json"
    )
    assert rc == 0
    d = json.loads(out)
    assert d["codec"] == "h265" and d["match"]["kdf"] == "HKDF" and d["match"]["ratchet_steps"] == 0
    assert d["clear_header"]["length"] == v["parsed"]["headerLen"]
    assert d["key_index"] == v["key"]["keyIndex"]
    assert d["iv"]["ssrc"] == v["ssrc"]
    assert d["keys"]["candidates"] == [
        {"fingerprint": fc.key_fingerprint(h(v["key"]["value"])), "source": "hex"}
    ]
    assert [u["name"] for u in d["nal_units"]][-1].endswith("slice")
    assert v["key"]["value"] not in out and v["key"]["aesKey"] not in out


def test_cli_passphrase_or_hex_and_kdf_both(capsys: pytest.CaptureFixture[str]) -> None:
    """--key with a hex value is also tried as raw material; --kdf both tries HKDF too."""
    v = js_vector(lambda v: v["codec"] == "vp8" and v["key"]["type"] == "raw" and v["key"]["ratchets"] == 1)
    rc, out, _ = run(
        capsys, "inspect", v["ciphertext"], "--key", v["key"]["value"], "--kdf", "both", "--ratchets", "1"
    )
    assert rc == 0
    assert "(hex), HKDF, AES-128-GCM, ratcheted 1x" in out


def test_cli_no_key_opens_it_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    v = js_vector(lambda v: v["codec"] == "opus" and v["key"]["type"] == "raw" and v["key"]["ratchets"] == 0)
    rc, out, _ = run(capsys, "inspect", v["ciphertext"], "--key-hex", v["key"]["value"])  # PBKDF2: wrong
    assert rc == 3
    assert "none of 1 key(s) opens it" in out
    assert "hint" in out and "--kdf hkdf" in out
    rc, out, _ = run(capsys, "inspect", v["ciphertext"], "--key", "unrelated")
    assert rc == 3 and "hint" not in out


def test_cli_reads_hex_base64_file_and_stdin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = js_vector(lambda v: v["codec"] == "vp8" and v["frameType"] == "key")
    wire = h(v["ciphertext"])
    f = tmp_path / "frame.bin"
    f.write_bytes(wire)
    spaced = " ".join(v["ciphertext"][i : i + 2] for i in range(0, len(v["ciphertext"]), 2))
    for spec, how, opts in [
        (v["ciphertext"], "(hex)", []),
        (spaced, "(hex)", []),
        (base64.b64encode(wire).decode(), "(base64)", []),
        (base64.urlsafe_b64encode(wire).decode().rstrip("="), "(base64)", ["--as", "base64"]),
        (str(f), f"(file {f})", []),
    ]:
        rc, out, err = run(capsys, "inspect", spec, *opts)
        assert rc == 0 and err == "", spec
        assert out.startswith(f"frame        {len(wire)} bytes {how}"), out.splitlines()[0]
        assert "codec        vp8 (high: VP8 key frame" in out
    for data, how in [(wire, "stdin (raw bytes)"), (v["ciphertext"].encode() + b"\n", "stdin (hex)")]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        rc, out, _ = run(capsys, "inspect", "-")
        assert rc == 0 and how in out.splitlines()[0]


def test_cli_writes_the_plaintext(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    v = js_vector(lambda v: v["codec"] == "vp9" and v["key"]["ratchets"] == 0)
    out_file = tmp_path / "plain.bin"
    key_opt = "--key" if v["key"]["type"] == "passphrase" else "--key-hex"
    kdf = v["key"]["kdf"].lower()
    rc, out, _ = run(
        capsys, "inspect", v["ciphertext"], key_opt, v["key"]["value"], "--kdf", kdf, "-o", str(out_file)
    )
    assert rc == 0 and "codec        vp9 (high: whole frame encrypted" in out
    assert out_file.read_bytes() == h(v["plaintext"])


def test_cli_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv, needle in [
        (["inspect", "not hex nor base64!"], "neither an existing file nor hex nor base64"),
        (["inspect", "frame1"], "neither an existing file nor hex nor base64"),  # a missing file's name
        (["inspect", "abc", "--as", "hex"], "not valid hex"),
        (["inspect", str(tmp_path / "missing.bin"), "--as", "file"], "no such file"),
        (["inspect", str(tmp_path), "--as", "file"], "is a directory"),
        (["inspect", "00", "--sif-trailer", "xyz"], "--sif-trailer is not valid hex"),
    ]:
        rc, _, err = run(capsys, *argv)
        assert rc == 1, argv
        lines = err.strip().splitlines()
        assert (
            len(lines) == 1 and lines[0].startswith("framecryptor inspect: error: ") and needle in lines[0]
        ), err
    with pytest.raises(SystemExit) as e:
        main(["inspect", "00", "--codec", "mpeg2"])
    assert e.value.code == 2
    assert "unsupported codec" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["inspect", "00", "--key-hex", "secretish-not-hex"])
    err = capsys.readouterr().err
    assert "not valid hex" in err and "secretish" not in err


def test_cli_describes_a_frame_without_keys(capsys: pytest.CaptureFixture[str]) -> None:
    v = js_vector(lambda v: v["codec"] == "h265" and v["frameType"] == "key")
    rc, out, _ = run(capsys, "inspect", v["ciphertext"])
    assert rc == 0
    assert "VPS" in out and "SPS" in out and "PPS" in out
    assert "key          " not in out  # nothing tried
    assert "first layout a receiver tries" in out
