"""Issue 4's benchmark groups: Opus 160 B, VP8 delta 1.2 KB, VP8 key 50 KB, H.264 delta
1.2 KB, H.264 key 50 KB; encrypt and decrypt; framecryptor's single-frame API, batch API
and batch API on 2 threads, beside the pure-Python baseline and the raw OpenSSL AES-GCM
limit, all in the same run.

One benchmarked call processes a list of distinct frames (``extra_info["frames"]``,
``extra_info["bytes"]``): divide the time by the frame count for the cost per frame.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from . import cases


@pytest.mark.parametrize("impl", cases.IMPLS)
@pytest.mark.parametrize("direction", cases.DIRECTIONS)
@pytest.mark.parametrize("case", cases.TARGET_CASES, ids=lambda c: c.name)
def test_frames(
    benchmark: BenchmarkFixture,
    setup_of: Callable[[cases.Case], cases.Setup],
    case: cases.Case,
    direction: str,
    impl: str,
) -> None:
    s = setup_of(case)
    benchmark.group = f"{case.label} {direction}"
    benchmark.extra_info.update(
        case=case.name, direction=direction, impl=impl, frames=s.count, bytes=s.bytes_per_call
    )
    op = s.operation(impl, direction)
    if impl == "pyref":
        # the slow baseline: a fixed, small number of rounds
        benchmark.pedantic(op, rounds=20, warmup_rounds=2)  # type: ignore[no-untyped-call]
    else:
        benchmark(op)
