"""Client reads run on the event loop's thread within a budget of SQLite steps, else on a thread.

The three ways a read can go (inline, interrupted by the budget and redone on a thread, thread
only) must give the same answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from koinon.core.filters import parse_filter
from koinon.store.sqlite import SqliteStore
from tests.helpers import make_event, make_key, pubkey_of

KEYS = [make_key(80 + i) for i in range(4)]
T0 = 1_700_000_000
EVENTS = [
    make_event(KEYS[i % 4], 1 if i % 3 else 7, f"n{i}", [["t", f"topic{i % 5}"]], T0 + i // 2)
    for i in range(240)
]
FILTERS: list[list[dict[str, Any]]] = [
    [{"limit": 30}],
    [{"authors": [pubkey_of(KEYS[1])], "limit": 15}],
    [{"kinds": [7], "#t": ["topic2", "topic3"], "limit": 40}],
    [{"ids": [EVENTS[5].id, EVENTS[77].id, "00" * 32]}],
    [{"since": T0 + 50, "until": T0 + 60}, {"authors": [pubkey_of(KEYS[0])], "limit": 3}],
]

# Budgets: the default; so small that SQLite interrupts nearly every read; none (threads only).
BUDGETS = {"inline": None, "interrupted": 1, "thread": 0}


async def answers(path: Path, budget: int | None) -> tuple[list[list[bytes]], list[int]]:
    store = SqliteStore(path) if budget is None else SqliteStore(path, inline_steps=budget)
    try:
        if not await store.count([parse_filter({})]):
            for event in EVENTS:
                await store.add(event)
        queries = [await store.query([parse_filter(f) for f in fs]) for fs in FILTERS]
        counts = [await store.count([parse_filter(f) for f in fs]) for fs in FILTERS]
        return queries, counts
    finally:
        await store.close()


@pytest.mark.parametrize("budget", BUDGETS.values(), ids=BUDGETS.keys())
async def test_every_read_path_gives_the_same_answers(tmp_path: Path, budget: int | None) -> None:
    path = tmp_path / "events.sqlite3"
    expected = await answers(path, 0)
    assert [len(q) for q in expected[0]] == [30, 15, 32, 2, 25]
    assert await answers(path, budget) == expected


async def test_query_now_declines_what_exceeds_the_budget(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "events.sqlite3", inline_steps=1_000)
    try:
        for event in EVENTS:
            await store.add(event)
        cheap = [parse_filter({"ids": [EVENTS[5].id]})]
        costly = [parse_filter({"kinds": [1, 7], "limit": 240})]
        assert store.query_now(cheap) == [EVENTS[5].to_json()]
        assert store.count_now(cheap) == 1
        assert store.query_now(costly) is None
        assert len(await store.query(costly)) == 240  # the same query, on a reader thread
    finally:
        await store.close()
