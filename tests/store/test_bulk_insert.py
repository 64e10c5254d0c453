"""`insert_rows` writes every row once, in order, whatever the count."""

from __future__ import annotations

import sqlite3

import pytest

from koinon.store.bulk import ROWS_PER_STATEMENT, insert_rows


@pytest.mark.parametrize("count", [0, 1, 2, 7, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, 200])
def test_every_row_is_inserted_once_in_order(count: int) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, text TEXT, blob BLOB)")
    rows = [(n, f"row {n}", bytes([n % 256]) * 3) for n in range(count)]
    insert_rows(conn, "INSERT INTO t (n, text, blob)", rows)
    assert conn.execute("SELECT n, text, blob FROM t ORDER BY rowid").fetchall() == rows


def test_a_conflict_clause_applies_to_every_row() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    insert_rows(conn, "INSERT INTO t (k, v)", [("a", 1), ("b", 2)])
    insert_rows(
        conn,
        "INSERT INTO t (k, v)",
        [("b", 20), ("c", 30)],
        "ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    )
    assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [
        ("a", 1),
        ("b", 20),
        ("c", 30),
    ]
