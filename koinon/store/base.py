"""The store protocol: only the methods callers use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from koinon.core.event import Event
from koinon.core.filters import Filter
from koinon.errors import KoinonError


class StoreError(KoinonError):
    """The store failed (disk, database); the event was not stored. Our fault, not the peer's."""


class EventStore(Protocol):
    """Durable event storage with NIP-01 replacement and NIP-09 deletion rules."""

    def submit(self, event: Event, done: Callable[[BaseException | None], None]) -> None:
        """Queue `event`; `done(None)` once durable, `done(error)` if refused or failed."""

    def submit_many(
        self, items: Sequence[tuple[Event, Callable[[BaseException | None], None]]]
    ) -> None:
        """`submit` for several events at once, in order."""

    async def add(self, event: Event) -> None:
        """Store `event` durably or raise `Rejected` (duplicate, deleted, older) or `StoreError`."""

    def query_now(
        self, filters: Sequence[Filter], readers: frozenset[str] | None = None
    ) -> list[bytes] | None:
        """`query` answered at once when that is cheap, else None (then await `query`)."""

    def count_now(
        self, filters: Sequence[Filter], readers: frozenset[str] | None = None
    ) -> int | None:
        """`count` answered at once when that is cheap, else None (then await `count`)."""

    async def query(
        self, filters: Sequence[Filter], readers: frozenset[str] | None = None
    ) -> list[bytes]:
        """Canonical JSON of matching events, newest first, ties by lowest id, limits applied."""

    async def count(self, filters: Sequence[Filter], readers: frozenset[str] | None = None) -> int:
        """How many distinct stored events match any of `filters`."""

    async def close(self) -> None:
        """Finish pending writes and release the database."""
