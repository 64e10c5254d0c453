"""Small helpers shared by the chain tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from koinon.chain import AnchorClient

START = 1_900_000_000
OpenClient = Callable[..., AnchorClient]


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


def root_of(label: str) -> bytes:
    """A 32-byte stand-in for a tree head root."""
    return hashlib.sha256(label.encode()).digest()
