"""Fixtures for the messaging tests: seeded randomness."""

from __future__ import annotations

import random

import pytest

from koinon.core.keys import RandomBytes


@pytest.fixture
def random_bytes() -> RandomBytes:
    """Deterministic randomness, the same for every test run."""
    return random.Random(1059).randbytes
