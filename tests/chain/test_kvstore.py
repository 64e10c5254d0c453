"""SqliteKeyValue: py-evm's key/value API, durable only once committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from koinon.chain.kvstore import SqliteKeyValue


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kv.sqlite3"


def test_mapping_api(path: Path) -> None:
    db = SqliteKeyValue(path)
    try:
        db[b"k"] = b"v1"
        db[b"k"] = b"v2"
        assert db[b"k"] == b"v2"
        assert db.exists(b"k")
        assert b"missing" not in db
        with pytest.raises(KeyError):
            db[b"missing"]
        del db[b"k"]
        with pytest.raises(KeyError):
            del db[b"k"]
        db.delete(b"k")  # py-evm's forgiving delete
        assert not db.exists(b"k")
    finally:
        db.close()


def test_only_committed_writes_survive(path: Path) -> None:
    db = SqliteKeyValue(path)
    db[b"kept"] = b"1"
    db.commit()
    db[b"lost"] = b"2"
    assert db[b"lost"] == b"2"  # visible before the commit
    db.close()

    reopened = SqliteKeyValue(path)
    try:
        assert reopened[b"kept"] == b"1"
        assert not reopened.exists(b"lost")
    finally:
        reopened.close()


def test_rollback_forgets_pending_writes(path: Path) -> None:
    db = SqliteKeyValue(path)
    try:
        db[b"a"] = b"1"
        db.rollback()
        assert not db.exists(b"a")
    finally:
        db.close()
