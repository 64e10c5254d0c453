"""Translate NIP-01 filters into SQL (pure: text and parameters in, no connection)."""

from __future__ import annotations

from koinon.core.filters import Filter

Sql = tuple[str, list[object]]


def _in(column: str, values: list[object]) -> str:
    return f"{column} IN ({','.join('?' * len(values))})"


def where_clause(flt: Filter) -> Sql:
    """The WHERE conditions and parameters that select the events `flt` matches."""
    conds: list[str] = []
    params: list[object] = []
    if flt.ids is not None:
        ids: list[object] = [bytes.fromhex(i) for i in sorted(flt.ids)]
        conds.append(_in("e.id", ids))
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


def select_events(flt: Filter, limit: int) -> Sql:
    """SQL returning (json, created_at, id) newest first, ties by lowest id, at most `limit`."""
    where, params = where_clause(flt)
    sql = (
        f"SELECT e.json, e.created_at, e.id FROM events e WHERE {where} "
        "ORDER BY e.created_at DESC, e.id ASC LIMIT ?"
    )
    return sql, [*params, limit]


def count_events(flt: Filter) -> Sql:
    """SQL returning the ids of all events `flt` matches (counted after de-duplication)."""
    where, params = where_clause(flt)
    return f"SELECT e.id FROM events e WHERE {where}", params
