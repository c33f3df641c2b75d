from __future__ import annotations

import random

import pytest
from helpers import make_provider

import framecryptor as fc


@pytest.fixture
def rng() -> random.Random:
    return random.Random(0xE2EE)


@pytest.fixture
def kp() -> fc.KeyProvider:
    return make_provider()
