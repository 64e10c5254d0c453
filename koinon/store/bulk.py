"""Many rows per INSERT statement, so the writer thread gives up the GIL rarely.

`executemany` steps SQLite once per row, and Python's sqlite3 releases the GIL around every step
and takes it back after. With the event loop busy on another core, each of those hand-overs
makes one of the two threads wait for the other to be woken: per row, that is most of the cost.
One statement with many `VALUES` tuples is one step for all of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache

ROWS_PER_STATEMENT = 64  # a power of two: the remainder goes in pieces of 32, 16, ... rows


@lru_cache(maxsize=256)
def _statement(head: str, columns: int, rows: int, tail: str) -> str:
    one = "(" + ",".join("?" * columns) + ")"
    return f"{head} VALUES {','.join([one] * rows)} {tail}".rstrip()


def insert_rows(
    conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[object]], tail: str = ""
) -> None:
    """Run `head VALUES (...), (...) tail` over `rows` (all of one width), a few statements in
    all: full ones of ROWS_PER_STATEMENT rows, then the rest by halves (so few distinct SQL
    texts, each prepared once and cached)."""
    if not rows:
        return
    columns = len(rows[0])
    start, size = 0, ROWS_PER_STATEMENT
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        chunk = rows[start : start + size]
        conn.execute(_statement(head, columns, size, tail), [v for row in chunk for v in row])
        start += size
