"""Real encoded sample frames shipped with the package (see tests/data/make_samples.py)."""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources

from .options import Codec

__all__ = ["SampleFrame", "sample_frames"]


@dataclasses.dataclass(frozen=True)
class SampleFrame:
    codec: Codec
    key_frame: bool
    data: bytes
    encoder: str


@functools.lru_cache(maxsize=1)
def sample_frames() -> tuple[SampleFrame, ...]:
    """One key and one delta frame per video codec and two Opus packets, from real encoders."""
    raw = json.loads(resources.files("framecryptor").joinpath("data/samples.json").read_text("utf-8"))
    out = []
    for s in raw["samples"]:
        codec = Codec.parse(s["codec"])
        out.append(SampleFrame(codec, codec.is_video, bytes.fromhex(s["key"]), s["encoder"]))
        out.append(SampleFrame(codec, False, bytes.fromhex(s["delta"]), s["encoder"]))
    return tuple(out)
