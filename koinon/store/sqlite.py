"""SQLite event store: WAL mode, one writer thread with group commit, a pool of reader threads.

`add` resolves only after the transaction holding the event has committed with
`synchronous=FULL`, so an acknowledged event survives a crash of the process or the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from koinon.core import kinds
from koinon.core.event import Event, is_hex
from koinon.core.filters import Filter
from koinon.errors import Reason, Rejected
from koinon.store.base import StoreError
from koinon.store.migrate import migrate
from koinon.store.query import count_events, select_events

log = logging.getLogger(__name__)

MAX_BATCH = 2000
Outcome = BaseException | None
Callback = Callable[[Outcome], None]
_Item = tuple[Event, Callback, asyncio.AbstractEventLoop]


def connect(path: Path) -> sqlite3.Connection:
    """A connection with Koinon's pragmas: WAL, full sync, autocommit (explicit transactions)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def _address(event: Event) -> str | None:
    cls = kinds.classify(event.kind)
    if cls is kinds.KindClass.ADDRESSABLE:
        return event.d_tag
    if cls is kinds.KindClass.REPLACEABLE:
        return ""
    return None


class _Writer:
    """Applies events to the database inside one transaction per batch."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def apply(self, event: Event) -> None:
        conn = self.conn
        event_id = bytes.fromhex(event.id)
        pubkey = bytes.fromhex(event.pubkey)
        if conn.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone():
            raise Rejected(Reason.DUPLICATE, "already have this event")
        if conn.execute(
            "SELECT 1 FROM deleted_ids WHERE id = ? AND pubkey = ?", (event_id, pubkey)
        ).fetchone():
            raise Rejected(Reason.BLOCKED, "this event was deleted by its author")
        d_tag = _address(event)
        if d_tag is not None:
            self._replace(event, event_id, pubkey, d_tag)
        cursor = conn.execute(
            "INSERT INTO events (id, pubkey, created_at, kind, d_tag, json) VALUES (?,?,?,?,?,?)",
            (event_id, pubkey, event.created_at, event.kind, d_tag, event.to_json().decode()),
        )
        seq = cursor.lastrowid
        tag_rows = [
            (seq, t[0], t[1], event.created_at)
            for t in event.tags
            if len(t) >= 2 and len(t[0]) == 1
        ]
        if tag_rows:
            conn.executemany(
                "INSERT INTO tags (seq, name, value, created_at) VALUES (?,?,?,?)", tag_rows
            )
        if event.kind == kinds.DELETION:
            self._delete(event, pubkey)

    def _replace(self, event: Event, event_id: bytes, pubkey: bytes, d_tag: str) -> None:
        conn = self.conn
        row = conn.execute(
            "SELECT until FROM deleted_addresses WHERE pubkey = ? AND kind = ? AND d_tag = ?",
            (pubkey, event.kind, d_tag),
        ).fetchone()
        if row and event.created_at <= row[0]:
            raise Rejected(Reason.BLOCKED, "this address was deleted by its author")
        existing = conn.execute(
            "SELECT seq, created_at, id FROM events WHERE pubkey = ? AND kind = ? AND d_tag = ?",
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
        self.conn.execute("DELETE FROM tags WHERE seq = ?", (seq,))
        self.conn.execute("DELETE FROM events WHERE seq = ?", (seq,))

    def _delete(self, deletion: Event, pubkey: bytes) -> None:
        """NIP-09: remove the author's own referenced events and remember the tombstones."""
        conn = self.conn
        for target in deletion.tag_values("e"):
            if not is_hex(target, 64):
                continue
            target_id = bytes.fromhex(target)
            row = conn.execute(
                "SELECT seq FROM events WHERE id = ? AND pubkey = ? AND kind != ?",
                (target_id, pubkey, kinds.DELETION),
            ).fetchone()
            if row:
                self._remove(row[0])
            conn.execute(
                "INSERT OR IGNORE INTO deleted_ids (id, pubkey) VALUES (?, ?)", (target_id, pubkey)
            )
        for address in deletion.tag_values("a"):
            parts = address.split(":", 2)
            if len(parts) != 3 or parts[1] != deletion.pubkey or not parts[0].isdigit():
                continue
            kind, d_tag = int(parts[0]), parts[2]
            rows = conn.execute(
                "SELECT seq FROM events WHERE pubkey = ? AND kind = ? AND d_tag = ? "
                "AND created_at <= ?",
                (pubkey, kind, d_tag, deletion.created_at),
            ).fetchall()
            for (seq,) in rows:
                self._remove(seq)
            conn.execute(
                "INSERT INTO deleted_addresses (pubkey, kind, d_tag, until) VALUES (?,?,?,?) "
                "ON CONFLICT DO UPDATE SET until = max(until, excluded.until)",
                (pubkey, kind, d_tag, deletion.created_at),
            )


class SqliteStore:
    """The default `EventStore`: one SQLite file in WAL mode."""

    def __init__(
        self,
        path: Path,
        *,
        default_limit: int = 500,
        max_limit: int = 5000,
        readers: int = 2,
    ) -> None:
        self.path = path
        self.default_limit = default_limit
        self.max_limit = max_limit
        conn = connect(path)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._writer = _Writer(conn)
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._thread.start()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="store-reader")
        self._closed = False

    # -- writing ---------------------------------------------------------------------------

    def submit(self, event: Event, done: Callback) -> None:
        """Queue `event` for the next group commit; `done(None | error)` runs on this event loop
        once the commit is durable (or failed). The cheap path for high-rate ingest."""
        if self._closed:
            raise StoreError("store is closed")
        self._queue.put((event, done, asyncio.get_running_loop()))

    async def add(self, event: Event) -> None:
        """Queue `event` for the next group commit and wait until it is durable."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def settle(outcome: Outcome) -> None:
            if future.done():
                return
            if outcome is None:
                future.set_result(None)
            else:
                future.set_exception(outcome)

        self.submit(event, settle)
        await future

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._commit(batch)
        self._writer.conn.close()

    def _commit(self, batch: list[_Item]) -> None:
        conn = self._writer.conn
        outcomes: list[BaseException | None] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for event, _, _ in batch:
                try:
                    self._writer.apply(event)
                    outcomes.append(None)
                except Rejected as rejected:
                    outcomes.append(rejected)
            conn.execute("COMMIT")
        except sqlite3.Error:
            log.exception("store write failed; batch of %d rolled back", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [StoreError("could not write event") for _ in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Callback, Outcome]]] = {}
        for (_, done, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((done, outcome))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop is gone; nobody waits any more
                loop.call_soon_threadsafe(_settle, settled)

    # -- reading ---------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _limit(self, flt: Filter) -> int:
        return min(self.max_limit, flt.limit if flt.limit is not None else self.default_limit)

    def _query_sync(self, filters: Sequence[Filter]) -> list[bytes]:
        conn = self._reader()
        rows: dict[bytes, tuple[int, bytes, bytes]] = {}
        for flt in filters:
            if flt.is_empty:
                continue
            sql, params = select_events(flt, self._limit(flt))
            folded = conn.execute(sql, params).fetchone()[0]
            if not folded:
                continue
            for line in folded.encode().split(b"\n"):
                created_at, event_id, json_text = line.split(b" ", 2)
                rows[event_id] = (int(created_at), event_id, json_text)
        ordered = sorted(rows.values(), key=lambda r: (-r[0], r[1]))
        return [r[2] for r in ordered]

    def _count_sync(self, filters: Sequence[Filter]) -> int:
        conn = self._reader()
        if len(filters) == 1 and not filters[0].is_empty:
            sql, params = count_events(filters[0])
            return int(conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])
        ids: set[bytes] = set()
        for flt in filters:
            if not flt.is_empty:
                sql, params = count_events(flt)
                ids.update(row[0] for row in conn.execute(sql, params))
        return len(ids)

    async def _run(self, fn: object, filters: Sequence[Filter]) -> object:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, filters)  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            log.exception("store read failed")
            raise StoreError("could not read events") from exc

    async def query(self, filters: Sequence[Filter]) -> list[bytes]:
        """Matching events' JSON, newest first (ties by lowest id), per-filter limits applied."""
        result = await self._run(self._query_sync, filters)
        assert isinstance(result, list)
        return result

    async def count(self, filters: Sequence[Filter]) -> int:
        """Distinct matching events (NIP-45)."""
        result = await self._run(self._count_sync, filters)
        assert isinstance(result, int)
        return result

    async def close(self) -> None:
        """Drain queued writes, stop the writer and close every connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._pool.shutdown(wait=True)
        with self._readers_lock:
            for conn in self._readers:
                conn.close()


def _settle(settled: list[tuple[Callback, Outcome]]) -> None:
    for done, outcome in settled:
        try:
            done(outcome)
        except Exception:
            log.exception("store callback failed")
