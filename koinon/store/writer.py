"""The store's writer: applies events to the database inside the caller's transaction.

One instance lives on the writer thread. Per batch it looks up, once, which ids are stored, logged
or deleted, buffers the rows of each accepted event (its row, its id, its single-letter tags, its
log leaf) and writes them with one `executemany` per table. NIP-01 replacement and NIP-09 deletion
read what is stored, so those events are written at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from koinon.core import kinds
from koinon.core.event import Event, is_hex
from koinon.errors import Reason, Rejected
from koinon.ledger.entry import VERSION as LEAF_VERSION
from koinon.ledger.heads import LEDGER_KINDS
from koinon.store.bulk import insert_rows
from koinon.store.log import LogAppender

_LEAF_PREFIX = bytes([LEAF_VERSION])


def _address(event: Event) -> str | None:
    cls = kinds.classify(event.kind)
    if cls is kinds.KindClass.ADDRESSABLE:
        return event.d_tag
    if cls is kinds.KindClass.REPLACEABLE:
        return ""
    return None


class Writer:
    """Applies events to the database inside one transaction per batch."""

    def __init__(
        self, conn: sqlite3.Connection, clock: Callable[[], float], node_pubkey: str | None
    ) -> None:
        self.conn = conn
        self.clock = clock
        self.node_pubkey = node_pubkey
        self.log = LogAppender(conn)
        self.reload()

    def reload(self) -> None:
        """Forget buffered rows and re-read counters (at start and after a rollback)."""
        self.log.reload()
        row = self.conn.execute("SELECT max(seq) FROM events").fetchone()
        self.next_seq = (row[0] or 0) + 1
        self._events: list[tuple[int, bytes, bytes, int, int, str | None, str]] = []
        self._ids: list[tuple[bytes, int, int | None]] = []
        self._tags: list[tuple[str, str, int, int]] = []
        self._stored: set[bytes] = set()
        self._logged: set[bytes] = set()
        self._deleted: set[tuple[bytes, bytes]] = set()
        self._logged_at = 0

    def begin(self, events: list[Event]) -> list[bytes]:
        """Look up, for a whole batch at once, which ids are stored, logged or deleted; return
        the events' ids as bytes, in order."""
        ids = [bytes.fromhex(e.id) for e in events]
        self._stored, self._logged = set(), set()
        for event_id, seq, log_idx in self._existing(
            "SELECT id, seq, log_idx FROM event_ids WHERE id IN ({})", ids
        ):
            if seq is not None:
                self._stored.add(event_id)
            if log_idx is not None:
                self._logged.add(event_id)
        self._deleted = set(
            self._existing("SELECT id, pubkey FROM deleted_ids WHERE id IN ({})", ids)
        )
        self._logged_at = int(self.clock() * 1000)
        return ids

    def _existing(self, sql: str, ids: list[bytes]) -> list[Any]:
        found: list[Any] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found += self.conn.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
        return found

    def apply(self, event: Event, event_id: bytes) -> None:
        """Check `event` (whose id is `event_id`) and buffer its rows; replaceable, addressable
        and deletion events are written at once, since they read and change what is stored."""
        if event_id in self._stored:
            raise Rejected(Reason.DUPLICATE, "already have this event")
        logged = not (event.kind in LEDGER_KINDS and event.pubkey == self.node_pubkey)
        if logged and event_id in self._logged:
            raise Rejected(Reason.BLOCKED, "this event was accepted before and since removed")
        pubkey = bytes.fromhex(event.pubkey)
        if self._deleted and (event_id, pubkey) in self._deleted:
            raise Rejected(Reason.BLOCKED, "this event was deleted by its author")
        kind = event.kind
        d_tag = _address(event)
        direct = d_tag is not None or kind == kinds.DELETION
        if direct:
            self.flush()
        if d_tag is not None:
            self._replace(event, event_id, pubkey, d_tag)
        seq = self.next_seq
        self.next_seq += 1
        created_at = event.created_at
        self._events.append(
            (seq, event_id, pubkey, created_at, kind, d_tag, event.to_json().decode())
        )
        self._tags += [
            (t[0], t[1], created_at, seq) for t in event.tags if len(t) >= 2 and len(t[0]) == 1
        ]
        self._stored.add(event_id)
        log_idx = None
        if logged:
            self._logged.add(event_id)
            leaf = _LEAF_PREFIX + event_id + pubkey + bytes.fromhex(event.sig)  # LogEntry.encode
            log_idx = self.log.append_leaf(event_id, leaf, self._logged_at)
        self._ids.append((event_id, seq, log_idx))
        if direct:
            self.flush()
        if kind == kinds.DELETION:
            self._delete(event, pubkey)

    def flush(self) -> None:
        """Write every buffered row."""
        if self._events:
            insert_rows(
                self.conn,
                "INSERT INTO events (seq, id, pubkey, created_at, kind, d_tag, json)",
                self._events,
            )
            self._events.clear()
        if self._ids:
            # An id seen before but neither stored nor logged now (a node statement that was
            # removed) has a row already.
            insert_rows(
                self.conn,
                "INSERT INTO event_ids (id, seq, log_idx)",
                self._ids,
                "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
                "log_idx = coalesce(log_idx, excluded.log_idx)",
            )
            self._ids.clear()
        if self._tags:
            insert_rows(
                self.conn, "INSERT OR IGNORE INTO tags (name, value, created_at, seq)", self._tags
            )
            self._tags.clear()
        self.log.flush()

    def _replace(self, event: Event, event_id: bytes, pubkey: bytes, d_tag: str) -> None:
        conn = self.conn
        row = conn.execute(
            "SELECT until FROM deleted_addresses WHERE pubkey = ? AND kind = ? AND d_tag = ?",
            (pubkey, event.kind, d_tag),
        ).fetchone()
        if row and event.created_at <= row[0]:
            raise Rejected(Reason.BLOCKED, "this address was deleted by its author")
        existing = conn.execute(
            "SELECT seq, created_at, id FROM events "
            "WHERE pubkey = ? AND kind = ? AND d_tag = ? AND d_tag IS NOT NULL",
            (pubkey, event.kind, d_tag),
        ).fetchall()
        for _seq, created_at, other_id in existing:
            if created_at > event.created_at or (
                created_at == event.created_at and other_id < event_id
            ):
                raise Rejected(Reason.DUPLICATE, "a newer version of this event is stored")
        for seq, _, _ in existing:
            self._remove(seq)

    def _remove(self, seq: int) -> None:
        conn = self.conn
        row = conn.execute(
            "SELECT id, created_at, json FROM events WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            return
        event_id, created_at, text = row
        conn.executemany(
            "DELETE FROM tags WHERE name = ? AND value = ? AND created_at = ? AND seq = ?",
            [
                (t[0], t[1], created_at, seq)
                for t in orjson.loads(text)["tags"]
                if len(t) >= 2 and len(t[0]) == 1
            ],
        )
        conn.execute("DELETE FROM events WHERE seq = ?", (seq,))
        conn.execute("UPDATE event_ids SET seq = NULL WHERE id = ?", (event_id,))

    def _delete(self, deletion: Event, pubkey: bytes) -> None:
        """NIP-09: remove the author's own referenced events and remember the tombstones."""
        conn = self.conn
        for target in deletion.tag_values("e"):
            if not is_hex(target, 64):
                continue
            target_id = bytes.fromhex(target)
            row = conn.execute(
                "SELECT e.seq FROM event_ids i JOIN events e ON e.seq = i.seq "
                "WHERE i.id = ? AND e.pubkey = ? AND e.kind != ?",
                (target_id, pubkey, kinds.DELETION),
            ).fetchone()
            if row:
                self._remove(row[0])
            conn.execute(
                "INSERT OR IGNORE INTO deleted_ids (id, pubkey) VALUES (?, ?)", (target_id, pubkey)
            )
            self._deleted.add((target_id, pubkey))
            self._stored.discard(target_id)
        for address in deletion.tag_values("a"):
            parts = address.split(":", 2)
            if (
                len(parts) != 3
                or parts[1] != deletion.pubkey
                or not (parts[0].isascii() and parts[0].isdigit())
                or int(parts[0]) > kinds.MAX_KIND
            ):
                continue
            kind, d_tag = int(parts[0]), parts[2]
            rows = conn.execute(
                "SELECT seq FROM events WHERE pubkey = ? AND kind = ? AND d_tag = ? "
                "AND d_tag IS NOT NULL AND created_at <= ?",
                (pubkey, kind, d_tag, deletion.created_at),
            ).fetchall()
            for (seq,) in rows:
                self._remove(seq)
            conn.execute(
                "INSERT INTO deleted_addresses (pubkey, kind, d_tag, until) VALUES (?,?,?,?) "
                "ON CONFLICT DO UPDATE SET until = max(until, excluded.until)",
                (pubkey, kind, d_tag, deletion.created_at),
            )
