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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import orjson

from koinon.core.event import Event, parse_event
from koinon.core.filters import Filter
from koinon.errors import Rejected
from koinon.ledger.heads import AnchorRecord, TreeHead, parse_tree_head
from koinon.store import log as ledger_log
from koinon.store.base import StoreError
from koinon.store.log import LogError
from koinon.store.migrate import migrate
from koinon.store.query import count_events, select_events
from koinon.store.writer import Writer

log = logging.getLogger(__name__)

UNLIMITED = 2**62  # a LIMIT no query reaches
T = TypeVar("T")

MAX_BATCH = 2000
SETTLE_SLICE = 64  # outcomes reported to the event loop per callback
# A client query may take this many SQLite VM instructions on the event loop's thread (a REQ
# for 50 events by tag is ~2,000 at a million events, the default limit of 500 ~10,000, about
# 3 ms), and at most INLINE_WALL seconds (pages read from disk); beyond, it goes to a thread.
INLINE_STEPS = 10_000
INLINE_WALL = 0.010
PROGRESS_STEPS = 200  # instructions between checks of that budget
WRITER_CACHE_KIB = 262_144  # the writer connection's page cache (readers keep 64 MiB each)
Outcome = BaseException | None
Callback = Callable[[Outcome], None]
Job = Callable[[sqlite3.Connection], None]
_Item = tuple[Event | Job, Callback, asyncio.AbstractEventLoop]
_Items = list[_Item]  # what goes through the writer's queue: items submitted together


def connect(path: Path) -> sqlite3.Connection:
    """A connection with Koinon's pragmas: WAL, full sync, autocommit (explicit transactions)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


class SqliteStore:
    """The default `EventStore`: one SQLite file in WAL mode."""

    def __init__(
        self,
        path: Path,
        *,
        default_limit: int = 500,
        max_limit: int = 5000,
        readers: int = 2,
        clock: Callable[[], float] = time.time,
        node_pubkey: str | None = None,
        inline_steps: int = INLINE_STEPS,
    ) -> None:
        """`node_pubkey`: the node's own tree heads and anchor records (kinds 3961 and 3962
        signed by it) are statements about the log, so they are stored but not logged.
        `inline_steps`: SQLite VM instructions a client query or count may take on the event
        loop's own thread before it is handed to a reader thread instead (0: always a reader
        thread). A budget in instructions, not time, so that a busy machine does not push
        cheap queries onto threads."""
        self.path = path
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.inline_steps = inline_steps
        conn = connect(path)
        # The writer touches every index on every batch, the id index at random places: a bigger
        # cache than the readers' keeps more of it in memory (~10% faster at a million events).
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        try:
            self._writer = Writer(conn, clock, node_pubkey)
        except BaseException:
            conn.close()
            raise
        self._queue: queue.SimpleQueue[_Items | None] = queue.SimpleQueue()
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
        self._queue.put([(event, done, asyncio.get_running_loop())])

    def submit_many(self, items: Sequence[tuple[Event, Callback]]) -> None:
        """`submit` for several events at once: they reach the writer together, in order."""
        if self._closed:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        self._queue.put([(event, done, loop) for event, done in items])

    async def add(self, event: Event) -> None:
        """Queue `event` for the next group commit and wait until it is durable."""
        await self._write(event)

    async def _write(self, item: Event | Job) -> None:
        if self._closed:
            raise StoreError("store is closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def settle(outcome: Outcome) -> None:
            if future.done():
                return
            if outcome is None:
                future.set_result(None)
            else:
                future.set_exception(outcome)

        self._queue.put([(item, settle, asyncio.get_running_loop())])
        await future

    def _write_loop(self) -> None:
        while True:
            items = self._queue.get()
            if items is None:
                break
            batch = list(items)
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch += more
            self._commit(batch)
        self._writer.conn.close()

    def _commit(self, batch: list[_Item]) -> None:
        conn = self._writer.conn
        outcomes: list[BaseException | None] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            writer = self._writer
            ids = iter(writer.begin([item for item, _, _ in batch if isinstance(item, Event)]))
            for item, _, _ in batch:
                try:
                    if isinstance(item, Event):
                        writer.apply(item, next(ids))
                    else:
                        writer.flush()
                        item(conn)
                    outcomes.append(None)
                except (Rejected, LogError) as refused:
                    outcomes.append(refused)
            writer.flush()
            conn.execute("COMMIT")
        except Exception:  # the writer thread must survive anything one batch can do
            log.exception("store write failed; batch of %d rolled back", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._writer.reload()
            outcomes = [StoreError("could not write event") for _ in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Callback, Outcome]]] = {}
        for (_, done, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((done, outcome))
        for loop, settled in by_loop.items():
            # In slices, so that the loop serves other work (a REQ) between them.
            for start in range(0, len(settled), SETTLE_SLICE):
                with contextlib.suppress(RuntimeError):  # the loop is gone; nobody waits
                    loop.call_soon_threadsafe(_settle, settled[start : start + SETTLE_SLICE])

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

    def _query_sync(
        self,
        conn: sqlite3.Connection,
        filters: Sequence[Filter],
        readers: frozenset[str] | None,
        unlimited: bool = False,
    ) -> list[bytes]:
        rows: dict[bytes, tuple[int, bytes, bytes]] = {}
        for flt in filters:
            if flt.is_empty:
                continue
            limit = UNLIMITED if unlimited else self._limit(flt)
            sql, params = select_events(flt, limit, readers)
            folded = conn.execute(sql, params).fetchone()[0]
            if not folded:
                continue
            for line in folded.encode().split(b"\n"):
                created_at, event_id, json_text = line.split(b" ", 2)
                rows[event_id] = (int(created_at), event_id, json_text)
        ordered = sorted(rows.values(), key=lambda r: (-r[0], r[1]))
        return [r[2] for r in ordered]

    def _count_sync(
        self, conn: sqlite3.Connection, filters: Sequence[Filter], readers: frozenset[str] | None
    ) -> int:
        if len(filters) == 1 and not filters[0].is_empty:
            sql, params = count_events(filters[0], readers)
            return int(conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])
        ids: set[bytes] = set()
        for flt in filters:
            if not flt.is_empty:
                sql, params = count_events(flt, readers)
                ids.update(row[0] for row in conn.execute(sql, params))
        return len(ids)

    async def _read(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(connection, *args)` on a reader thread."""
        loop = asyncio.get_running_loop()

        def call() -> T:
            return fn(self._reader(), *args)

        try:
            return await loop.run_in_executor(self._pool, call)
        except sqlite3.Error as exc:
            log.exception("store read failed")
            raise StoreError("could not read from the store") from exc

    def _read_here(self, fn: Callable[..., T], *args: object) -> T | None:
        """`fn(connection, *args)` run on this thread if SQLite finishes it within the inline
        budget; None if it did not (interrupted, nothing changed), to be run on a reader thread.
        Most client queries take a fraction of a millisecond: less than handing them to another
        thread and back costs when every core is busy."""
        if self.inline_steps <= 0 or self._closed:
            return None
        conn = self._reader()
        left = [max(1, self.inline_steps // PROGRESS_STEPS)]
        deadline = time.perf_counter() + INLINE_WALL

        def over_budget() -> bool:
            left[0] -= 1
            return left[0] < 0 or time.perf_counter() > deadline

        conn.set_progress_handler(over_budget, PROGRESS_STEPS)
        try:
            return fn(conn, *args)
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
                return None
            log.exception("store read failed")
            raise StoreError("could not read from the store") from exc
        finally:
            conn.set_progress_handler(None, 0)

    def query_now(
        self, filters: Sequence[Filter], readers: frozenset[str] | None = None
    ) -> list[bytes] | None:
        """`query` answered on the spot when it is cheap; None when it needs a reader thread."""
        return self._read_here(self._query_sync, filters, readers)

    def count_now(
        self, filters: Sequence[Filter], readers: frozenset[str] | None = None
    ) -> int | None:
        """`count` answered on the spot when it is cheap; None when it needs a reader thread."""
        return self._read_here(self._count_sync, filters, readers)

    async def query(
        self, filters: Sequence[Filter], readers: frozenset[str] | None = None
    ) -> list[bytes]:
        """Matching events' JSON, newest first (ties by lowest id), per-filter limits applied.
        With `readers`, gift wraps are included only when addressed to one of them."""
        found = self.query_now(filters, readers)
        return found if found is not None else await self._read(self._query_sync, filters, readers)

    async def query_all(self, filters: Sequence[Filter]) -> list[bytes]:
        """Every matching event's JSON, newest first, ignoring filter limits (for the node's own
        services, such as epoch settlement; clients always get `query`)."""
        return await self._read(self._query_sync, filters, None, True)

    async def count(self, filters: Sequence[Filter], readers: frozenset[str] | None = None) -> int:
        """Distinct matching events (NIP-45), with the same gift-wrap rule as `query`."""
        found = self.count_now(filters, readers)
        return found if found is not None else await self._read(self._count_sync, filters, readers)

    # -- the transparency log --------------------------------------------------------------

    async def log_size(self) -> int:
        """Number of logged events."""
        return await self._read(ledger_log.log_size)

    async def log_root(self, size: int) -> bytes:
        """Root of the first `size` leaves."""
        return await self._read(ledger_log.root, size)

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Audit path of leaf `index` in the tree of `size`."""
        return await self._read(ledger_log.inclusion_proof, index, size)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Proof that the tree of `second` extends the tree of `first`."""
        return await self._read(ledger_log.consistency_proof, first, second)

    async def log_position(self, event_id: str) -> tuple[int, bytes] | None:
        """(leaf index, leaf bytes) of a logged event, also after its content was erased."""
        return await self._read(ledger_log.entry_index, bytes.fromhex(event_id))

    async def save_tree_head(self, head: TreeHead) -> None:
        """Remember a head the node signed."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO tree_heads (size, root, timestamp, event) VALUES (?,?,?,?)",
                (head.size, head.root, head.timestamp, head.event.to_json().decode()),
            )

        await self._write(job)

    async def latest_tree_head(self) -> Event | None:
        """The newest signed head, as its kind-3961 event."""
        return await self._read(_latest_head)

    async def tree_head(self, size: int) -> Event | None:
        """The signed head of exactly `size` leaves, if the node signed one."""
        return await self._read(_head_of_size, size)

    async def save_anchor(self, record: AnchorRecord, event: Event) -> None:
        """Index an anchor the node recorded on chain (idempotent per tree size)."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO anchors (size, root, chain_id, contract, operator, "
                "anchor_index, tx_hash, block_number, block_time, event) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    record.size,
                    record.root,
                    record.chain_id,
                    record.contract,
                    record.operator,
                    record.index,
                    record.tx_hash,
                    record.block_number,
                    record.block_time,
                    event.to_json().decode(),
                ),
            )

        await self._write(job)

    async def anchors(self) -> list[Event]:
        """Every anchor record (kind-3962 events), oldest first."""
        return await self._read(_anchor_events, 0)

    async def anchor_covering(self, index: int) -> Event | None:
        """The earliest anchor whose tree contains leaf `index`."""
        found = await self._read(_anchor_events, index + 1, 1)
        return found[0] if found else None

    def check_log(self) -> None:
        """Refuse to run on a log that no longer matches the newest head the node signed."""
        conn = self._writer.conn
        head = _latest_head(conn)
        if head is None:
            return
        signed = parse_tree_head(head)
        size = ledger_log.log_size(conn)
        if size < signed.size:
            raise ledger_log.LogError(
                f"the log holds {size} entries but the node signed a head of {signed.size}"
            )
        if ledger_log.recomputed_root(conn, signed.size) != signed.root:
            raise ledger_log.LogError(
                f"the stored log does not match the signed head of size {signed.size}: "
                "entries were altered or removed"
            )
        ledger_log.check_nodes(conn)

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


def _latest_head(conn: sqlite3.Connection) -> Event | None:
    row = conn.execute("SELECT event FROM tree_heads ORDER BY size DESC LIMIT 1").fetchone()
    return decode_stored(row[0]) if row else None


def _head_of_size(conn: sqlite3.Connection, size: int) -> Event | None:
    row = conn.execute("SELECT event FROM tree_heads WHERE size = ?", (size,)).fetchone()
    return decode_stored(row[0]) if row else None


def _anchor_events(conn: sqlite3.Connection, min_size: int, limit: int = -1) -> list[Event]:
    rows = conn.execute(
        "SELECT event FROM anchors WHERE size >= ? ORDER BY size LIMIT ?", (min_size, limit)
    ).fetchall()
    return [decode_stored(row[0]) for row in rows]


def decode_stored(text: str | bytes) -> Event:
    """An event the node stored itself (already verified when it was written).

    The node wrote this text from an event it had checked, so only the fields' types are checked
    again, not the hex and ranges `parse_event` checks (a settlement reads a million events);
    a missing field or a field of the wrong type still fails as `invalid`.
    """
    raw = orjson.loads(text)
    try:
        tags = raw["tags"]
        event = Event(
            raw["id"],
            raw["pubkey"],
            raw["created_at"],
            raw["kind"],
            tuple(map(tuple, tags)),
            raw["content"],
            raw["sig"],
        )
    except (KeyError, TypeError):
        return parse_event(raw)
    if (
        type(event.id) is not str
        or type(event.pubkey) is not str
        or type(event.content) is not str
        or type(event.sig) is not str
        or type(event.created_at) is not int
        or type(event.kind) is not int
        or not all(type(tag) is list for tag in tags)
        or not all(type(item) is str for tag in event.tags for item in tag)
    ):
        return parse_event(raw)
    return event
