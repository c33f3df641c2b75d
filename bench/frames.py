"""Realistic frames for the benchmarks: real encoder headers, random payloads.

Each frame starts with the bytes a real encoder put there (from the sample
frames shipped in ``framecryptor/data/samples.json``: libopus, libvpx, libsvtav1,
libx264, libx265), so every codec's clear-header rule does its real work (for
H.264/H.265: parameter sets, then the slice), and continues with random bytes
up to the requested size. H.26x payloads are RBSP-escaped random bytes, as
real NAL unit payloads are, so they hold no start code.
"""

from __future__ import annotations

import functools
import random

from framecryptor.samples import sample_frames

from . import pyref

__all__ = ["frame", "frames", "header_len"]

# NAL unit types dropped from the real key frames' headers: SEI (x264 and x265
# write a 600-byte encoder banner there on their first key frame only), AUD.
_H264_DROP = {6, 9}
_H265_DROP = {35, 39, 40}


@functools.cache
def _prefix(codec: str, key_frame: bool) -> bytes:
    """The leading bytes of a real frame: everything a receiver parses in the clear."""
    video_kf = key_frame and codec != "opus"  # audio frames have no key-frame flag
    sample = next(s for s in sample_frames() if s.codec.value == codec and s.key_frame == video_kf)
    data = sample.data
    if codec == "opus":
        return data[:1]  # the TOC byte
    if codec == "vp8":
        return data[:10] if key_frame else data[:3]
    if codec in ("vp9", "av1"):
        return data[:16]  # uncompressed header / OBU headers (encrypted anyway)
    n, escaped = pyref.clear_header(codec, data, key_frame)
    assert escaped, f"sample {codec} frame has no slice"
    units = pyref.find_nal_units(data) or []
    slice_at = n - 2
    parts = []
    for i, off in enumerate(units):
        if off >= slice_at:
            break
        nal_type = data[off] & 0x1F if codec == "h264" else (data[off] >> 1) & 0x3F
        end = units[i + 1] - 3 if i + 1 < len(units) else slice_at - 3
        if nal_type not in (_H264_DROP if codec == "h264" else _H265_DROP):
            parts.append(b"\x00\x00\x00\x01" + data[off:end].rstrip(b"\x00"))
    # the slice's NAL header and the first bytes of its slice header
    parts.append(b"\x00\x00\x00\x01" + data[slice_at : slice_at + 8])
    return b"".join(parts)


def frame(codec: str, size: int, key_frame: bool = False, seed: int = 0) -> bytes:
    """A frame of exactly ``size`` bytes (at least the real header's length)."""
    prefix = _prefix(codec, key_frame)
    if size < len(prefix):
        raise ValueError(f"{codec} {'key' if key_frame else 'delta'} frames are at least {len(prefix)} bytes")
    rng = random.Random(f"{codec}/{size}/{key_frame}/{seed}")
    need = size - len(prefix)
    if codec in ("h264", "h265"):
        payload = pyref.rbsp_escape(rng.randbytes(need))[:need]
        if payload.endswith(b"\x00"):
            payload = payload[:-1] + b"\x80"  # a NAL unit does not end with a zero byte
    else:
        payload = rng.randbytes(need)
    out = prefix + payload
    assert len(out) == size
    return out


def frames(codec: str, size: int, key_frame: bool, count: int) -> list[bytes]:
    """``count`` distinct frames of one kind (a batch, or the rotation of a single-call loop)."""
    return [frame(codec, size, key_frame, seed) for seed in range(count)]


def header_len(codec: str, size: int, key_frame: bool) -> int:
    """The clear header length (the AAD) of this module's frames of that kind."""
    return pyref.clear_header(codec, frame(codec, size, key_frame), key_frame)[0]
