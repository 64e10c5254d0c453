"""NIP-01 frames: decoding client messages and encoding relay messages."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.event import Event, sign_event
from koinon.core.filters import Filter
from koinon.errors import Reason, Rejected
from koinon.relay import frames

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)
LIMITS = frames.FrameLimits(max_subid_length=64, max_filters=3, max_filter_values=5)
SECRET = bytes.fromhex("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa")
RELAY_VERBS = {"EVENT", "OK", "EOSE", "CLOSED", "NOTICE", "AUTH", "COUNT"}


def signed() -> Event:
    return sign_event(SECRET, kind=1, content="hi", created_at=1000, aux_rand=bytes(32))


def decode(message: Any) -> frames.ClientFrame:
    return frames.decode(orjson.dumps(message), LIMITS)


def decode_error(message: Any) -> frames.FrameError:
    with pytest.raises(frames.FrameError) as info:
        frames.decode(message if isinstance(message, bytes) else orjson.dumps(message), LIMITS)
    assert isinstance(info.value, Rejected)
    assert info.value.reason is Reason.INVALID
    return info.value


# -- decoding ------------------------------------------------------------------------------------


def test_event_and_auth() -> None:
    event = signed()
    assert decode(["EVENT", event.to_dict()]) == frames.EventFrame(event)
    assert decode(["AUTH", event.to_dict()]) == frames.AuthFrame(event)
    assert frames.decode(orjson.dumps(["EVENT", event.to_dict()]).decode(), LIMITS) == (
        frames.EventFrame(event)
    )


def test_req_count_close() -> None:
    assert decode(["REQ", "s", {"kinds": [1]}, {}]) == frames.ReqFrame(
        "s", (Filter(kinds=frozenset({1})), Filter())
    )
    assert decode(["COUNT", "c", {}]) == frames.CountFrame("c", (Filter(),))
    assert decode(["CLOSE", "s"]) == frames.CloseFrame("s")


def test_malformed_event_keeps_its_id() -> None:
    raw = signed().to_dict() | {"kind": "one"}
    error = decode_error(["EVENT", raw])
    assert error.event_id == raw["id"]
    assert error.sub_id is None


@pytest.mark.parametrize(
    "message",
    [["EVENT"], ["EVENT", {"content": 1}, {"x": 1}], ["AUTH", None], ["EVENT", "text"]],
    ids=["missing", "two-events", "null", "string"],
)
def test_event_without_usable_id(message: list[Any]) -> None:
    assert decode_error(message).event_id is None


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"not json",
        b"[",
        b"\xff",
        {"REQ": 1},
        [],
        [1, 2],
        ["HELLO", 1],
        ["event", {}],
        "REQ",
    ],
    ids=[
        "empty",
        "text",
        "open",
        "bad-utf8",
        "object",
        "empty-array",
        "no-verb",
        "unknown-verb",
        "lowercase-verb",
        "string",
    ],
)
def test_undecodable_messages(message: Any) -> None:
    error = decode_error(message)
    assert error.event_id is None
    assert error.sub_id is None


LONE_SURROGATES = {
    "raw-high": '["REQ","\ud800",{}]',
    "raw-low": '["REQ","s\udfff",{}]',
    "escaped-high": '["REQ","\\ud83d",{}]',
    "escaped-low": '["NOTICE","\\udc00"]',
}


@pytest.mark.parametrize("text", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_lone_surrogates_in_text_messages(text: str) -> None:
    with pytest.raises(frames.FrameError) as info:
        frames.decode(text, LIMITS)
    assert info.value.reason is Reason.INVALID


@pytest.mark.parametrize(
    "message",
    [["REQ"], ["REQ", ""], ["REQ", 5, {}], ["REQ", "x" * 65, {}], ["CLOSE"], ["COUNT", None, {}]],
    ids=["missing", "empty", "int", "too-long", "close-missing", "count-null"],
)
def test_bad_subscription_id(message: list[Any]) -> None:
    error = decode_error(message)
    assert error.sub_id is None
    assert "subscription id" in error.message


def test_subscription_id_of_maximum_length() -> None:
    assert decode(["REQ", "x" * 64, {}]) == frames.ReqFrame("x" * 64, (Filter(),))


@pytest.mark.parametrize(
    "message",
    [
        ["REQ", "s"],
        ["REQ", "s", {}, {}, {}, {}],
        ["REQ", "s", {"kinds": "1"}],
        ["REQ", "s", {"ids": ["a"] * 6}],
        ["COUNT", "s", []],
        ["CLOSE", "s", "extra"],
    ],
    ids=["no-filter", "too-many-filters", "bad-filter", "too-many-values", "count-list", "close"],
)
def test_bad_filters_keep_the_subscription_id(message: list[Any]) -> None:
    assert decode_error(message).sub_id == "s"


# -- encoding ------------------------------------------------------------------------------------


def test_relay_frames_are_json_arrays() -> None:
    event = signed()
    sub = 'a "quoted"\n\\ sub \u2028 😀'
    encoded = {
        "OK": frames.ok(event.id, False, "invalid: bad"),
        "EVENT": frames.event(sub, event.to_json()),
        "EOSE": frames.eose(sub),
        "CLOSED": frames.closed(sub, "error: x"),
        "NOTICE": frames.notice("hello\x00"),
        "COUNT": frames.count(sub, 3),
        "AUTH": frames.auth_challenge("challenge"),
    }
    assert orjson.loads(encoded["OK"]) == ["OK", event.id, False, "invalid: bad"]
    assert orjson.loads(encoded["EVENT"]) == ["EVENT", sub, event.to_dict()]
    assert orjson.loads(encoded["EOSE"]) == ["EOSE", sub]
    assert orjson.loads(encoded["CLOSED"]) == ["CLOSED", sub, "error: x"]
    assert orjson.loads(encoded["NOTICE"]) == ["NOTICE", "hello\x00"]
    assert orjson.loads(encoded["COUNT"]) == ["COUNT", sub, {"count": 3}]
    assert orjson.loads(encoded["AUTH"]) == ["AUTH", "challenge"]
    assert set(encoded) == RELAY_VERBS


@PROPERTY
@given(sub=st.text(min_size=1, max_size=64), message=st.text())
def test_encoded_text_always_round_trips(sub: str, message: str) -> None:
    assert orjson.loads(frames.eose(sub)) == ["EOSE", sub]
    assert orjson.loads(frames.closed(sub, message)) == ["CLOSED", sub, message]
    assert orjson.loads(frames.notice(message)) == ["NOTICE", message]


# -- junk ----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
verbs = st.sampled_from(["EVENT", "REQ", "COUNT", "CLOSE", "AUTH", "OK", "x"]) | st.text(max_size=5)
messages = st.builds(lambda verb, rest: [verb, *rest], verbs, st.lists(json_values, max_size=4))


@PROPERTY
@given(data=st.binary(max_size=200) | st.text(max_size=200) | messages.map(orjson.dumps))
def test_decode_raises_only_frame_errors(data: bytes | str) -> None:
    try:
        frame = frames.decode(data, LIMITS)
    except frames.FrameError as error:
        assert error.reason is Reason.INVALID
        if error.event_id is not None:
            assert isinstance(error.event_id, str)
        return
    assert isinstance(
        frame,
        frames.EventFrame
        | frames.ReqFrame
        | frames.CountFrame
        | frames.CloseFrame
        | frames.AuthFrame,
    )
