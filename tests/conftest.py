from __future__ import annotations

import random

import pytest

import framecryptor as fc

from helpers import make_provider


@pytest.fixture
def rng() -> random.Random:
    return random.Random(0xE2EE)


@pytest.fixture
def kp() -> fc.KeyProvider:
    return make_provider()
