"""Translate NIP-01 filters into SQL (pure: text and parameters in, no connection)."""

from __future__ import annotations

from dataclasses import replace

from koinon.core.filters import Filter
from koinon.core.kinds import GIFT_WRAP

Sql = tuple[str, list[object]]


def _in(column: str, values: list[object]) -> str:
    return f"{column} IN ({','.join('?' * len(values))})"


def where_clause(flt: Filter, readers: frozenset[str] | None = None) -> Sql:
    """The WHERE conditions and parameters that select the events `flt` matches.

    With `readers`, gift wraps (kind 1059) are only matched when one of them is the wrap's
    recipient (`p` tag): a wrap is served to nobody else (NIP-17/NIP-59).
    """
    conds: list[str] = []
    params: list[object] = []
    if readers is not None:
        names: list[object] = [*sorted(readers)]
        visible = f"e.seq IN (SELECT seq FROM tags WHERE name = 'p' AND {_in('value', names)})"
        conds.append(f"(e.kind != {GIFT_WRAP} OR {visible})" if names else f"e.kind != {GIFT_WRAP}")
        params += names
    if flt.ids is not None:
        ids: list[object] = [bytes.fromhex(i) for i in sorted(flt.ids)]
        conds.append(f"e.seq IN (SELECT seq FROM event_ids WHERE {_in('id', ids)})")
        params += ids
    if flt.authors is not None:
        authors: list[object] = [bytes.fromhex(a) for a in sorted(flt.authors)]
        conds.append(_in("e.pubkey", authors))
        params += authors
    if flt.kinds is not None:
        kinds: list[object] = [*sorted(flt.kinds)]
        conds.append(_in("e.kind", kinds))
        params += kinds
    if flt.since is not None:
        conds.append("e.created_at >= ?")
        params.append(flt.since)
    if flt.until is not None:
        conds.append("e.created_at <= ?")
        params.append(flt.until)
    for name, values in flt.tags:
        tag_values: list[object] = [*sorted(values)]
        conds.append(
            f"e.seq IN (SELECT seq FROM tags WHERE name = ? AND {_in('value', tag_values)})"
        )
        params += [name, *tag_values]
    return (" AND ".join(conds) or "1"), params


def select_events(flt: Filter, limit: int, readers: frozenset[str] | None = None) -> Sql:
    """SQL returning one text of lines `created_at HEXID json`, at most `limit` of them.

    The rows are chosen newest first, ties by lowest id, and folded into a single value so that the
    reading thread takes the GIL back once per query instead of once per row (compact JSON holds no
    raw newline, so a newline separates the lines safely).
    """
    line = "e.created_at || ' ' || hex(e.id) || ' ' || e.json AS line"
    if flt.ids is not None:
        source, where, params = _by_ids(flt, readers)
        sql = (
            f"SELECT group_concat(line, char(10)) FROM (SELECT {line} FROM {source} "
            f"WHERE {where} ORDER BY e.created_at DESC, e.id ASC LIMIT ?)"
        )
        return sql, [*params, limit]
    if flt.tags:
        # Drive the query from the tag index, already ordered by time, so that LIMIT stops
        # early instead of sorting every event that carries a popular tag.
        name, values = flt.tags[0]
        where, params = where_clause(replace(flt, tags=flt.tags[1:]), readers)
        tag_values: list[object] = [*sorted(values)]
        sql = (
            f"SELECT group_concat(line, char(10)) FROM (SELECT {line} "
            "FROM tags t CROSS JOIN events e ON e.seq = t.seq "
            f"WHERE t.name = ? AND {_in('t.value', tag_values)} AND {where} "
            "ORDER BY t.created_at DESC, e.id ASC LIMIT ?)"
        )
        return sql, [name, *tag_values, *params, limit]
    where, params = where_clause(flt, readers)
    sql = (
        f"SELECT group_concat(line, char(10)) FROM (SELECT {line} "
        f"FROM events e WHERE {where} ORDER BY e.created_at DESC, e.id ASC LIMIT ?)"
    )
    return sql, [*params, limit]


def count_events(flt: Filter, readers: frozenset[str] | None = None) -> Sql:
    """SQL returning the ids of all events `flt` matches (counted after de-duplication)."""
    if flt.ids is not None:
        source, where, params = _by_ids(flt, readers)
        return f"SELECT e.id FROM {source} WHERE {where}", params
    where, params = where_clause(flt, readers)
    return f"SELECT e.id FROM events e WHERE {where}", params


def _by_ids(flt: Filter, readers: frozenset[str] | None) -> tuple[str, str, list[object]]:
    """FROM and WHERE for a filter with ids, driven from the id index: however many events an
    author or kind has, only the few named ones are looked at."""
    assert flt.ids is not None
    ids: list[object] = [bytes.fromhex(i) for i in sorted(flt.ids)]
    where, params = where_clause(replace(flt, ids=None), readers)
    source = "event_ids i CROSS JOIN events e ON e.seq = i.seq"
    return source, f"{_in('i.id', ids)} AND {where}", [*ids, *params]
