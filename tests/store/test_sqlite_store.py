"""`SqliteStore` on a real file: queries, NIP-01 replacement, NIP-09 deletion, migrations,
durability under concurrent writes, and a stateful comparison with an obvious in-memory model."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from koinon.core.event import Event
from koinon.core.filters import Filter, parse_filter
from koinon.errors import Reason, Rejected
from koinon.store.migrate import SchemaError, migrations
from koinon.store.sqlite import SqliteStore
from tests.helpers import make_event, make_key, pubkey_of

ALICE, BOB = make_key(1), make_key(2)
T0 = 1_700_000_000


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_path)
    try:
        yield opened
    finally:
        await opened.close()


async def query_ids(store: SqliteStore, *filters: dict[str, Any]) -> list[str]:
    found = await store.query([parse_filter(f) for f in filters])
    return [orjson.loads(raw)["id"] for raw in found]


async def rejected(store: SqliteStore, event: Event) -> Reason:
    with pytest.raises(Rejected) as info:
        await store.add(event)
    return info.value.reason


def newest_first(events: Sequence[Event]) -> list[str]:
    return [e.id for e in sorted(events, key=lambda e: (-e.created_at, e.id))]


# -- adding, querying, counting -------------------------------------------------------------------


async def test_add_then_query_returns_the_exact_canonical_json(store: SqliteStore) -> None:
    event = make_event(ALICE, 1, "hello ünïcode \u2028 \U0001f600", [["t", "x"]], T0)
    await store.add(event)
    assert await store.query([Filter(ids=frozenset([event.id]))]) == [event.to_json()]
    assert await store.count([Filter()]) == 1


async def test_query_orders_newest_first_with_ties_by_lowest_id(store: SqliteStore) -> None:
    events = [make_event(ALICE, 1, f"n{i}", (), T0 + i % 3) for i in range(12)]
    for event in events:
        await store.add(event)
    assert await query_ids(store, {}) == newest_first(events)


async def test_limit_applies_per_filter_and_filters_are_or_ed_without_duplicates(
    store: SqliteStore,
) -> None:
    notes = [make_event(ALICE, 1, f"a{i}", (), T0 + i) for i in range(5)]
    other = [make_event(BOB, 7, f"b{i}", (), T0 + 10 + i) for i in range(5)]
    for event in notes + other:
        await store.add(event)
    assert await query_ids(store, {"kinds": [1], "limit": 2}) == newest_first(notes)[:2]
    both = await query_ids(store, {"kinds": [1], "limit": 2}, {"kinds": [7], "limit": 3})
    assert both == newest_first(newest_first_events(other)[:3] + newest_first_events(notes)[:2])
    # Overlapping filters: each event once, still in order.
    overlap = await query_ids(store, {"authors": [pubkey_of(ALICE)]}, {"kinds": [1]})
    assert overlap == newest_first(notes)
    assert await store.count([parse_filter({"authors": [pubkey_of(ALICE)]}), Filter()]) == 10


def newest_first_events(events: Sequence[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (-e.created_at, e.id))


async def test_default_and_maximum_limit(db_path: Path) -> None:
    capped = SqliteStore(db_path, default_limit=3, max_limit=4)
    try:
        events = [make_event(ALICE, 1, f"n{i}", (), T0 + i) for i in range(6)]
        for event in events:
            await capped.add(event)
        assert await query_ids(capped, {}) == newest_first(events)[:3]
        assert await query_ids(capped, {"limit": 100}) == newest_first(events)[:4]
        assert await query_ids(capped, {"limit": 0}) == []
        assert await capped.count([Filter()]) == 6  # COUNT ignores limits
    finally:
        await capped.close()


async def test_filter_conditions(store: SqliteStore) -> None:
    a = make_event(ALICE, 1, "a", (), T0)
    b = make_event(BOB, 1, "b", (), T0 + 5)
    c = make_event(BOB, 30023, "c", [["d", "x"]], T0 + 10)
    for event in (a, b, c):
        await store.add(event)
    assert await query_ids(store, {"ids": [a.id, c.id]}) == [c.id, a.id]
    assert await query_ids(store, {"authors": [pubkey_of(BOB)], "kinds": [1]}) == [b.id]
    assert await query_ids(store, {"since": T0 + 5}) == [c.id, b.id]
    assert await query_ids(store, {"until": T0 + 5}) == [b.id, a.id]
    assert await query_ids(store, {"since": T0 + 6, "until": T0 + 4}) == []
    assert await query_ids(store, {"kinds": []}) == []
    assert await store.count([parse_filter({"authors": []})]) == 0


async def test_tag_queries(store: SqliteStore) -> None:
    target = "ab" * 32
    one = make_event(ALICE, 1, "one", [["t", "koinon"], ["e", target, "", "root"]], T0)
    two = make_event(ALICE, 1, "two", [["t", "nostr"], ["t", "koinon"]], T0 + 1)
    three = make_event(BOB, 1, "three", [["T", "koinon"], ["topic", "koinon"], ["t"]], T0 + 2)
    for event in (one, two, three):
        await store.add(event)
    assert await query_ids(store, {"#t": ["koinon"]}) == [two.id, one.id]
    assert await query_ids(store, {"#t": ["nostr", "nope"]}) == [two.id]
    assert await query_ids(store, {"#e": [target]}) == [one.id]
    assert await query_ids(store, {"#T": ["koinon"]}) == [three.id]  # tag names are case-sensitive
    assert await query_ids(store, {"#t": ["koinon"], "#e": [target]}) == [one.id]  # AND-ed
    assert await query_ids(store, {"#t": ["koinon"], "authors": [pubkey_of(BOB)]}) == []
    assert await store.count([parse_filter({"#t": ["koinon"]})]) == 2


async def test_duplicate_is_rejected_as_duplicate(store: SqliteStore) -> None:
    event = make_event(ALICE, 1, "once", (), T0)
    await store.add(event)
    assert await rejected(store, event) is Reason.DUPLICATE
    assert await store.count([Filter()]) == 1


async def test_the_same_event_added_concurrently_is_stored_once(store: SqliteStore) -> None:
    event = make_event(ALICE, 1, "race", (), T0)
    outcomes = await asyncio.gather(*(store.add(event) for _ in range(5)), return_exceptions=True)
    assert outcomes.count(None) == 1
    assert all(isinstance(o, Rejected) and o.reason is Reason.DUPLICATE for o in outcomes if o)
    assert await store.count([Filter()]) == 1


async def test_submit_reports_each_outcome_on_the_loop(store: SqliteStore) -> None:
    loop = asyncio.get_running_loop()
    event = make_event(ALICE, 1, "callback", (), T0)
    outcomes: asyncio.Queue[BaseException | None] = asyncio.Queue()

    def done(outcome: BaseException | None) -> None:
        assert asyncio.get_running_loop() is loop
        outcomes.put_nowait(outcome)

    store.submit(event, done)
    store.submit(event, done)
    first, second = [await asyncio.wait_for(outcomes.get(), 10) for _ in range(2)]
    assert first is None
    assert isinstance(second, Rejected) and second.reason is Reason.DUPLICATE
    assert await query_ids(store, {}) == [event.id]


# -- replaceable and addressable events -----------------------------------------------------------


@pytest.mark.parametrize("kind", [0, 3, 10002])
async def test_replaceable_keeps_only_the_newest_per_pubkey(store: SqliteStore, kind: int) -> None:
    old = make_event(ALICE, kind, "old", (), T0)
    new = make_event(ALICE, kind, "new", (), T0 + 10)
    bobs = make_event(BOB, kind, "bob", (), T0)
    for event in (old, new, bobs):
        await store.add(event)
    assert await query_ids(store, {"kinds": [kind]}) == [new.id, bobs.id]
    older = make_event(ALICE, kind, "older, arriving late", (), T0 + 5)
    assert await rejected(store, older) is Reason.DUPLICATE
    assert await query_ids(store, {"kinds": [kind], "authors": [pubkey_of(ALICE)]}) == [new.id]


@pytest.mark.parametrize("lower_first", [True, False], ids=["lower-id-first", "higher-id-first"])
async def test_replaceable_tie_keeps_the_lowest_id(store: SqliteStore, lower_first: bool) -> None:
    pair = sorted((make_event(ALICE, 0, f"v{i}", (), T0) for i in range(2)), key=lambda e: e.id)
    low, high = pair
    if lower_first:
        await store.add(low)
        assert await rejected(store, high) is Reason.DUPLICATE
    else:
        await store.add(high)
        await store.add(low)
    assert await query_ids(store, {"kinds": [0]}) == [low.id]


async def test_addressable_is_replaced_per_d_tag(store: SqliteStore) -> None:
    a1 = make_event(ALICE, 30023, "a1", [["d", "a"]], T0)
    b1 = make_event(ALICE, 30023, "b1", [["d", "b"]], T0)
    a2 = make_event(ALICE, 30023, "a2", [["d", "a"]], T0 + 1)
    bob_a = make_event(BOB, 30023, "bob", [["d", "a"]], T0)
    for event in (a1, b1, a2, bob_a):
        await store.add(event)
    assert sorted(await query_ids(store, {"kinds": [30023]})) == sorted([a2.id, b1.id, bob_a.id])
    stale = make_event(ALICE, 30023, "a0", [["d", "a"]], T0 - 1)
    assert await rejected(store, stale) is Reason.DUPLICATE
    # No d tag and an empty d tag name the same address.
    bare = make_event(ALICE, 30023, "bare", (), T0)
    empty = make_event(ALICE, 30023, "empty", [["d", ""]], T0 + 1)
    await store.add(bare)
    await store.add(empty)
    assert await query_ids(store, {"kinds": [30023], "#d": [""]}) == [empty.id]
    assert bare.id not in await query_ids(store, {})


async def test_replaced_event_leaves_no_tags_behind(store: SqliteStore) -> None:
    old = make_event(ALICE, 3, "", [["p", pubkey_of(BOB)]], T0)
    new = make_event(ALICE, 3, "", [["p", pubkey_of(ALICE)]], T0 + 1)
    await store.add(old)
    await store.add(new)
    assert await query_ids(store, {"#p": [pubkey_of(BOB)]}) == []
    assert await query_ids(store, {"#p": [pubkey_of(ALICE)]}) == [new.id]


# -- NIP-09 deletion ------------------------------------------------------------------------------


def deletion(key: bytes, created_at: int, *tags: list[str]) -> Event:
    return make_event(key, 5, "deleted", tags, created_at)


async def test_deletion_by_e_tag_removes_own_events_only(store: SqliteStore) -> None:
    mine = make_event(ALICE, 1, "mine", (), T0)
    theirs = make_event(BOB, 1, "theirs", (), T0)
    await store.add(mine)
    await store.add(theirs)
    await store.add(deletion(ALICE, T0 + 1, ["e", mine.id], ["e", theirs.id]))
    assert await query_ids(store, {"kinds": [1]}) == [theirs.id]
    assert await rejected(store, mine) is Reason.BLOCKED
    # Alice's tombstone for Bob's id blocks nothing: his event is simply still there.
    assert await rejected(store, theirs) is Reason.DUPLICATE


async def test_deletion_by_another_pubkey_has_no_effect(store: SqliteStore) -> None:
    mine = make_event(ALICE, 1, "mine", (), T0)
    await store.add(mine)
    forged = deletion(BOB, T0 + 1, ["e", mine.id])
    await store.add(forged)
    assert await query_ids(store, {"kinds": [1]}) == [mine.id]
    # A foreign tombstone written before the event arrives does not block it either.
    later = make_event(ALICE, 1, "later", (), T0 + 2)
    await store.add(deletion(BOB, T0 + 3, ["e", later.id]))
    await store.add(later)
    assert await query_ids(store, {"kinds": [1]}) == [later.id, mine.id]


async def test_foreign_deletion_first_does_not_stop_the_authors_deletion(
    store: SqliteStore,
) -> None:
    note = make_event(ALICE, 1, "note", (), T0)
    await store.add(note)
    await store.add(deletion(BOB, T0 + 1, ["e", note.id]))
    await store.add(deletion(ALICE, T0 + 2, ["e", note.id]))
    assert await query_ids(store, {"kinds": [1]}) == []
    assert await rejected(store, note) is Reason.BLOCKED


async def test_deletion_that_arrives_first_blocks_the_event(store: SqliteStore) -> None:
    event = make_event(ALICE, 1, "not yet here", (), T0)
    await store.add(deletion(ALICE, T0 + 1, ["e", event.id]))
    assert await rejected(store, event) is Reason.BLOCKED
    assert await query_ids(store, {"kinds": [1]}) == []


async def test_deleting_a_deletion_has_no_effect(store: SqliteStore) -> None:
    note = make_event(ALICE, 1, "note", (), T0)
    first = deletion(ALICE, T0 + 1, ["e", note.id])
    for event in (note, first):
        await store.add(event)
    await store.add(deletion(ALICE, T0 + 2, ["e", first.id]))
    assert first.id in await query_ids(store, {"kinds": [5]})
    assert await query_ids(store, {"kinds": [1]}) == []
    assert await rejected(store, note) is Reason.BLOCKED


async def test_deletion_by_a_tag_removes_versions_up_to_its_time(store: SqliteStore) -> None:
    address = f"30023:{pubkey_of(ALICE)}:post"
    v1 = make_event(ALICE, 30023, "v1", [["d", "post"]], T0)
    other = make_event(ALICE, 30023, "other", [["d", "other"]], T0)
    for event in (v1, other):
        await store.add(event)
    await store.add(deletion(ALICE, T0 + 10, ["a", address]))
    assert await query_ids(store, {"kinds": [30023]}) == [other.id]
    for created_at in (T0 + 5, T0 + 10):  # older versions, and one as old as the deletion
        stale = make_event(ALICE, 30023, f"stale {created_at}", [["d", "post"]], created_at)
        assert await rejected(store, stale) is Reason.BLOCKED
    fresh = make_event(ALICE, 30023, "v2", [["d", "post"]], T0 + 11)
    await store.add(fresh)
    assert sorted(await query_ids(store, {"kinds": [30023]})) == sorted([fresh.id, other.id])


async def test_deletion_by_a_tag_keeps_newer_versions(store: SqliteStore) -> None:
    newer = make_event(ALICE, 0, "profile", (), T0 + 20)
    await store.add(newer)
    await store.add(deletion(ALICE, T0 + 10, ["a", f"0:{pubkey_of(ALICE)}:"]))
    assert await query_ids(store, {"kinds": [0]}) == [newer.id]


async def test_deletion_by_a_tag_of_another_pubkey_has_no_effect(store: SqliteStore) -> None:
    post = make_event(ALICE, 30023, "post", [["d", "x"]], T0)
    await store.add(post)
    await store.add(deletion(BOB, T0 + 10, ["a", f"30023:{pubkey_of(ALICE)}:x"]))
    assert await query_ids(store, {"kinds": [30023]}) == [post.id]
    await store.add(make_event(ALICE, 30023, "post v2", [["d", "x"]], T0 + 5))


@pytest.mark.parametrize(
    "kind_text", ["99999999999999999999", "70000", "\u00b2", "-1", ""], ids=repr
)
async def test_deletion_with_a_malformed_a_tag_kind_leaves_the_store_working(
    store: SqliteStore, kind_text: str
) -> None:
    bad = deletion(ALICE, T0, ["a", f"{kind_text}:{pubkey_of(ALICE)}:x"])
    with contextlib.suppress(Rejected):  # refusing it is fine; hanging or crashing is not
        await asyncio.wait_for(store.add(bad), 10)
    after = make_event(ALICE, 1, "after", (), T0)
    await asyncio.wait_for(store.add(after), 10)
    assert await query_ids(store, {"ids": [after.id]}) == [after.id]


# -- files, migrations, durability ----------------------------------------------------------------


async def test_reopening_keeps_events_and_tombstones(db_path: Path) -> None:
    first = SqliteStore(db_path)
    note = make_event(ALICE, 1, "kept", [["t", "x"]], T0)
    gone = make_event(ALICE, 1, "gone", (), T0)
    profile = make_event(ALICE, 0, "p2", (), T0 + 1)
    try:
        for event in (note, gone, profile, deletion(ALICE, T0 + 2, ["e", gone.id])):
            await first.add(event)
    finally:
        await first.close()
    second = SqliteStore(db_path)
    try:
        assert await query_ids(second, {"#t": ["x"]}) == [note.id]
        assert await query_ids(second, {"kinds": [0]}) == [profile.id]
        assert await second.count([Filter()]) == 3
        assert await rejected(second, gone) is Reason.BLOCKED
        assert await rejected(second, make_event(ALICE, 0, "p1", (), T0)) is Reason.DUPLICATE
    finally:
        await second.close()


async def test_schema_version_is_the_number_of_migrations(
    store: SqliteStore, db_path: Path
) -> None:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert version == len(migrations()) >= 1
    assert journal == "wal"


async def test_a_database_from_a_newer_koinon_is_refused(db_path: Path) -> None:
    await SqliteStore(db_path).close()
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        conn.execute(f"PRAGMA user_version = {len(migrations()) + 1}")
    with pytest.raises(SchemaError):
        SqliteStore(db_path)


async def test_operations_after_close_fail_cleanly(db_path: Path) -> None:
    closed = SqliteStore(db_path)
    await closed.close()
    await closed.close()  # idempotent
    with pytest.raises(Exception, match="closed"):
        await closed.add(make_event(ALICE, 1, "late", (), T0))


async def test_two_thousand_concurrent_adds_are_all_durable(db_path: Path) -> None:
    events = [
        make_event(make_key(100 + i % 7), 1, f"bulk {i}", (), T0 + i % 50) for i in range(2000)
    ]
    first = SqliteStore(db_path)
    try:
        outcomes = await asyncio.gather(*(first.add(e) for e in events), return_exceptions=True)
        assert outcomes == [None] * len(events)
        assert await first.count([Filter()]) == len(events)
    finally:
        await first.close()
    second = SqliteStore(db_path, max_limit=5000)
    try:
        found = await query_ids(second, {"limit": 5000})
        assert found == newest_first(events)
    finally:
        await second.close()
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- stateful comparison with a model -------------------------------------------------------------

KEYS = [make_key(200 + i) for i in range(3)]
KINDS = [1, 7, 0, 3, 10002, 30023, 30000]


def model_class(kind: int) -> str:
    if kind in (0, 3) or 10000 <= kind < 20000:
        return "replaceable"
    if 30000 <= kind < 40000:
        return "addressable"
    return "regular"


class StoreModel:
    """The obvious reference: a dict of events and a linear scan per rule."""

    def __init__(self) -> None:
        self.events: dict[str, Event] = {}
        self.replaced: set[str] = set()

    def add(self, event: Event) -> set[Reason | None]:
        """The outcomes the store may give: a replaced version that comes back may be refused
        either as a duplicate or as blocked, as long as it is refused."""
        if event.id in self.events:
            return {Reason.DUPLICATE}
        if event.id in self.replaced:
            return {Reason.DUPLICATE, Reason.BLOCKED}
        cls = model_class(event.kind)
        if cls != "regular":
            d = event.d_tag if cls == "addressable" else ""
            same = [
                e
                for e in self.events.values()
                if (e.pubkey, e.kind) == (event.pubkey, event.kind)
                and (e.d_tag if cls == "addressable" else "") == d
            ]
            for other in same:
                if (other.created_at, event.id) > (event.created_at, other.id):
                    return {Reason.DUPLICATE}
            for other in same:
                del self.events[other.id]
                self.replaced.add(other.id)
        self.events[event.id] = event
        return {None}

    def query(self, flt: Filter, limit: int) -> list[str]:
        return newest_first([e for e in self.events.values() if flt.matches(e)])[:limit]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="koinon-store-model-"))
        self.loop = asyncio.new_event_loop()
        self.store = SqliteStore(self.folder / "events.sqlite3")
        self.model = StoreModel()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    @rule(
        author=st.integers(0, len(KEYS) - 1),
        kind=st.sampled_from(KINDS),
        created_at=st.integers(T0, T0 + 3),
        content=st.sampled_from(["", "a", "b"]),
        d=st.sampled_from([None, "", "x", "y"]),
    )
    def add(self, author: int, kind: int, created_at: int, content: str, d: str | None) -> None:
        tags = [] if d is None else [["d", d]]
        event = make_event(KEYS[author], kind, content, tags, created_at)
        expected = self.model.add(event)
        try:
            self.run(self.store.add(event))
            got = None
        except Rejected as rejected:
            got = rejected.reason
        assert got in expected, f"{event.to_dict()}: store {got}, model {expected}"

    @rule(
        author=st.none() | st.integers(0, len(KEYS) - 1),
        kind=st.none() | st.sampled_from(KINDS),
        limit=st.integers(1, 6),
    )
    def query(self, author: int | None, kind: int | None, limit: int) -> None:
        raw: dict[str, Any] = {"limit": limit}
        if author is not None:
            raw["authors"] = [pubkey_of(KEYS[author])]
        if kind is not None:
            raw["kinds"] = [kind]
        flt = parse_filter(raw)
        found = [orjson.loads(e)["id"] for e in self.run(self.store.query([flt]))]
        assert found == self.model.query(flt, limit), raw

    @invariant()
    def same_count(self) -> None:
        assert self.run(self.store.count([Filter()])) == len(self.model.events)

    def teardown(self) -> None:
        try:
            self.run(self.store.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)


StoreMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoreAgainstModel = StoreMachine.TestCase
