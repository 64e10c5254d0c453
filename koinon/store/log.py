"""The Merkle log in the event database: appends in the writer transaction, proofs on reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from koinon.errors import KoinonError
from koinon.ledger import plan
from koinon.ledger.entry import LogEntry
from koinon.ledger.merkle import EMPTY_ROOT, leaf_hash, node_hash
from koinon.store.bulk import insert_rows


class LogError(KoinonError):
    """The stored log is inconsistent, or a proof was asked for beyond its size."""


def log_size(conn: sqlite3.Connection) -> int:
    """Number of leaves."""
    row = conn.execute("SELECT max(idx) FROM log_entries").fetchone()
    return 0 if row[0] is None else int(row[0]) + 1


def fetch_nodes(conn: sqlite3.Connection, ids: Iterable[plan.NodeId]) -> dict[plan.NodeId, bytes]:
    """Stored subtree hashes by (level, index), in one query."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found: dict[plan.NodeId, bytes] = {}
    # Point look-ups on the primary key, one statement for all of them: a row-value IN over a
    # VALUES list makes SQLite 3.40 scan the whole table.
    point = "SELECT level, idx, hash FROM log_nodes WHERE level = ? AND idx = ?"
    for chunk_start in range(0, len(wanted), 200):
        chunk = wanted[chunk_start : chunk_start + 200]
        sql = " UNION ALL ".join([point] * len(chunk))
        params = [v for node in chunk for v in node]
        for level, idx, digest in conn.execute(sql, params):
            found[(level, idx)] = digest
    missing = set(wanted) - found.keys()
    if missing:
        raise LogError(f"log is missing {len(missing)} subtree hashes, e.g. {min(missing)}")
    return found


def _check_size(conn: sqlite3.Connection, size: int) -> None:
    if not 0 <= size <= log_size(conn):
        raise LogError(f"the log has no tree of size {size}")


def root(conn: sqlite3.Connection, size: int) -> bytes:
    """The root of the first `size` leaves."""
    _check_size(conn, size)
    plan_ = plan.root_plan(size)
    return plan.fold(plan_, fetch_nodes(conn, plan_)) if size else EMPTY_ROOT


def inclusion_proof(conn: sqlite3.Connection, index: int, size: int) -> list[bytes]:
    """Audit path of leaf `index` in the tree of `size`."""
    _check_size(conn, size)
    if not 0 <= index < size:
        raise LogError(f"leaf {index} is not in a tree of size {size}")
    plans = plan.inclusion_plan(index, size)
    nodes = fetch_nodes(conn, plan.needed(plans))
    return [plan.fold(p, nodes) for p in plans]


def consistency_proof(conn: sqlite3.Connection, first: int, second: int) -> list[bytes]:
    """Proof that the tree of `second` leaves extends the tree of `first`."""
    _check_size(conn, second)
    if not 0 <= first <= second:
        raise LogError(f"cannot prove {first} against {second}")
    plans = plan.consistency_plan(first, second)
    nodes = fetch_nodes(conn, plan.needed(plans))
    return [plan.fold(p, nodes) for p in plans]


def entry_index(conn: sqlite3.Connection, event_id: bytes) -> tuple[int, bytes] | None:
    """(leaf index, leaf bytes) of a logged event."""
    row = conn.execute(
        "SELECT l.idx, l.leaf FROM event_ids i JOIN log_entries l ON l.idx = i.log_idx "
        "WHERE i.id = ?",
        (event_id,),
    ).fetchone()
    return (int(row[0]), bytes(row[1])) if row else None


def recomputed_root(conn: sqlite3.Connection, size: int) -> bytes:
    """The root rebuilt from the leaf bytes alone (ignores stored subtree hashes)."""
    stack: list[tuple[int, bytes]] = []  # (level, hash) of complete subtrees, left to right
    count = 0
    for (leaf,) in conn.execute("SELECT leaf FROM log_entries WHERE idx < ? ORDER BY idx", (size,)):
        level, digest = 0, leaf_hash(bytes(leaf))
        while stack and stack[-1][0] == level:
            digest = node_hash(stack.pop()[1], digest)
            level += 1
        stack.append((level, digest))
        count += 1
    if count != size:
        raise LogError(f"the log has {count} leaves where {size} were expected")
    if not stack:
        return EMPTY_ROOT
    result = stack[-1][1]
    for _, digest in reversed(stack[:-1]):
        result = node_hash(digest, result)
    return result


def check_nodes(conn: sqlite3.Connection) -> None:
    """Every stored subtree hash must follow from the level below it, and level 0 from the
    leaves; streamed level by level, so memory stays constant however long the log is."""
    leaves = conn.execute("SELECT idx, leaf FROM log_entries ORDER BY idx")
    nodes = conn.execute("SELECT idx, hash FROM log_nodes WHERE level = 0 ORDER BY idx")
    for (leaf_idx, leaf), (node_idx, digest) in zip(leaves, nodes, strict=False):
        if leaf_idx != node_idx or leaf_hash(bytes(leaf)) != bytes(digest):
            raise LogError(f"leaf {leaf_idx} does not match its stored hash")
    level = 1
    while True:
        below = conn.execute(
            "SELECT idx, hash FROM log_nodes WHERE level = ? ORDER BY idx", (level - 1,)
        )
        above = conn.execute(
            "SELECT idx, hash FROM log_nodes WHERE level = ? ORDER BY idx", (level,)
        )
        seen = False
        for idx, digest in above:
            seen = True
            left, right = below.fetchone(), below.fetchone()
            if left is None or right is None or (left[0], right[0]) != (2 * idx, 2 * idx + 1):
                raise LogError(f"subtree ({level}, {idx}) lacks its children")
            if node_hash(bytes(left[1]), bytes(right[1])) != bytes(digest):
                raise LogError(f"subtree ({level}, {idx}) does not match its children")
        if not seen:
            return
        level += 1


class LogAppender:
    """Appends leaves inside the caller's transaction, keeping the right edge in memory."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.reload()

    def reload(self) -> None:
        """Read the size and right edge from the database (at start and after a rollback)."""
        self._entries: list[tuple[int, bytes, bytes, int]] = []
        self._nodes: list[tuple[int, int, bytes]] = []
        self.size = log_size(self.conn)
        self.edge: dict[int, bytes] = {}
        level = 0
        while self.size >> level:
            idx = (self.size >> level) - 1
            row = self.conn.execute(
                "SELECT hash FROM log_nodes WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            if row is None:
                raise LogError(f"log is missing subtree ({level}, {idx})")
            self.edge[level] = bytes(row[0])
            level += 1

    def append(self, entry: LogEntry, logged_at: int) -> int:
        """Add a leaf (written by the next `flush`, inside the same transaction); return its
        index."""
        return self.append_leaf(bytes.fromhex(entry.event_id), entry.encode(), logged_at)

    def append_leaf(self, event_id: bytes, leaf: bytes, logged_at: int) -> int:
        """`append` for an entry already encoded (`leaf`, logging the event `event_id`)."""
        index = self.size
        self._entries.append((index, event_id, leaf, logged_at))
        level, idx, digest = 0, index, leaf_hash(leaf)
        while True:
            self._nodes.append((level, idx, digest))
            left = self.edge.get(level)
            self.edge[level] = digest
            if not idx & 1:
                break
            assert left is not None
            digest = node_hash(left, digest)
            level += 1
            idx >>= 1
        self.size = index + 1
        return index

    def flush(self) -> None:
        """Write the appended leaves and subtree hashes."""
        if self._entries:
            insert_rows(
                self.conn, "INSERT INTO log_entries (idx, event_id, leaf, logged_at)", self._entries
            )
            self._entries.clear()
        if self._nodes:
            insert_rows(self.conn, "INSERT INTO log_nodes (level, idx, hash)", self._nodes)
            self._nodes.clear()
