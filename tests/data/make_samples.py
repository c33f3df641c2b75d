"""Regenerates python/framecryptor/data/samples.json: real encoder output, one key and
one delta frame per video codec and two Opus packets, made with PyAV's encoders
(libvpx, libvpx-vp9, libsvtav1, libx264, libx265, libopus).

    python tests/data/make_samples.py
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

OUT = Path(__file__).resolve().parents[2] / "python" / "framecryptor" / "data" / "samples.json"
W, H = 160, 96


def picture(i: int) -> av.VideoFrame:
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack(
        [(x * 255 // W + i * 8) % 256, (y * 255 // H) % 256, ((x + y + i * 4) * 2) % 256], axis=-1
    ).astype(np.uint8)
    return av.VideoFrame.from_ndarray(img, format="rgb24")


def video(codec: str, name: str, options: dict[str, str]) -> dict[str, str]:
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base = Fraction(1, 30)
    ctx.framerate = Fraction(30, 1)
    ctx.gop_size = 30
    ctx.options = options
    packets = []
    for i in range(12):
        f = picture(i).reformat(format="yuv420p")
        f.pts = i
        packets += ctx.encode(f)
    packets += ctx.encode(None)
    key = next(p for p in packets if p.is_keyframe)
    delta = next(p for p in packets if not p.is_keyframe and p.size > 0)
    return {"codec": name, "key": bytes(key).hex(), "delta": bytes(delta).hex(), "encoder": codec}


def opus() -> dict[str, str]:
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = 48000
    ctx.layout = "mono"
    ctx.format = "s16"
    ctx.time_base = Fraction(1, 48000)
    packets = []
    for i in range(10):
        t = (np.arange(960) + i * 960) / 48000
        pcm = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        f = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        f.sample_rate = 48000
        f.pts = i * 960
        packets += ctx.encode(f)
    return {
        "codec": "opus",
        "key": bytes(packets[2]).hex(),
        "delta": bytes(packets[3]).hex(),
        "encoder": "libopus",
    }


def main() -> None:
    samples = [
        opus(),
        video("libvpx", "vp8", {"deadline": "realtime"}),
        video("libvpx-vp9", "vp9", {"deadline": "realtime"}),
        video("libsvtav1", "av1", {"preset": "12"}),
        video("libx264", "h264", {"preset": "ultrafast", "tune": "zerolatency"}),
        video(
            "libx265", "h265", {"preset": "ultrafast", "tune": "zerolatency", "x265-params": "log-level=none"}
        ),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"generator": "tests/data/make_samples.py", "pyav": av.__version__, "samples": samples}, indent=1
        )
    )
    for s in samples:
        print(s["codec"], len(s["key"]) // 2, len(s["delta"]) // 2)


if __name__ == "__main__":
    main()
