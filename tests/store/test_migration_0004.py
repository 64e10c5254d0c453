"""Migration 0004 (one id index, clustered tags) converts a database written at schema 0003.

The 0003 database is written here row by row as the 0003 writer wrote it: events and their tags,
log leaves (through the real `LogAppender`, whose rows did not change), removed events that stay
in the log, an author's deletion with its tombstone, and a node statement that is stored but not
logged. After opening it with the current store, every rule that depended on the dropped indexes
must still hold.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from koinon.core.event import Event
from koinon.core.filters import parse_filter
from koinon.errors import Reason, Rejected
from koinon.ledger.entry import LogEntry
from koinon.ledger.heads import sign_tree_head
from koinon.store import log
from koinon.store.migrate import migrations
from koinon.store.sqlite import SqliteStore, connect
from tests.helpers import make_event, make_key, pubkey_of

ALICE, BOB, NODE = make_key(41), make_key(42), make_key(43)
T0 = 1_700_000_000


class Schema3Writer:
    """Writes rows the way the schema-0003 store did."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.log = log.LogAppender(conn)
        self.seq = 0

    def store(self, event: Event) -> int:
        self.seq += 1
        d_tag = event.d_tag if 30000 <= event.kind < 40000 else ("" if event.kind == 0 else None)
        self.conn.execute(
            "INSERT INTO events (seq, id, pubkey, created_at, kind, d_tag, json) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                self.seq,
                bytes.fromhex(event.id),
                bytes.fromhex(event.pubkey),
                event.created_at,
                event.kind,
                d_tag,
                event.to_json().decode(),
            ),
        )
        self.conn.executemany(
            "INSERT INTO tags (seq, name, value, created_at) VALUES (?,?,?,?)",
            [
                (self.seq, t[0], t[1], event.created_at)
                for t in event.tags
                if len(t) >= 2 and len(t[0]) == 1
            ],
        )
        return self.seq

    def logged(self, event: Event) -> None:
        self.log.append(LogEntry.of(event), T0 * 1000)
        self.log.flush()

    def remove(self, seq: int) -> None:
        self.conn.execute("DELETE FROM tags WHERE seq = ?", (seq,))
        self.conn.execute("DELETE FROM events WHERE seq = ?", (seq,))


NOTES = [
    make_event(ALICE, 1, "first", [["t", "koinon"], ["t", "koinon"], ["p", pubkey_of(BOB)]], T0),
    make_event(BOB, 1, "second", [["t", "koinon"], ["client", "x"]], T0 + 1),
    make_event(ALICE, 1, "third", [["e", "ab" * 32]], T0 + 2),
]
PROFILE_OLD = make_event(ALICE, 0, '{"name":"old"}', (), T0)
PROFILE_NEW = make_event(ALICE, 0, '{"name":"new"}', (), T0 + 5)
REGRET = make_event(BOB, 1, "regret", [["t", "gone"]], T0 + 3)
DELETION = make_event(BOB, 5, "", [["e", REGRET.id]], T0 + 4)
HEAD = sign_tree_head(NODE, 1, b"\x11" * 32, T0 + 6, bytes(32)).event


@pytest.fixture
def schema3(tmp_path: Path) -> Iterator[Path]:
    """A database at schema 0003 holding the events above, as that version stored them."""
    path = tmp_path / "events.sqlite3"
    with contextlib.closing(connect(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        for _number, _name, sql in migrations()[:3]:
            for statement in sql.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        writer = Schema3Writer(conn)
        for note in NOTES:
            writer.store(note)
            writer.logged(note)
        old = writer.store(PROFILE_OLD)
        writer.logged(PROFILE_OLD)
        writer.remove(old)  # replaced: gone from the store, still in the log
        writer.store(PROFILE_NEW)
        writer.logged(PROFILE_NEW)
        regret = writer.store(REGRET)
        writer.logged(REGRET)
        writer.store(DELETION)
        writer.logged(DELETION)
        writer.remove(regret)
        conn.execute(
            "INSERT INTO deleted_ids (id, pubkey) VALUES (?, ?)",
            (bytes.fromhex(REGRET.id), bytes.fromhex(REGRET.pubkey)),
        )
        writer.store(HEAD)  # the node's own statement: stored, never logged
        conn.execute("COMMIT")
    yield path


def stored_json(found: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in found]


async def query(store: SqliteStore, **flt: Any) -> list[str]:
    return [e["id"] for e in stored_json(await store.query([parse_filter(flt)]))]


async def reason(store: SqliteStore, event: Event) -> Reason:
    with pytest.raises(Rejected) as info:
        await store.add(event)
    return info.value.reason


def log_root(path: Path, size: int) -> bytes:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return log.root(conn, size)


async def test_0003_database_is_converted_and_keeps_every_rule(schema3: Path) -> None:
    logged = [*NOTES, PROFILE_OLD, PROFILE_NEW, REGRET, DELETION]
    root_before = log_root(schema3, len(logged))
    store = SqliteStore(schema3, node_pubkey=pubkey_of(NODE))
    try:
        # Queries: by id (now through event_ids), by tag (clustered table), by author.
        assert await query(store, ids=[NOTES[0].id, REGRET.id, HEAD.id]) == [HEAD.id, NOTES[0].id]
        assert await query(store, **{"#t": ["koinon"]}) == [NOTES[1].id, NOTES[0].id]
        assert await query(store, **{"#t": ["gone"]}) == []
        assert await query(store, authors=[pubkey_of(ALICE)], kinds=[0]) == [PROFILE_NEW.id]
        assert await store.count([parse_filter({"ids": [NOTES[2].id], "kinds": [1]})]) == 1
        # Stored, removed, deleted and unlogged ids are told apart as before.
        assert await reason(store, NOTES[1]) is Reason.DUPLICATE
        assert await reason(store, PROFILE_OLD) is Reason.BLOCKED
        assert await reason(store, REGRET) is Reason.BLOCKED
        assert await reason(store, HEAD) is Reason.DUPLICATE
        # The log is untouched and still finds leaves by event id, also of removed events.
        assert await store.log_size() == len(logged)
        assert await store.log_root(len(logged)) == root_before
        for index, event in enumerate(logged):
            position = await store.log_position(event.id)
            assert position == (index, LogEntry.of(event).encode())
        assert await store.log_position(HEAD.id) is None
        store.check_log()
        # Writing goes on: a new note is logged next, and deleting a migrated note removes it
        # together with its tag rows.
        later = make_event(BOB, 1, "after the migration", [["t", "koinon"]], T0 + 10)
        await store.add(later)
        assert await store.log_position(later.id) == (len(logged), LogEntry.of(later).encode())
        await store.add(make_event(ALICE, 5, "", [["e", NOTES[0].id]], T0 + 11))
        assert await query(store, **{"#t": ["koinon"]}) == [later.id, NOTES[1].id]
        assert await query(store, **{"#p": [pubkey_of(BOB)]}) == []
        assert await reason(store, NOTES[0]) is Reason.BLOCKED
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(schema3)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations())
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "sqlite_autoindex_events_1" not in indexes
        assert "sqlite_autoindex_log_entries_1" not in indexes
        assert "tags_by_event" not in indexes
        # The repeated ["t", "koinon"] of the first note became one row, and its deletion left
        # none of its rows behind.
        assert conn.execute("SELECT count(*) FROM tags WHERE value = 'koinon'").fetchone() == (2,)


async def test_a_deleted_unlogged_statement_stays_deleted(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "events.sqlite3", node_pubkey=pubkey_of(NODE))
    try:
        await store.add(HEAD)
        await store.add(make_event(NODE, 5, "", [["e", HEAD.id]], T0 + 7))
        assert await query(store, ids=[HEAD.id]) == []
        assert await reason(store, HEAD) is Reason.BLOCKED  # the author's tombstone
    finally:
        await store.close()
