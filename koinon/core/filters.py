"""NIP-01 subscription filters: parsing with limits, and matching events against them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from koinon.core.event import MAX_TIMESTAMP, Event, is_hex
from koinon.errors import invalid

DEFAULT_MAX_VALUES = 1000


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter object. `None` means the condition is absent; an empty set matches nothing."""

    ids: frozenset[str] | None = None
    authors: frozenset[str] | None = None
    kinds: frozenset[int] | None = None
    tags: tuple[tuple[str, frozenset[str]], ...] = ()
    since: int | None = None
    until: int | None = None
    limit: int | None = None

    def matches(self, event: Event) -> bool:
        """True when `event` satisfies every condition of this filter (limit aside)."""
        if self.ids is not None and event.id not in self.ids:
            return False
        if self.authors is not None and event.pubkey not in self.authors:
            return False
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        if self.since is not None and event.created_at < self.since:
            return False
        if self.until is not None and event.created_at > self.until:
            return False
        for name, values in self.tags:
            if not any(len(t) >= 2 and t[0] == name and t[1] in values for t in event.tags):
                return False
        return True

    @property
    def is_empty(self) -> bool:
        """True when the filter can match nothing (an empty list, or since after until)."""
        sets: list[frozenset[str] | frozenset[int] | None] = [self.ids, self.authors, self.kinds]
        sets += [values for _, values in self.tags]
        if any(s is not None and not s for s in sets):
            return True
        if self.limit == 0:
            return True
        return self.since is not None and self.until is not None and self.since > self.until

    def to_dict(self) -> dict[str, object]:
        """The JSON form, with sorted value lists."""
        out: dict[str, object] = {}
        if self.ids is not None:
            out["ids"] = sorted(self.ids)
        if self.authors is not None:
            out["authors"] = sorted(self.authors)
        if self.kinds is not None:
            out["kinds"] = sorted(self.kinds)
        for name, values in self.tags:
            out[f"#{name}"] = sorted(values)
        for key in ("since", "until", "limit"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def _hex_set(raw: object, name: str, max_values: int) -> frozenset[str]:
    if not isinstance(raw, list) or len(raw) > max_values:
        raise invalid(f"{name} must be an array of at most {max_values} values")
    if not all(is_hex(v, 64) for v in raw):
        raise invalid(f"{name} must hold 64-character lowercase hex strings")
    return frozenset(raw)


def _int(raw: object, name: str) -> int:
    if type(raw) is not int or not 0 <= raw <= MAX_TIMESTAMP:
        raise invalid(f"{name} must be a non-negative integer")
    return raw


def parse_filter(raw: object, max_values: int = DEFAULT_MAX_VALUES) -> Filter:
    """A `Filter` from a decoded JSON object; unknown keys (e.g. NIP-50 search) are ignored."""
    if not isinstance(raw, dict):
        raise invalid("filter must be a JSON object")
    kinds = raw.get("kinds")
    if kinds is not None and (
        not isinstance(kinds, list)
        or len(kinds) > max_values
        or not all(type(k) is int and 0 <= k <= 65535 for k in kinds)
    ):
        raise invalid("kinds must be an array of integers between 0 and 65535")
    tags = []
    for key, values in raw.items():
        if len(key) == 2 and key[0] == "#" and key[1].isascii() and key[1].isalpha():
            if (
                not isinstance(values, list)
                or len(values) > max_values
                or not all(isinstance(v, str) for v in values)
            ):
                raise invalid(f"{key} must be an array of at most {max_values} strings")
            tags.append((key[1], frozenset(values)))
    return Filter(
        ids=_hex_set(raw["ids"], "ids", max_values) if raw.get("ids") is not None else None,
        authors=(
            _hex_set(raw["authors"], "authors", max_values)
            if raw.get("authors") is not None
            else None
        ),
        kinds=frozenset(kinds) if kinds is not None else None,
        tags=tuple(sorted(tags)),
        since=_int(raw["since"], "since") if raw.get("since") is not None else None,
        until=_int(raw["until"], "until") if raw.get("until") is not None else None,
        limit=_int(raw["limit"], "limit") if raw.get("limit") is not None else None,
    )


def matches_any(filters: Iterable[Filter], event: Event) -> bool:
    """True when any of `filters` matches `event` (filters in one REQ are OR-ed)."""
    return any(f.matches(event) for f in filters)
