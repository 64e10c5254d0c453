"""The transparency log inside `SqliteStore` on a real SQLite file, against the RFC 9162 reference:
what gets logged, roots and proofs of every prefix, erasure, reopening, a stateful comparison, and
`check_log` refusing a log that was altered on disk after the node signed a head."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from koinon.core.event import Event
from koinon.core.filters import Filter
from koinon.errors import Reason, Rejected
from koinon.ledger import plan, reference
from koinon.ledger.entry import LogEntry
from koinon.ledger.heads import AnchorRecord, sign_anchor_record, sign_tree_head
from koinon.ledger.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion
from koinon.store.log import LogError
from koinon.store.sqlite import SqliteStore
from tests.helpers import make_event, make_key, pubkey_of

T0 = 1_700_000_000
AUTHORS = [make_key(200 + i) for i in range(3)]
KEY_OF = {pubkey_of(key): key for key in AUTHORS}
NODE_KEY = make_key(299)
OTHER_NODE_KEY = make_key(298)
AUX = bytes(32)


def logged_hashes(events: Sequence[Event]) -> list[bytes]:
    """The leaf hashes the log must hold for `events`, in acceptance order."""
    return [leaf_hash(LogEntry.of(e).encode()) for e in events]


def note(n: int, author: int = 0, kind: int = 1, tags: Sequence[Sequence[str]] = ()) -> Event:
    return make_event(AUTHORS[author], kind, f"note {n}", tags, T0 + n)


def deletion_of(target: Event, n: int) -> Event:
    """The author's NIP-09 deletion of `target`."""
    return make_event(KEY_OF[target.pubkey], 5, f"delete {n}", [["e", target.id]], T0 + n)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_path, clock=lambda: float(T0))
    try:
        yield opened
    finally:
        await opened.close()


async def rejection(store: SqliteStore, event: Event) -> Reason:
    with pytest.raises(Rejected) as info:
        await store.add(event)
    return info.value.reason


async def stored_ids(store: SqliteStore, *ids: str) -> list[str]:
    found = await store.query([Filter(ids=frozenset(ids))])
    return [orjson.loads(raw)["id"] for raw in found]


async def assert_log_is(store: SqliteStore, events: Sequence[Event]) -> None:
    """Size, every prefix root, every inclusion and consistency proof equal the reference."""
    hashes = logged_hashes(events)
    assert await store.log_size() == len(hashes)
    for size in range(len(hashes) + 1):
        root = await store.log_root(size)
        assert root == reference.root(hashes[:size])
        for index in range(size):
            proof = await store.inclusion_proof(index, size)
            assert proof == reference.inclusion_proof(hashes[:size], index)
            assert verify_inclusion(hashes[index], index, size, proof, root)
        for first in range(size + 1):
            proof = await store.consistency_proof(first, size)
            assert proof == reference.consistency_proof(hashes[:size], first)
            assert verify_consistency(first, size, reference.root(hashes[:first]), root, proof)
    for index, event in enumerate(events):
        position = await store.log_position(event.id)
        assert position == (index, LogEntry.of(event).encode())


# -- what is logged -------------------------------------------------------------------------------


async def test_an_empty_log(store: SqliteStore) -> None:
    assert await store.log_size() == 0
    assert await store.log_root(0) == EMPTY_ROOT
    assert await store.consistency_proof(0, 0) == []
    assert await store.log_position("ab" * 32) is None


async def test_accepted_events_are_logged_in_acceptance_order(store: SqliteStore) -> None:
    events = [note(i, i % 3, kind) for i, kind in enumerate([1, 7, 1, 0, 30023, 1, 7, 1, 1, 1])]
    for count, event in enumerate(events, 1):
        await store.add(event)
        assert await store.log_size() == count
    await assert_log_is(store, events)


async def test_concurrent_adds_are_all_logged_once(store: SqliteStore) -> None:
    events = [note(i, i % 3) for i in range(40)]
    await asyncio.gather(*(store.add(e) for e in events))
    positions = [p for e in events if (p := await store.log_position(e.id))]
    assert sorted(p[0] for p in positions) == list(range(40))
    in_log_order = [e for _, e in sorted(zip(positions, events, strict=True), key=lambda t: t[0])]
    hashes = logged_hashes(in_log_order)
    assert await store.log_root(40) == reference.root(hashes)
    assert await store.inclusion_proof(17, 40) == reference.inclusion_proof(hashes, 17)


async def test_a_log_entry_decodes_to_the_event_and_its_author_signature(
    store: SqliteStore,
) -> None:
    event = note(1)
    await store.add(event)
    position = await store.log_position(event.id)
    assert position is not None
    entry = LogEntry.decode(position[1])
    assert entry == LogEntry.of(event)
    assert entry.author_signed()


async def test_duplicates_and_rejected_events_are_not_logged(store: SqliteStore) -> None:
    first, profile, target = note(1), note(2, 1, kind=0), note(3, 2)
    deletion = deletion_of(target, 4)
    logged = [first, profile, deletion]
    for event in logged:
        await store.add(event)
    older_profile = note(0, 1, kind=0)  # replaceable, older than the stored one
    assert await rejection(store, first) is Reason.DUPLICATE
    assert await rejection(store, older_profile) is Reason.DUPLICATE
    assert await rejection(store, target) is Reason.BLOCKED  # deleted before it arrived
    await assert_log_is(store, logged)
    for refused in (older_profile, target):
        assert await store.log_position(refused.id) is None


async def test_the_nodes_ledger_statements_are_stored_but_not_logged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "node.sqlite3", node_pubkey=pubkey_of(NODE_KEY))
    try:
        await _ledger_statements_are_not_logged(store)
    finally:
        await store.close()


async def test_ledger_kinds_from_anyone_else_are_logged(store: SqliteStore) -> None:
    head = sign_tree_head(OTHER_NODE_KEY, 1, bytes(32), T0, AUX)
    await store.add(head.event)
    assert await store.log_position(head.event.id) is not None


async def _ledger_statements_are_not_logged(store: SqliteStore) -> None:
    await store.add(note(1))
    head = sign_tree_head(NODE_KEY, 1, await store.log_root(1), T0, AUX)
    anchor = AnchorRecord(
        size=1,
        root=head.root,
        chain_id=31337,
        contract="0x" + "11" * 20,
        operator="0x" + "22" * 20,
        index=0,
        tx_hash="0x" + "33" * 32,
        block_number=7,
        block_time=T0,
    )
    record = sign_anchor_record(NODE_KEY, anchor, T0 + 1, AUX)
    for event in (head.event, record):
        await store.add(event)
        assert await stored_ids(store, event.id) == [event.id]
        assert await store.log_position(event.id) is None
    await assert_log_is(store, [note(1)])


async def test_an_erased_event_keeps_its_leaf_and_proofs(store: SqliteStore) -> None:
    target, other = note(1), note(2, 1)
    deletion = deletion_of(target, 3)
    for event in (target, other, deletion):
        await store.add(event)
    assert await stored_ids(store, target.id) == []
    position = await store.log_position(target.id)
    assert position == (0, LogEntry.of(target).encode())
    entry = LogEntry.decode(position[1])
    assert entry.event_id == target.id and entry.author_signed()
    root = await store.log_root(3)
    proof = await store.inclusion_proof(0, 3)
    assert verify_inclusion(leaf_hash(position[1]), 0, 3, proof, root)
    await assert_log_is(store, [target, other, deletion])
    # The erased event cannot come back, and is not logged a second time.
    assert await rejection(store, target) is Reason.BLOCKED
    assert await store.log_size() == 3


async def test_a_replaced_event_keeps_its_leaf(store: SqliteStore) -> None:
    old, new = note(1, kind=0), note(2, kind=0)
    await store.add(old)
    await store.add(new)
    assert await stored_ids(store, old.id, new.id) == [new.id]
    await assert_log_is(store, [old, new])
    assert await rejection(store, old) is Reason.BLOCKED
    assert await store.log_size() == 2


async def test_proofs_beyond_the_log_are_refused(store: SqliteStore) -> None:
    for i in range(3):
        await store.add(note(i))
    for ask in (
        store.log_root(4),
        store.inclusion_proof(3, 3),
        store.inclusion_proof(0, 4),
        store.inclusion_proof(-1, 3),
        store.consistency_proof(2, 4),
        store.consistency_proof(3, 2),
    ):
        with pytest.raises(LogError):
            await ask


async def test_reopening_keeps_the_log_and_appends_after_it(db_path: Path) -> None:
    events = [note(i, i % 3) for i in range(11)]
    first = SqliteStore(db_path)
    try:
        for event in events[:6]:
            await first.add(event)
    finally:
        await first.close()
    again = SqliteStore(db_path)
    try:
        await assert_log_is(again, events[:6])
        for event in events[6:]:
            await again.add(event)
        await assert_log_is(again, events)
    finally:
        await again.close()


# -- stateful: random appends against the reference -----------------------------------------------


class LogMachine(RuleBasedStateMachine):
    """Appends, repeats and deletions; the stored log always equals the reference over what was
    accepted, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="koinon-log-model-"))
        self.loop = asyncio.new_event_loop()
        self.store = SqliteStore(self.folder / "events.sqlite3", clock=lambda: float(T0))
        self.logged: list[Event] = []
        self.submitted: list[Event] = []
        self.counter = 0

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def accept(self, event: Event) -> None:
        self.run(self.store.add(event))
        self.logged.append(event)
        self.submitted.append(event)

    @rule(author=st.integers(0, len(AUTHORS) - 1), kind=st.sampled_from([1, 7, 1111]))
    def add(self, author: int, kind: int) -> None:
        self.counter += 1
        self.accept(note(self.counter, author, kind))

    @precondition(lambda self: self.submitted)
    @rule(data=st.data())
    def add_again(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.submitted))
        with pytest.raises(Rejected):
            self.run(self.store.add(event))

    @precondition(lambda self: self.logged)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(self.logged))
        self.counter += 1
        self.accept(deletion_of(target, self.counter))

    @precondition(lambda self: self.logged)
    @rule(data=st.data())
    def proofs(self, data: st.DataObject) -> None:
        hashes = logged_hashes(self.logged)
        size = data.draw(st.integers(1, len(hashes)))
        index = data.draw(st.integers(0, size - 1))
        first = data.draw(st.integers(0, size))
        got = self.run(self.store.inclusion_proof(index, size))
        assert got == reference.inclusion_proof(hashes[:size], index)
        got = self.run(self.store.consistency_proof(first, size))
        assert got == reference.consistency_proof(hashes[:size], first)

    @invariant()
    def root_matches_the_reference(self) -> None:
        hashes = logged_hashes(self.logged)
        assert self.run(self.store.log_size()) == len(hashes)
        assert self.run(self.store.log_root(len(hashes))) == reference.root(hashes)

    def teardown(self) -> None:
        try:
            self.run(self.store.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)


LogMachine.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLogAgainstReference = LogMachine.TestCase


# -- check_log: refusing a log altered after a signed head ----------------------------------------

SIGNED_SIZE = 6  # not a power of two: the root folds stored subtrees (2, 0) and (1, 2)


async def make_signed_log(db_path: Path) -> list[Event]:
    events = [note(i, i % 3) for i in range(SIGNED_SIZE)]
    store = SqliteStore(db_path)
    try:
        for event in events:
            await store.add(event)
        root = await store.log_root(SIGNED_SIZE)
        await store.save_tree_head(sign_tree_head(NODE_KEY, SIGNED_SIZE, root, T0, AUX))
        store.check_log()
    finally:
        await store.close()
    return events


def tamper(db_path: Path, change: Callable[[sqlite3.Connection], object]) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        change(conn)
    finally:
        conn.close()


def flip_first_byte(conn: sqlite3.Connection, table: str, where: str, *key: int) -> None:
    column = "leaf" if table == "log_entries" else "hash"
    (value,) = conn.execute(f"SELECT {column} FROM {table} WHERE {where}", key).fetchone()
    altered = bytes([value[0] ^ 1]) + bytes(value[1:])
    updated = conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (altered, *key))
    assert updated.rowcount == 1


def reopened_check(db_path: Path) -> None:
    async def check() -> None:
        store = SqliteStore(db_path)
        try:
            store.check_log()
        finally:
            await store.close()

    asyncio.run(check())


async def test_check_log_passes_on_a_healthy_log_with_a_signed_head(db_path: Path) -> None:
    events = await make_signed_log(db_path)
    store = SqliteStore(db_path)
    try:
        store.check_log()
        await store.add(note(99))  # growing past the signed head is fine
        store.check_log()
        await assert_log_is(store, [*events, note(99)])
    finally:
        await store.close()


async def test_check_log_passes_without_any_signed_head(store: SqliteStore) -> None:
    store.check_log()
    await store.add(note(1))
    store.check_log()


TAMPERING: dict[str, Callable[[sqlite3.Connection], object]] = {
    "leaf-byte-changed": lambda c: flip_first_byte(c, "log_entries", "idx = ?", 2),
    "last-leaf-deleted": lambda c: c.execute(
        "DELETE FROM log_entries WHERE idx = ?", (SIGNED_SIZE - 1,)
    ),
    "middle-leaf-deleted": lambda c: c.execute("DELETE FROM log_entries WHERE idx = 1"),
    "root-plan-hash-2-0-changed": lambda c: flip_first_byte(
        c, "log_nodes", "level = ? AND idx = ?", 2, 0
    ),
    "root-plan-hash-1-2-changed": lambda c: flip_first_byte(
        c, "log_nodes", "level = ? AND idx = ?", 1, 2
    ),
}


@pytest.mark.parametrize("change", TAMPERING.values(), ids=TAMPERING.keys())
def test_check_log_refuses_a_tampered_log(
    db_path: Path, change: Callable[[sqlite3.Connection], object]
) -> None:
    asyncio.run(make_signed_log(db_path))
    tamper(db_path, change)
    with pytest.raises(LogError):
        reopened_check(db_path)


@pytest.mark.parametrize(
    "node", [(0, 1), (1, 0)], ids=["leaf-hash-changed", "interior-hash-changed"]
)
def test_check_log_refuses_any_altered_subtree_hash(db_path: Path, node: plan.NodeId) -> None:
    asyncio.run(make_signed_log(db_path))
    tamper(db_path, lambda c: flip_first_byte(c, "log_nodes", "level = ? AND idx = ?", *node))
    with pytest.raises(LogError):
        reopened_check(db_path)


def test_an_undetected_altered_subtree_hash_breaks_the_served_proofs(db_path: Path) -> None:
    """What the gap above costs: the proof for leaf 0 now carries the altered hash."""
    events = asyncio.run(make_signed_log(db_path))
    tamper(db_path, lambda c: flip_first_byte(c, "log_nodes", "level = ? AND idx = ?", 0, 1))
    hashes = logged_hashes(events)

    async def served() -> tuple[list[bytes], bytes]:
        store = SqliteStore(db_path)
        try:
            return await store.inclusion_proof(0, SIGNED_SIZE), await store.log_root(SIGNED_SIZE)
        finally:
            await store.close()

    proof, root = asyncio.run(served())
    assert root == reference.root(hashes)  # the root plan is untouched
    assert not verify_inclusion(hashes[0], 0, SIGNED_SIZE, proof, root)
