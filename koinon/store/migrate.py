"""Numbered, forward-only schema migrations, tracked in SQLite's `user_version`."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources

from koinon.errors import KoinonError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaError(KoinonError):
    """The database was written by a newer Koinon, or a migration is malformed."""


def migrations() -> list[tuple[int, str, str]]:
    """Every packaged migration as (number, file name, SQL), in order."""
    found = []
    for entry in resources.files("koinon.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    found.sort()
    if [n for n, _, _ in found] != list(range(1, len(found) + 1)):
        raise SchemaError("migrations must be numbered 0001, 0002, … without gaps")
    return found


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations the database has not seen; return the schema version."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    available = migrations()
    if current > len(available):
        raise SchemaError(f"database schema {current} is newer than this Koinon ({len(available)})")
    for number, _name, sql in available[current:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(available)
