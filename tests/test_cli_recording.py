"""``framecryptor decrypt-recording`` on real recordings built here.

Each recording is a few seconds of synthetic video or audio encoded with PyAV's encoders
(libvpx, libvpx-vp9, libsvtav1, libx264, libx265, libopus), every packet encrypted with
our FrameCryptor as a LiveKit sender would, then muxed the way a recorder writes the
frames it receives. The command must give back the encoder's packets (with their
timestamps), and PyAV must decode the output without errors, frame for frame.
"""

from __future__ import annotations

import dataclasses
import fractions
import io
import json
import os
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import framecryptor as fc
from framecryptor.cli import main
from framecryptor.cli.recording import (
    annexb_to_length_prefixed,
    iter_annexb_frames,
    length_prefixed_to_annexb,
)

os.environ.setdefault("SVT_LOG", "0")  # libsvtav1 prints its configuration otherwise

PASSPHRASE = "recording passphrase"
W, H, FPS = 64, 48, 30
VIDEO_FRAMES = 45  # 1.5 s
AUDIO_PACKETS = 75  # 1.5 s of 20 ms Opus packets

ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "vp8": ("libvpx", {"deadline": "realtime", "cpu-used": "8"}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}),
    "av1": ("libsvtav1", {"preset": "12"}),
    "h264": ("libx264", {"preset": "veryfast", "bf": "2"}),  # B-frames: pts != dts
    "h265": ("libx265", {"preset": "ultrafast", "x265-params": "log-level=none"}),
    "opus": ("libopus", {}),
}
FOURCC = {"vp8": b"VP80", "vp9": b"VP90", "av1": b"AV01"}


@dataclasses.dataclass(frozen=True)
class Pkt:
    data: bytes
    pts: int | None
    dts: int | None
    key: bool


@dataclasses.dataclass
class Encoded:
    codec: str
    ctx: Any  # the encoder's CodecContext (time base, extradata, layout)
    packets: list[Pkt]
    frames_in: int  # frames (video) or packets (audio) fed to the encoder


@pytest.fixture(autouse=True)
def quiet_ffmpeg() -> Iterator[None]:
    level = av.logging.get_level()
    av.logging.set_level(av.logging.PANIC)
    yield
    av.logging.set_level(level)


# ---------------------------------------------------------------------------
# building recordings


def encode_video(codec: str, frames: int = VIDEO_FRAMES) -> Encoded:
    name, options = ENCODERS[codec]
    ctx: Any = av.codec.CodecContext.create(name, "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base = fractions.Fraction(1, FPS)
    ctx.framerate = FPS
    ctx.gop_size = 15  # a few key frames
    ctx.options = dict(options)
    ctx.open()
    rng = np.random.default_rng(7)
    out = []
    for i in range(frames):
        img = np.full((H * 3 // 2, W), (i * 5) % 200, np.uint8)
        img[: H // 2, (i * 2) % W] = 255
        img[H // 2 : H, :] = rng.integers(0, 255, (H // 2, W), dtype=np.uint8) // 8 + 100
        frame = av.VideoFrame.from_ndarray(img, format="yuv420p")
        frame.pts = i
        frame.time_base = ctx.time_base
        out += ctx.encode(frame)
    out += ctx.encode(None)
    packets = [Pkt(bytes(p), p.pts, p.dts, p.is_keyframe) for p in out]
    assert sum(p.key for p in packets) >= 2
    return Encoded(codec, ctx, packets, frames)


def encode_opus(packets: int = AUDIO_PACKETS) -> Encoded:
    ctx: Any = av.codec.CodecContext.create("libopus", "w")
    ctx.sample_rate = 48000
    ctx.layout = "mono"
    ctx.format = "s16"
    ctx.time_base = fractions.Fraction(1, 48000)
    ctx.open()
    t = np.arange(960 * packets) / 48000
    pcm = (np.sin(2 * np.pi * 440 * t) * 9000).astype(np.int16)
    out = []
    for i in range(packets):
        frame = av.AudioFrame.from_ndarray(pcm[None, i * 960 : (i + 1) * 960], format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = i * 960
        frame.time_base = ctx.time_base
        out += ctx.encode(frame)
    out += ctx.encode(None)
    return Encoded("opus", ctx, [Pkt(bytes(p), p.pts, p.dts, True) for p in out], packets)


_ENCODED: dict[str, Encoded] = {}


def encoded(codec: str) -> Encoded:
    """The encoder's packets for codec (encoded once per test session)."""
    if codec not in _ENCODED:
        _ENCODED[codec] = encode_opus() if codec == "opus" else encode_video(codec)
    return _ENCODED[codec]


def sender(
    codec: str,
    *,
    key: str | bytes = PASSPHRASE,
    kdf: fc.KeyDerivationFunction = fc.KeyDerivationFunction.PBKDF2,
    participant: str | None = None,
    key_index: int = 0,
) -> fc.FrameCryptor:
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_derivation_function=kdf))
    if participant is None:
        kp.set_shared_key(key, key_index)
    else:
        kp.set_key(participant, key, key_index)
    return fc.FrameCryptor(kp, participant or "alice", codec, key_index=key_index)


def encrypt_all(enc: Encoded, cryptor: fc.FrameCryptor | None = None) -> list[Pkt]:
    c = cryptor or sender(enc.codec)
    return [dataclasses.replace(p, data=c.encrypt(p.data, key_frame=p.key)) for p in enc.packets]


def write_ivf(path: Path, codec: str, packets: list[Pkt]) -> None:
    """IVF as a recorder writes it (FFmpeg's IVF muxer would run VP9/AV1 bitstream filters
    over the encrypted frames, which fail on them)."""
    with path.open("wb") as f:
        f.write(
            b"DKIF" + struct.pack("<HH4sHHIII", 0, 32, FOURCC[codec], W, H, FPS, 1, len(packets)) + bytes(4)
        )
        for p in packets:
            f.write(struct.pack("<IQ", len(p.data), p.pts or 0))
            f.write(p.data)


def mux(path: Path, fmt: str, streams: list[tuple[Encoded, list[Pkt]]], **container_options: str) -> None:
    """Muxes packets with PyAV, without bitstream filters (they would parse encrypted frames)."""
    options = {"fflags": "-autobsf", **container_options}
    with av.open(str(path), "w", format=fmt, container_options=options) as out:
        targets = []
        for enc, _ in streams:
            # A stream with the encoder's parameters (the encoder itself is not used).
            if enc.codec == "opus":
                s = out.add_stream(ENCODERS["opus"][0], rate=48000)
                s.codec_context.layout = "mono"
            else:
                s = out.add_stream(ENCODERS[enc.codec][0], rate=FPS)
                s.width, s.height, s.pix_fmt = W, H, "yuv420p"
            s.time_base = enc.ctx.time_base
            if enc.ctx.extradata:
                s.codec_context.extradata = enc.ctx.extradata
            targets.append(s)
        # Interleave by time, as a recorder would.
        queue = [(p, enc.ctx.time_base, s) for (enc, pkts), s in zip(streams, targets) for p in pkts]
        queue.sort(key=lambda x: float((x[0].dts if x[0].dts is not None else 0) * x[1]))
        for p, tb, s in queue:
            q = av.Packet(p.data)
            q.pts, q.dts, q.time_base = p.pts, p.dts, tb
            q.is_keyframe = p.key
            q.stream = s
            out.mux(q)


def write_recording(path: Path, container: str, streams: list[tuple[Encoded, list[Pkt]]]) -> None:
    if container == "ivf":
        ((enc, pkts),) = streams
        write_ivf(path, enc.codec, pkts)
    elif container in ("h264", "h265"):
        path.write_bytes(b"".join(p.data for p in streams[0][1]))
    elif container == "ogg":
        mux(path, "ogg", streams, page_duration="20000")  # a page per packet, as a live recorder
    else:
        mux(path, {"mkv": "matroska"}.get(container, container), streams)


# ---------------------------------------------------------------------------
# reading results


def demux(path: Path) -> dict[int, list[Pkt]]:
    with av.open(str(path)) as c:
        out: dict[int, list[Pkt]] = {s.index: [] for s in c.streams}
        for p in c.demux():
            if p.size:
                out[p.stream_index].append(Pkt(bytes(p), p.pts, p.dts, p.is_keyframe))
    return out


def decode(path: Path) -> tuple[dict[int, int], list[str]]:
    """Frames decoded per stream, and every error FFmpeg reported while decoding."""
    counts: dict[int, int] = {}
    errors: list[str] = []
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs, av.open(str(path)) as c:
            for s in c.streams:
                counts[s.index] = 0
            try:
                for packet in c.demux():
                    for _ in packet.decode():
                        counts[packet.stream_index] += 1
            except av.error.FFmpegError as e:
                errors.append(str(e))
        errors += [f"[{name}] {msg.strip()}" for level, name, msg in logs if level <= av.logging.ERROR]
    finally:
        av.logging.set_level(av.logging.PANIC)
    return counts, errors


def normalize_start_codes(data: bytes) -> bytes:
    """Every 3-byte Annex-B start code as a 4-byte one."""
    out = bytearray()
    for i, b in enumerate(data):
        if data[i : i + 3] == b"\x00\x00\x01" and (i == 0 or data[i - 1] != 0):
            out.append(0)
        out.append(b)
    return bytes(out)


def run_cli(*argv: str) -> int:
    return main(list(argv))


# ---------------------------------------------------------------------------
# the matrix: every container x codec the issue names


CASES = [
    ("vp8", "ivf"),
    ("vp9", "ivf"),
    ("av1", "ivf"),
    ("opus", "ogg"),
    ("vp8", "webm"),
    ("vp9", "webm"),
    ("opus", "webm"),
    ("h264", "mp4"),
    ("h265", "mp4"),
    ("h264", "mkv"),
    ("h264", "h264"),
    ("h265", "h265"),
]


@pytest.mark.parametrize(("codec", "container"), CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_recording_decrypts_to_the_encoder_output(
    codec: str, container: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enc = encoded(codec)
    ext = {"h264": "h264", "h265": "h265"}.get(container, container)
    src, out = tmp_path / f"in.{ext}", tmp_path / f"out.{ext}"
    write_recording(src, container, [(enc, encrypt_all(enc))])
    # The reference: the same packets unencrypted, written the same way.
    ref = tmp_path / f"ref.{ext}"
    write_recording(ref, container, [(enc, enc.packets)])

    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE) == 0
    report = capsys.readouterr()
    n = len(enc.packets)
    assert f"{n} frames: {n} decrypted, 0 failed" in report.out
    assert report.err == ""

    if container in ("h264", "h265"):
        # Raw Annex-B: the clear header's start codes come back as 4-byte ones (as a
        # receiver's depacketizer writes them); otherwise the stream is the encoder's.
        assert normalize_start_codes(out.read_bytes()) == normalize_start_codes(ref.read_bytes())
        got = demux(out)[0]
        want = demux(ref)[0]
        assert [normalize_start_codes(p.data) for p in got] == [normalize_start_codes(p.data) for p in want]
    else:
        got = demux(out)[0]
        want = demux(ref)[0]
        # (1) the decrypted packets are the originals, timestamps kept
        assert [p.data for p in got] == [p.data for p in want]
        assert [(p.pts, p.dts) for p in got] == [(p.pts, p.dts) for p in want]
        if container not in ("mp4", "mkv"):  # those store H.26x length-prefixed
            assert [p.data for p in got] == [p.data for p in enc.packets]
    # (2) PyAV decodes the output without errors, every frame
    counts, errors = decode(out)
    assert errors == []
    ref_counts, _ = decode(ref)
    assert counts[0] == ref_counts[0]
    if codec != "opus":
        assert counts[0] == enc.frames_in
    else:
        assert counts[0] >= enc.frames_in


def test_the_encrypted_recording_itself_does_not_decode_cleanly(tmp_path: Path) -> None:
    """The decode check above can fail: the encrypted input gives errors."""
    enc = encoded("h264")
    src = tmp_path / "in.mp4"
    write_recording(src, "mp4", [(enc, encrypt_all(enc))])
    _, errors = decode(src)
    assert errors


def test_two_streams_in_one_webm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video, audio = encoded("vp8"), encoded("opus")
    src, out = tmp_path / "in.webm", tmp_path / "out.webm"
    write_recording(src, "webm", [(video, encrypt_all(video)), (audio, encrypt_all(audio))])
    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(s["codec"], s["decrypted"], s["failed"]) for s in summary["streams"]] == [
        ("vp8", len(video.packets), 0),
        ("opus", len(audio.packets), 0),
    ]
    got = demux(out)
    assert [p.data for p in got[0]] == [p.data for p in video.packets]
    assert [p.data for p in got[1]] == [p.data for p in audio.packets]
    counts, errors = decode(out)
    assert errors == [] and counts[0] == video.frames_in


# ---------------------------------------------------------------------------
# keys


def test_per_participant_key_and_hkdf_raw_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("vp8")
    raw = bytes(range(32))
    c = sender("vp8", key=raw, kdf=fc.KeyDerivationFunction.HKDF, participant="bob", key_index=3)
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp8", encrypt_all(enc, c))
    argv = ["decrypt-recording", str(src), "-o", str(out), "--key-hex", raw.hex(), "--kdf", "hkdf"]
    assert run_cli(*argv, "--participant", "bob", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames_decrypted"] == len(enc.packets)
    assert summary["streams"][0]["key_indexes"] == [3]
    assert summary["keys"] == [
        {
            "key_index": 3,
            "fingerprint": fc.key_fingerprint(raw),
            "source": "hex",
            "kdf": "HKDF",
            "aes": "AES-128-GCM",
            "ratchet_steps": 0,
        }
    ]
    assert [p.data for p in demux(out)[0]] == [p.data for p in enc.packets]


def test_aes256_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """livekit-client can derive AES-256 keys: found without an option."""
    enc = encoded("vp9")
    kp = fc.KeyProvider(fc.KeyProviderOptions(key_size=32))
    kp.set_shared_key(PASSPHRASE)
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp9", encrypt_all(enc, fc.FrameCryptor(kp, "alice", "vp9")))
    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE) == 0
    assert "PBKDF2, AES-256-GCM" in capsys.readouterr().out
    assert [p.data for p in demux(out)[0]] == [p.data for p in enc.packets]


def test_key_rotation_to_a_new_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The sender moves from key A at index 0 to key B at index 1 halfway: both given, any order."""
    enc = encoded("vp8")
    c = sender("vp8", key="key A")
    half = len(enc.packets) // 2
    wire = [dataclasses.replace(p, data=c.encrypt(p.data, p.key)) for p in enc.packets[:half]]
    c.key_provider.set_shared_key("key B", 1)
    c.set_key_index(1)
    wire += [dataclasses.replace(p, data=c.encrypt(p.data, p.key)) for p in enc.packets[half:]]
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp8", wire)
    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", "key B", "--key", "key A") == 0
    text = capsys.readouterr().out
    assert "key indexes seen: 0, 1" in text
    assert f"key index 0: key {fc.key_fingerprint('key A')}" in text
    assert f"key index 1: key {fc.key_fingerprint('key B')}" in text
    assert [p.data for p in demux(out)[0]] == [p.data for p in enc.packets]


def test_same_index_new_key_midway(tmp_path: Path) -> None:
    """A new key set at the same index (no ratchet): the bound key stops working, the other candidate takes over."""
    enc = encoded("opus")
    c = sender("opus", key="first")
    half = len(enc.packets) // 2
    wire = [dataclasses.replace(p, data=c.encrypt(p.data)) for p in enc.packets[:half]]
    c.key_provider.set_shared_key("second", 0)
    wire += [dataclasses.replace(p, data=c.encrypt(p.data)) for p in enc.packets[half:]]
    src, out = tmp_path / "in.ogg", tmp_path / "out.ogg"
    write_recording(src, "ogg", [(enc, wire)])
    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", "first", "--key", "second") == 0
    assert [p.data for p in demux(out)[0]] == [p.data for p in enc.packets]


def ratcheting_recording(tmp_path: Path) -> tuple[Path, Encoded]:
    """VP8 whose sender ratchets its key at frames 10 and 25."""
    enc = encoded("vp8")
    c = sender("vp8")
    wire = []
    for i, p in enumerate(enc.packets):
        if i in (10, 25):
            c.key_provider.ratchet_shared_key(0)
        wire.append(dataclasses.replace(p, data=c.encrypt(p.data, p.key)))
    src = tmp_path / "in.ivf"
    write_ivf(src, "vp8", wire)
    return src, enc


def test_ratchet_window_follows_the_senders_ratchets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, enc = ratcheting_recording(tmp_path)
    out = tmp_path / "out.ivf"
    # A window of 1 is enough: the window moves with each ratchet.
    assert (
        run_cli(
            "decrypt-recording",
            str(src),
            "-o",
            str(out),
            "--key",
            PASSPHRASE,
            "--ratchet-window",
            "1",
            "--json",
        )
        == 0
    )
    s = json.loads(capsys.readouterr().out)["streams"][0]
    assert s["decrypted"] == len(enc.packets) and s["ratcheted_frames"] == 2
    assert [p.data for p in demux(out)[0]] == [p.data for p in enc.packets]


def test_ratchet_window_zero_loses_the_ratcheted_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, enc = ratcheting_recording(tmp_path)
    out = tmp_path / "out.ivf"
    rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE, "--ratchet-window", "0")
    assert rc == 3
    report = capsys.readouterr()
    assert f"10 decrypted, {len(enc.packets) - 10} failed" in report.out
    assert "key indexes of failed frames: 0" in report.out
    assert report.err.strip().splitlines() == [
        f"framecryptor decrypt-recording: {len(enc.packets) - 10} frame(s) could not be decrypted and were left out"
    ]
    assert [p.data for p in demux(out)[0]] == [p.data for p in enc.packets[:10]]


def test_many_ratchets_after_a_burst_of_bad_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The window follows 20 ratchets (far beyond the window from the original key), even
    after a burst of damaged frames: no rate limit applies offline."""
    enc = encoded("vp8")
    c = sender("vp8")
    wire = []
    for i, p in enumerate(enc.packets):
        if i >= 20:
            c.key_provider.ratchet_shared_key(0)
        data = c.encrypt(p.data, p.key)
        if 2 <= i < 20:  # damaged: the tag does not authenticate
            data = data[:-20] + bytes([data[-20] ^ 1]) + data[-19:]
        wire.append(dataclasses.replace(p, data=data))
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp8", wire)
    argv = [
        "decrypt-recording",
        str(src),
        "-o",
        str(out),
        "--key",
        PASSPHRASE,
        "--ratchet-window",
        "2",
        "--json",
    ]
    assert run_cli(*argv) == 3
    s = json.loads(capsys.readouterr().out)["streams"][0]
    assert (s["decrypted"], s["failed"]) == (len(enc.packets) - 18, 18)
    good = [p.data for i, p in enumerate(enc.packets) if not 2 <= i < 20]
    assert [p.data for p in demux(out)[0]] == good


def test_recording_that_starts_after_ratchets(tmp_path: Path) -> None:
    """The first frame already needs 2 ratchets of the key the user has: found within the window."""
    enc = encoded("vp9")
    c = sender("vp9")
    c.key_provider.ratchet_shared_key(0)
    c.key_provider.ratchet_shared_key(0)
    src, out = tmp_path / "in.webm", tmp_path / "out.webm"
    write_recording(src, "webm", [(enc, encrypt_all(enc, c))])
    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE) == 0
    assert [p.data for p in demux(out)[0]] == [p.data for p in enc.packets]


# ---------------------------------------------------------------------------
# frames that are not plain encrypted frames


def test_sif_and_lkts_and_empty_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("vp8")
    c = sender("vp8")
    sif_trailer = bytes.fromhex("4f27253ac674c3b2")
    blank = bytes.fromhex("1002009d012a080008000047088585888584880202000c0d6000feffab5080")  # SFU's VP8 8x8
    wire = encrypt_all(enc, c)
    wire[5] = dataclasses.replace(
        wire[5], data=fc.append_packet_trailer(wire[5].data, user_timestamp=123, frame_id=5)
    )
    wire.insert(7, Pkt(blank + sif_trailer, 7, 7, True))
    wire.insert(9, Pkt(blank + b"\x00" * 4 + sif_trailer, 8, 8, True))  # not allow-listed: dropped
    wire = [dataclasses.replace(p, pts=i, dts=i) for i, p in enumerate(wire)]
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp8", wire)
    rc = run_cli(
        "decrypt-recording",
        str(src),
        "-o",
        str(out),
        "--key",
        PASSPHRASE,
        "--sif-trailer",
        sif_trailer.hex(),
        "--json",
    )
    assert rc == 3
    s = json.loads(capsys.readouterr().out)["streams"][0]
    assert (s["decrypted"], s["passed_through"], s["failed"]) == (len(enc.packets), 1, 1)
    assert s["first_failure"] == "server-injected frame not on the allow-list"
    assert s["failed_key_indexes"] == []  # not an encrypted frame: no key index
    got = [p.data for p in demux(out)[0]]
    assert got == [p.data for p in enc.packets[:7]] + [blank] + [p.data for p in enc.packets[7:]]


def test_keep_undecryptable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("h264")
    wire = encrypt_all(enc)
    for i in (4, 9):
        d = bytearray(wire[i].data)
        d[-20] ^= 0x40  # inside the tag
        wire[i] = dataclasses.replace(wire[i], data=bytes(d))
    src = tmp_path / "in.mp4"
    write_recording(src, "mp4", [(enc, wire)])
    out1, out2 = tmp_path / "left-out.mp4", tmp_path / "kept.mp4"
    assert run_cli("decrypt-recording", str(src), "-o", str(out1), "--key", PASSPHRASE) == 3
    assert "2 frame(s) could not be decrypted and were left out" in capsys.readouterr().err
    assert len(demux(out1)[0]) == len(enc.packets) - 2
    assert (
        run_cli("decrypt-recording", str(src), "-o", str(out2), "--key", PASSPHRASE, "--keep-undecryptable")
        == 3
    )
    assert "2 frame(s) could not be decrypted\n" in capsys.readouterr().err
    kept = demux(out2)[0]
    plain = demux(src)[0]  # length-prefixed as stored
    assert len(kept) == len(enc.packets)
    assert kept[4].data == plain[4].data and kept[9].data == plain[9].data  # written as they were


# ---------------------------------------------------------------------------
# bad input: one line on stderr, non-zero status, no output


def check_one_line_error(capsys: pytest.CaptureFixture[str], rc: int, *needles: str) -> str:
    assert rc == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("framecryptor decrypt-recording: error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0]
    return lines[0]


def test_wrong_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("vp8")
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp8", encrypt_all(enc))
    rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key", "not the passphrase")
    line = check_one_line_error(
        capsys, rc, "no frame could be decrypted", fc.key_fingerprint("not the passphrase")
    )
    assert "not the passphrase" not in line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.ivf"]  # no temporary file left


def test_unencrypted_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("vp8")
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp8", enc.packets)
    rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE)
    check_one_line_error(
        capsys, rc, "frames carry no LiveKit E2EE trailer: is the recording encrypted at all?"
    )
    assert not out.exists()


def test_wrong_kdf_gets_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """livekit-client derives keys given as bytes with HKDF: the hint says so."""
    enc = encoded("opus")
    c = sender("opus", key=PASSPHRASE.encode(), kdf=fc.KeyDerivationFunction.HKDF)
    src, out = tmp_path / "in.ogg", tmp_path / "out.ogg"
    write_recording(src, "ogg", [(enc, encrypt_all(enc, c))])
    rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE)
    check_one_line_error(capsys, rc, "no frame could be decrypted", "--kdf hkdf")


def test_hex_key_given_as_text_gets_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("vp8")
    raw = bytes(range(16))
    src, out = tmp_path / "in.webm", tmp_path / "out.webm"
    write_recording(src, "webm", [(enc, encrypt_all(enc, sender("vp8", key=raw)))])
    rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key", raw.hex())
    check_one_line_error(capsys, rc, "--key-hex")


def test_truncated_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc_v, enc_a = encoded("vp8"), encoded("opus")
    cases = {
        "ivf": (enc_v, "the last frame is incomplete"),
        "webm": (enc_v, "truncated"),
        "ogg": (enc_a, "truncated"),
        "h264": (encoded("h264"), "truncated"),
    }
    for ext, (enc, needle) in cases.items():
        src, out = tmp_path / f"in.{ext}", tmp_path / f"out.{ext}"
        write_recording(src, ext, [(enc, encrypt_all(enc))])
        data = src.read_bytes()
        src.write_bytes(data[: len(data) * 2 // 3 + 1])
        rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE)
        assert rc == 1, ext
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0], (ext, err)
        assert out.exists()  # what could be read is kept
        if ext != "h264":
            written = demux(out)[0]
            assert 0 < len(written) < len(enc.packets)
            assert [p.data for p in written] == [p.data for p in enc.packets[: len(written)]]


def test_truncated_mp4_without_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("h264")
    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    write_recording(src, "mp4", [(enc, encrypt_all(enc))])
    data = src.read_bytes()
    for cut in (len(data) - 200, len(data) // 2):  # index cut, index missing
        src.write_bytes(data[:cut])
        rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE)
        check_one_line_error(capsys, rc, "index (moov) is missing or cut", "truncated")
        assert not out.exists()


def test_missing_and_unsupported_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.mp4"
    rc = run_cli("decrypt-recording", str(tmp_path / "nope.ivf"), "-o", str(out), "--key", "k")
    check_one_line_error(capsys, rc, "nope.ivf: no such file")

    text = tmp_path / "notes.txt"
    text.write_text("this is not a recording\n" * 20)
    rc = run_cli("decrypt-recording", str(text), "-o", str(out), "--key", "k")
    check_one_line_error(capsys, rc, "notes.txt", "supported:")

    rc = run_cli("decrypt-recording", str(tmp_path), "-o", str(out), "--key", "k")
    check_one_line_error(capsys, rc, "is a directory")

    # A codec LiveKit E2EE does not encrypt (AAC in MP4).
    aac = tmp_path / "aac.mp4"
    with av.open(str(aac), "w") as c:
        s = c.add_stream("aac", rate=48000)
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate = 48000
            f.pts = i * 1024
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    rc = run_cli("decrypt-recording", str(aac), "-o", str(out), "--key", "k")
    check_one_line_error(capsys, rc, "stream #0 is aac", "not a codec LiveKit E2EE encrypts")
    assert not out.exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("vp8")
    src = tmp_path / "in.ivf"
    write_ivf(src, "vp8", encrypt_all(enc))
    rc = run_cli("decrypt-recording", str(src), "-o", str(tmp_path / "o.ivf"))
    check_one_line_error(capsys, rc, "no key given")
    rc = run_cli("decrypt-recording", str(src), "-o", str(src), "--key", "k")
    check_one_line_error(capsys, rc, "must not be the input")
    rc = run_cli("decrypt-recording", str(src), "-o", str(tmp_path / "o.mp4"), "--key", "k")
    check_one_line_error(capsys, rc, "input's container (ivf)")
    with pytest.raises(SystemExit) as e:
        run_cli("decrypt-recording", str(src), "-o", str(tmp_path / "o.ivf"), "--key-hex", "zz-secret")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "not valid hex" in err and "zz-secret" not in err


# ---------------------------------------------------------------------------
# streaming, progress, NAL framing


def test_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enc = encoded("vp8")
    src, out = tmp_path / "in.ivf", tmp_path / "out.ivf"
    write_ivf(src, "vp8", encrypt_all(enc))
    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE, "--progress") == 0
    err = capsys.readouterr().err
    assert err.startswith("\r[") and "100.0%" in err and err.endswith("\n")
    assert run_cli("decrypt-recording", str(src), "-o", str(out), "--key", PASSPHRASE) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal here


def synthetic_ivf(path: Path, frames: int, size: int) -> None:
    """A long VP8 IVF of made-up delta frames (no encoder needed): for the memory check."""
    c = sender("vp8", key=b"\x01" * 16, kdf=fc.KeyDerivationFunction.HKDF)
    payload = bytes([0x31, 0x00, 0x00]) + bytes(range(256)) * (size // 256)
    with path.open("wb") as f:
        f.write(b"DKIF" + struct.pack("<HH4sHHIII", 0, 32, b"VP80", W, H, FPS, 1, frames) + bytes(4))
        for i in range(frames):
            d = c.encrypt(payload)
            f.write(struct.pack("<IQ", len(d), i))
            f.write(d)


def test_memory_does_not_grow_with_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "long.ivf", tmp_path / "out.ivf"
    synthetic_ivf(src, frames=6000, size=2048)  # ~12.5 MB
    tracemalloc.start()
    try:
        rc = run_cli("decrypt-recording", str(src), "-o", str(out), "--key-hex", "01" * 16, "--kdf", "hkdf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 0
    assert "6000 decrypted" in capsys.readouterr().out
    assert src.stat().st_size > 12_000_000
    assert peak < 2_000_000  # Python-side memory: a few frames, not the file


def test_annexb_framing_does_not_depend_on_read_size() -> None:
    enc = encoded("h265")
    frames = [p.data for p in encrypt_all(enc)]
    stream = b"".join(frames)
    for chunk in (1, 2, 3, 5, 17, 4096, 1 << 20):
        got = [f for f, _ in iter_annexb_frames(io.BytesIO(stream), fc.Codec.H265, chunk_size=chunk)]
        assert got == frames, chunk


def test_annexb_framing_of_h264_with_leading_zeros() -> None:
    enc = encoded("h264")
    frames = [p.data for p in encrypt_all(enc)]
    stream = b"\x00\x00" + b"".join(frames)
    got = [f for f, _ in iter_annexb_frames(io.BytesIO(stream), fc.Codec.H264, chunk_size=100)]
    assert got[0] == b"\x00\x00" + frames[0] and got[1:] == frames[1:]


def test_length_prefixed_conversion_round_trip() -> None:
    enc = encoded("h264")
    for p in enc.packets:
        for n in (2, 4):
            lp = annexb_to_length_prefixed(p.data, n)
            assert length_prefixed_to_annexb(lp, n) == normalize_start_codes(p.data)
    with pytest.raises(fc.InvalidFrameError):
        length_prefixed_to_annexb(b"\x00\x00\x00\x09abc", 4)


def test_library_entry_point(tmp_path: Path) -> None:
    from framecryptor.cli.keys import KeyOptions
    from framecryptor.cli.recording import decrypt_recording
    from framecryptor.inspect import KeyCandidate

    enc = encoded("opus")
    src, out = tmp_path / "in.webm", tmp_path / "out.webm"
    write_recording(src, "webm", [(enc, encrypt_all(enc))])
    keys = KeyOptions(
        (KeyCandidate.passphrase(PASSPHRASE),),
        (fc.KeyDerivationFunction.PBKDF2,),
        fc.DEFAULT_RATCHET_SALT,
        None,
    )
    summary = decrypt_recording(src, out, keys)
    assert (summary.decrypted, summary.failed, summary.passed_through) == (len(enc.packets), 0, 0)
    assert summary.streams[0].key_indexes == {0}
    assert summary.container == "webm"
