"""A 1M-frame loop through each API keeps resident memory flat (no leak).

Not a timing benchmark: it runs whenever bench/ is run (tests/test_threads_and_buffers.py
runs a 200k-frame variant in the normal suite).
"""

from __future__ import annotations

import sys

import pytest

from . import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_one_million_frames_keep_rss_flat() -> None:
    results = memory.leak_loops(1_000_000)
    for r in results:
        print(f"{r.name}: {r.frames} frames, RSS {r.rss_after_warmup >> 10} KiB -> {r.rss_after >> 10} KiB")
    for r in results:
        assert r.growth < 2 << 20, (r.name, r.growth)
