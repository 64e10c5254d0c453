"""NIP-01 filters: parsing with limits, and matching semantics."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.event import MAX_TIMESTAMP, Event, parse_event
from koinon.core.filters import Filter, matches_any, parse_filter
from koinon.errors import Reason, Rejected

PROPERTY = settings(max_examples=80, deadline=None, derandomize=True, database=None)


def hex64(n: int) -> str:
    return f"{n:064x}"


def make_event(
    n: int = 1,
    *,
    author: int = 1,
    kind: int = 1,
    created_at: int = 1000,
    tags: list[list[str]] | None = None,
) -> Event:
    """A well-shaped event; matching never checks signatures, so id and sig are stand-ins."""
    return parse_event(
        {
            "id": hex64(n),
            "pubkey": hex64(author),
            "created_at": created_at,
            "kind": kind,
            "tags": tags or [],
            "content": "",
            "sig": "0" * 128,
        }
    )


def assert_invalid(raw: object, max_values: int = 1000) -> None:
    with pytest.raises(Rejected) as info:
        parse_filter(raw, max_values)
    assert info.value.reason is Reason.INVALID


# -- parsing -------------------------------------------------------------------------------------


def test_parse_every_field() -> None:
    raw = {
        "ids": [hex64(1), hex64(2)],
        "authors": [hex64(3)],
        "kinds": [1, 7],
        "#e": [hex64(4)],
        "#t": ["a", "b"],
        "since": 10,
        "until": 20,
        "limit": 5,
    }
    flt = parse_filter(raw)
    assert flt == Filter(
        ids=frozenset({hex64(1), hex64(2)}),
        authors=frozenset({hex64(3)}),
        kinds=frozenset({1, 7}),
        tags=(("e", frozenset({hex64(4)})), ("t", frozenset({"a", "b"}))),
        since=10,
        until=20,
        limit=5,
    )
    assert parse_filter(flt.to_dict()) == flt


def test_empty_object_is_an_unrestricted_filter() -> None:
    flt = parse_filter({})
    assert flt == Filter()
    assert not flt.is_empty
    assert flt.matches(make_event())


def test_unknown_keys_are_ignored() -> None:
    raw = {"search": "nostr", "foo": {"x": 1}, "#": [1], "#ab": 2, "#1": 3, "#é": 4, "kinds": [1]}
    assert parse_filter(raw) == Filter(kinds=frozenset({1}))


def test_single_letter_tag_keys_are_case_sensitive() -> None:
    flt = parse_filter({"#T": ["x"], "#t": ["y"], "#e": ["anything, not only hex"]})
    assert flt.tags == (
        ("T", frozenset({"x"})),
        ("e", frozenset({"anything, not only hex"})),
        ("t", frozenset({"y"})),
    )


@pytest.mark.parametrize("key", ["ids", "authors", "kinds", "#e"])
def test_value_count_limit(key: str) -> None:
    values: list[Any] = [i if key == "kinds" else hex64(i) for i in range(4)]
    assert parse_filter({key: values[:3]}, max_values=3) is not None
    assert_invalid({key: values}, max_values=3)


BAD: dict[str, Any] = {
    "not-object": ["kinds", 1],
    "null": None,
    "ids-string": {"ids": hex64(1)},
    "ids-uppercase": {"ids": [hex64(10).upper().replace("0", "A")]},
    "ids-short": {"ids": ["abc"]},
    "ids-prefix": {"ids": [hex64(1)[:10]]},
    "ids-int": {"ids": [1]},
    "authors-uppercase": {"authors": ["F" * 64]},
    "authors-object": {"authors": {"a": 1}},
    "kinds-string": {"kinds": "1"},
    "kinds-string-item": {"kinds": ["1"]},
    "kinds-bool": {"kinds": [True]},
    "kinds-float": {"kinds": [1.0]},
    "kinds-negative": {"kinds": [-1]},
    "kinds-too-big": {"kinds": [65536]},
    "tag-string": {"#e": "x"},
    "tag-int-item": {"#e": [1]},
    "tag-null-item": {"#p": [None]},
    "since-string": {"since": "10"},
    "since-bool": {"since": True},
    "since-float": {"since": 1.5},
    "since-negative": {"since": -1},
    "until-huge": {"until": MAX_TIMESTAMP + 1},
    "limit-bool": {"limit": False},
    "limit-negative": {"limit": -5},
    "limit-list": {"limit": [5]},
}


@pytest.mark.parametrize("raw", BAD.values(), ids=BAD.keys())
def test_bad_filter_is_rejected_invalid(raw: object) -> None:
    assert_invalid(raw)


# -- matching ------------------------------------------------------------------------------------


def test_ids_authors_kinds() -> None:
    event = make_event(5, author=6, kind=7)
    assert parse_filter({"ids": [hex64(5)]}).matches(event)
    assert not parse_filter({"ids": [hex64(4)]}).matches(event)
    assert parse_filter({"authors": [hex64(9), hex64(6)]}).matches(event)
    assert not parse_filter({"authors": [hex64(5)]}).matches(event)
    assert parse_filter({"kinds": [1, 7]}).matches(event)
    assert not parse_filter({"kinds": [1]}).matches(event)


def test_since_and_until_are_inclusive() -> None:
    event = make_event(created_at=100)
    assert parse_filter({"since": 100, "until": 100}).matches(event)
    assert not parse_filter({"since": 101}).matches(event)
    assert not parse_filter({"until": 99}).matches(event)


def test_tag_filters_match_first_value_of_named_tags() -> None:
    event = make_event(tags=[["e", "x", "wss://relay"], ["t", "news"], ["p"], ["T", "Big"]])
    assert parse_filter({"#e": ["x"]}).matches(event)
    assert parse_filter({"#t": ["sport", "news"]}).matches(event)
    assert parse_filter({"#T": ["Big"]}).matches(event)
    assert not parse_filter({"#t": ["Big"]}).matches(event)
    assert not parse_filter({"#e": ["wss://relay"]}).matches(event), "only the first value counts"
    assert not parse_filter({"#p": [""]}).matches(event), "a one-element tag has no value"
    assert not parse_filter({"#q": ["x"]}).matches(event)


def test_conditions_within_a_filter_are_anded() -> None:
    event = make_event(5, author=6, kind=1, created_at=50, tags=[["t", "a"]])
    full = {"ids": [hex64(5)], "authors": [hex64(6)], "kinds": [1], "#t": ["a"], "since": 50}
    assert parse_filter(full).matches(event)
    for key, wrong in [("ids", [hex64(1)]), ("kinds", [2]), ("#t", ["b"]), ("since", 51)]:
        assert not parse_filter(full | {key: wrong}).matches(event), key
    both_tags = parse_filter({"#t": ["a"], "#e": ["x"]})
    assert not both_tags.matches(event)


def test_filters_are_ored_by_matches_any() -> None:
    event = make_event(kind=7)
    wrong, right = parse_filter({"kinds": [1]}), parse_filter({"kinds": [7]})
    assert matches_any([wrong, right], event)
    assert matches_any([right, wrong], event)
    assert not matches_any([wrong], event)
    assert not matches_any([], event)


@pytest.mark.parametrize("key", ["ids", "authors", "kinds", "#e"])
def test_empty_list_matches_nothing(key: str) -> None:
    flt = parse_filter({key: []})
    assert flt.is_empty
    assert not flt.matches(make_event(tags=[["e", "x"]]))


@pytest.mark.parametrize(
    ("raw", "empty"),
    [
        ({}, False),
        ({"limit": 0}, True),
        ({"limit": 1}, False),
        ({"since": 5, "until": 4}, True),
        ({"since": 5, "until": 5}, False),
        ({"kinds": [1], "#t": []}, True),
    ],
    ids=["unrestricted", "limit-0", "limit-1", "since-after-until", "same-second", "empty-tag"],
)
def test_is_empty(raw: dict[str, Any], empty: bool) -> None:
    assert parse_filter(raw).is_empty is empty


# -- properties ----------------------------------------------------------------------------------

small_ids = st.integers(min_value=1, max_value=4).map(hex64)
tag_names = st.sampled_from("etT")
tag_values = st.sampled_from(["a", "b", "c"])
filter_dicts = st.fixed_dictionaries(
    {},
    optional={
        "ids": st.lists(small_ids, max_size=3),
        "authors": st.lists(small_ids, max_size=3),
        "kinds": st.lists(st.integers(min_value=0, max_value=3), max_size=3),
        "#e": st.lists(tag_values, max_size=3),
        "#t": st.lists(tag_values, max_size=3),
        "#T": st.lists(tag_values, max_size=3),
        "since": st.integers(min_value=0, max_value=10),
        "until": st.integers(min_value=0, max_value=10),
        "limit": st.integers(min_value=0, max_value=10),
    },
)
events = st.builds(
    lambda n, author, kind, created_at, tags: make_event(
        n, author=author, kind=kind, created_at=created_at, tags=tags
    ),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=10),
    st.lists(st.lists(tag_names | tag_values, max_size=3), max_size=4),
)


def reference_match(raw: dict[str, Any], event: Event) -> bool:
    """NIP-01 matching spelled out on the raw filter object."""
    checks = [
        "ids" not in raw or event.id in raw["ids"],
        "authors" not in raw or event.pubkey in raw["authors"],
        "kinds" not in raw or event.kind in raw["kinds"],
        "since" not in raw or event.created_at >= raw["since"],
        "until" not in raw or event.created_at <= raw["until"],
    ]
    for key, values in raw.items():
        if key.startswith("#"):
            checks.append(
                any(t[:1] == (key[1],) and t[1:2] in [(v,) for v in values] for t in event.tags)
            )
    return all(checks)


@PROPERTY
@given(raw=filter_dicts, event=events)
def test_matches_agrees_with_reference(raw: dict[str, Any], event: Event) -> None:
    assert parse_filter(raw).matches(event) is reference_match(raw, event)


@PROPERTY
@given(raw=filter_dicts)
def test_to_dict_round_trip(raw: dict[str, Any]) -> None:
    flt = parse_filter(raw)
    assert parse_filter(flt.to_dict()) == flt


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=12,
)
junk_filters = st.dictionaries(
    st.sampled_from(["ids", "authors", "kinds", "#e", "#p", "since", "until", "limit", "x"]),
    json_values,
)


@PROPERTY
@given(raw=json_values | junk_filters)
def test_parse_filter_raises_only_rejected(raw: object) -> None:
    try:
        parse_filter(raw)
    except Rejected as rejected:
        assert rejected.reason is Reason.INVALID
