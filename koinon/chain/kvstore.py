"""A py-evm key-value database in one SQLite file, written in transactions the owner commits.

py-evm keeps everything (headers, blocks, receipts, state trie nodes, contract code) as
content-addressed key/value pairs behind `eth.abc.DatabaseAPI`. This class is that API over a
SQLite table. Writes accumulate in an open SQLite transaction until `commit()`: the embedded
chain commits once per mined block, so after a crash the file holds the last whole block.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from eth.db.backends.base import BaseDB

MEMORY = ":memory:"
_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"


class SqliteKeyValue(BaseDB):
    """`eth.abc.DatabaseAPI` over SQLite; uncommitted writes are visible to reads right away."""

    def __init__(self, path: Path | str = MEMORY) -> None:
        # One caller at a time (the client holds a lock), but not always from the same thread.
        # timeout=0: a file held by another process fails at once instead of waiting.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
        self._conn = conn
        self._lock = threading.RLock()
        try:
            if path != MEMORY:
                # Exclusive: one chain owns the file; a second opener would fork its history.
                conn.execute("PRAGMA locking_mode = EXCLUSIVE")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute(_SCHEMA)
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.close()
            raise

    def __getitem__(self, key: bytes) -> bytes:
        with self._lock:
            row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._begin()
            self._conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        with self._lock:
            self._begin()
            deleted = self._conn.execute("DELETE FROM kv WHERE key = ?", (key,)).rowcount
        if not deleted:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone()
        return row is not None

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")

    def commit(self) -> None:
        """Make every write since the last commit durable, all or nothing."""
        with self._lock:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def rollback(self) -> None:
        """Forget every write since the last commit."""
        with self._lock:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def close(self) -> None:
        """Drop uncommitted writes and close the file."""
        with self._lock:
            self.rollback()
            self._conn.close()
