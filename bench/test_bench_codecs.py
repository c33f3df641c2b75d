"""Issue 2's first benchmark: encrypt+decrypt round trips for every codec at 160 B and
1.2 KB (delta frames) and 50 KB (key frames), framecryptor's single-frame API beside the
pure-Python implementation of the same format on ``cryptography`` (bench/pyref.py).

One benchmarked call round-trips a list of distinct frames (``extra_info["frames"]``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from . import cases


@pytest.mark.parametrize("impl", ["single", "pyref"])
@pytest.mark.parametrize("case", cases.CODEC_CASES, ids=lambda c: c.name)
def test_round_trip(
    benchmark: BenchmarkFixture, setup_of: Callable[[cases.Case], cases.Setup], case: cases.Case, impl: str
) -> None:
    s = setup_of(case)
    benchmark.group = f"{case.label} round trip"
    benchmark.extra_info.update(
        case=case.name, direction="round trip", impl=impl, frames=s.count, bytes=s.bytes_per_call
    )
    op = s.round_trip(impl)
    if impl == "pyref":
        benchmark.pedantic(op, rounds=20, warmup_rounds=2)  # type: ignore[no-untyped-call]
    else:
        benchmark(op)
