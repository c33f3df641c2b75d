"""Shared fixtures of the pytest-benchmark files.

Benchmarks run with ``python -m pytest bench --benchmark-enable`` (pyproject's addopts
disable them elsewhere: then each benchmarked function runs once, as a smoke test).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from . import cases


@functools.cache
def _setup(case: cases.Case) -> cases.Setup:
    return cases.setup(case)


@pytest.fixture
def setup_of() -> Callable[[cases.Case], cases.Setup]:
    """setup_of(case): the case's frames and cryptors, built once per session."""
    return _setup
