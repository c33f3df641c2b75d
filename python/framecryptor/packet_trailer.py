"""LKTS packet trailer (frame metadata appended in the clear after encryption)."""

from __future__ import annotations

from typing import Any

from . import _native
from .cryptor import FrameMetadata

__all__ = ["append_packet_trailer", "strip_packet_trailer"]


def append_packet_trailer(
    frame: Any,
    *,
    user_timestamp: int | None = None,
    frame_id: int | None = None,
    user_data: bytes | None = None,
) -> bytes:
    """frame followed by an LKTS trailer carrying the given fields (frame as is when none)."""
    trailer = _native.build_packet_trailer(user_timestamp, frame_id, user_data or b"")
    return _native.as_bytes(frame) + trailer


def strip_packet_trailer(frame: Any) -> tuple[bytes, FrameMetadata | None]:
    """(frame without its LKTS trailer, the metadata), or (frame, None) when there is none."""
    data = _native.as_bytes(frame)
    parsed = _native.parse_packet_trailer(data)
    if parsed is None:
        return data, None
    size, ts, fid, ud = parsed
    return data[:size], FrameMetadata(ts, fid, ud)
