"""`decode_stored`: the store's own text reads back as the event that was written, and text
without the stored shape fails as `invalid` instead of producing a wrong event."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.event import parse_event
from koinon.errors import Reason, Rejected
from koinon.store.sqlite import decode_stored
from tests.helpers import make_event, make_key

KEY = make_key(7)
T0 = 1_700_000_000

text = st.text(max_size=40)
tag = st.lists(text, min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.integers(0, 65535),
    content=text,
    tags=st.lists(tag, max_size=5),
    created_at=st.integers(0, 2**40),
)
def test_stored_text_reads_back_as_the_event(
    kind: int, content: str, tags: list[list[str]], created_at: int
) -> None:
    event = make_event(KEY, kind=kind, content=content, tags=tags, created_at=created_at)
    stored = event.to_json()
    decoded = decode_stored(stored)
    assert decoded == event == parse_event(orjson.loads(stored))
    assert decoded.to_json() == stored
    assert decode_stored(stored.decode()) == event


def _without(field: str) -> bytes:
    raw = make_event(KEY, content="hi", tags=[["t", "x"]], created_at=T0).to_dict()
    del raw[field]
    return orjson.dumps(raw)


def _with(field: str, value: object) -> bytes:
    raw = make_event(KEY, content="hi", tags=[["t", "x"]], created_at=T0).to_dict()
    raw[field] = value
    return orjson.dumps(raw)


@pytest.mark.parametrize(
    "bad",
    [
        _without("id"),
        _without("tags"),
        _without("sig"),
        _with("tags", 5),
        _with("tags", [5]),
        _with("tags", ["ab"]),
        _with("tags", [["t", 5]]),
        _with("created_at", "1700000000"),
        _with("kind", 1.5),
        _with("id", 5),
        _with("content", None),
        b"[1, 2]",
    ],
)
def test_text_without_the_stored_shape_is_invalid(bad: bytes) -> None:
    with pytest.raises(Rejected) as caught:
        decode_stored(bad)
    assert caught.value.reason is Reason.INVALID
