"""The sans-IO relay session: client frames in, frames and commands out, with manual time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.event import Event, sign_event
from koinon.core.filters import Filter
from koinon.errors import Reason, Rejected
from koinon.relay.session import (
    AUTH_WINDOW_SECONDS,
    Command,
    Count,
    Publish,
    Query,
    Send,
    Session,
    TokenBucket,
)
from koinon.settings import Limits

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None)
RELAY_URL = "ws://127.0.0.1:7447"
CHALLENGE = "challenge123"
NOW = 1000.0
SECRET = bytes.fromhex("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa")
PUBKEY = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
RELAY_VERBS = {"EVENT", "OK", "EOSE", "CLOSED", "NOTICE", "AUTH", "COUNT"}


def session(**limits: Any) -> Session:
    return Session(replace(Limits(), **limits), RELAY_URL, CHALLENGE, now=NOW)


def note(content: str = "hi", kind: int = 1, created_at: int = 1000, **extra: Any) -> Event:
    return sign_event(
        SECRET, kind=kind, content=content, created_at=created_at, aux_rand=bytes(32), **extra
    )


def auth_event(
    challenge: str = CHALLENGE,
    relay: str | None = RELAY_URL,
    created_at: int = 1000,
    kind: int = 22242,
) -> Event:
    tags = [["challenge", challenge]] + ([["relay", relay]] if relay is not None else [])
    return note("", kind=kind, created_at=created_at, tags=tags)


def parse_frame(frame: bytes) -> list[Any]:
    """A relay frame must be a JSON array whose first element is a NIP-01 relay verb."""
    assert isinstance(frame, bytes)
    message = orjson.loads(frame)
    assert isinstance(message, list)
    assert message
    assert message[0] in RELAY_VERBS
    return message


def sent(commands: list[Command]) -> list[list[Any]]:
    """The frames among `commands`, parsed and checked."""
    return [parse_frame(c.frame) for c in commands if isinstance(c, Send)]


def receive(s: Session, message: Any, now: float = NOW) -> list[Command]:
    data = message if isinstance(message, bytes | str) else orjson.dumps(message)
    commands = s.receive(data, now)
    assert all(isinstance(c, Send | Publish | Query | Count) for c in commands)
    sent(commands)
    return commands


def only_frame(commands: list[Command]) -> list[Any]:
    assert len(commands) == 1
    assert isinstance(commands[0], Send)
    return parse_frame(commands[0].frame)


def assert_ok(commands: list[Command], event_id: str, accepted: bool, prefix: str) -> None:
    verb, got_id, got_accepted, message = only_frame(commands)
    assert (verb, got_id, got_accepted) == ("OK", event_id, accepted)
    assert message.startswith(prefix), message


# -- connection start and simple commands --------------------------------------------------------


def test_start_sends_auth_challenge() -> None:
    assert sent(session().start()) == [["AUTH", CHALLENGE]]


def test_event_becomes_publish() -> None:
    event = note()
    assert receive(session(), ["EVENT", event.to_dict()]) == [Publish(event)]


def test_bad_json_gets_invalid_notice() -> None:
    verb, message = only_frame(receive(session(), b"[not json"))
    assert verb == "NOTICE"
    assert message.startswith("invalid: ")


@pytest.mark.parametrize(
    "message", [{"EVENT": 1}, [], ["NOPE", 1], [7]], ids=["object", "empty", "unknown", "int"]
)
def test_unusable_message_gets_invalid_notice(message: Any) -> None:
    verb, text = only_frame(receive(session(), message))
    assert (verb, text[:9]) == ("NOTICE", "invalid: ")


def test_malformed_event_gets_ok_false_with_its_id() -> None:
    raw = note().to_dict() | {"created_at": "yesterday"}
    assert_ok(receive(session(), ["EVENT", raw]), raw["id"], False, "invalid: ")


def test_malformed_event_without_id_gets_notice() -> None:
    raw = note().to_dict()
    del raw["id"]
    verb, text = only_frame(receive(session(), ["EVENT", raw]))
    assert (verb, text[:9]) == ("NOTICE", "invalid: ")


def test_req_becomes_query_with_increasing_generations() -> None:
    s = session()
    first = receive(s, ["REQ", "a", {"kinds": [1]}, {"#t": ["x"]}])
    assert first == [
        Query("a", 1, (Filter(kinds=frozenset({1})), Filter(tags=(("t", frozenset({"x"})),))))
    ]
    second = receive(s, ["REQ", "b", {}])
    assert second == [Query("b", 2, (Filter(),))]
    assert set(s.subscriptions) == {"a", "b"}


def test_subscription_id_too_long() -> None:
    verb, *rest = only_frame(receive(session(), ["REQ", "s" * 65, {}]))
    assert verb in ("CLOSED", "NOTICE")
    assert rest[-1].startswith("invalid: ")


def test_too_many_filters_closes_with_invalid() -> None:
    frame = only_frame(receive(session(max_filters=2), ["REQ", "s", {}, {}, {}]))
    assert frame[:2] == ["CLOSED", "s"]
    assert frame[2].startswith("invalid: ")


def test_bad_filter_closes_with_invalid() -> None:
    frame = only_frame(receive(session(), ["REQ", "s", {"since": "now"}]))
    assert frame[:2] == ["CLOSED", "s"]
    assert frame[2].startswith("invalid: ")


def test_too_many_subscriptions_closes_with_rate_limited() -> None:
    s = session(max_subscriptions=2)
    receive(s, ["REQ", "a", {}])
    receive(s, ["REQ", "b", {}])
    frame = only_frame(receive(s, ["REQ", "c", {}]))
    assert frame[:2] == ["CLOSED", "c"]
    assert frame[2].startswith("rate-limited: ")
    assert set(s.subscriptions) == {"a", "b"}
    # Replacing an open subscription does not count as a new one.
    assert receive(s, ["REQ", "a", {"kinds": [1]}]) == [
        Query("a", 3, (Filter(kinds=frozenset({1})),))
    ]
    # Closing one makes room.
    assert receive(s, ["CLOSE", "b"]) == []
    assert receive(s, ["REQ", "c", {}]) == [Query("c", 4, (Filter(),))]


def test_close_removes_the_subscription() -> None:
    s = session()
    [query] = receive(s, ["REQ", "s", {}])
    assert isinstance(query, Query)
    assert receive(s, ["CLOSE", "s"]) == []
    assert "s" not in s.subscriptions
    assert s.query_done("s", query.generation, [note().to_json()]) == []
    assert s.live(note(), note().to_json()) == []
    assert receive(s, ["CLOSE", "never-opened"]) == []


def test_count_becomes_count_command() -> None:
    s = session()
    assert receive(s, ["COUNT", "c", {"kinds": [1]}]) == [
        Count("c", (Filter(kinds=frozenset({1})),))
    ]
    assert parse_frame(s.counted("c", 42)) == ["COUNT", "c", {"count": 42}]
    assert s.subscriptions == {}


# -- rate limiting -------------------------------------------------------------------------------


def test_event_rate_limit_with_manual_time() -> None:
    s = session(events_per_second=1.0, event_burst=2)
    events = [note(str(i)) for i in range(5)]
    assert receive(s, ["EVENT", events[0].to_dict()], 1000.0) == [Publish(events[0])]
    assert receive(s, ["EVENT", events[1].to_dict()], 1000.0) == [Publish(events[1])]
    assert_ok(
        receive(s, ["EVENT", events[2].to_dict()], 1000.5), events[2].id, False, "rate-limited: "
    )
    assert receive(s, ["EVENT", events[3].to_dict()], 1001.0) == [Publish(events[3])]
    assert_ok(
        receive(s, ["EVENT", events[4].to_dict()], 1001.0), events[4].id, False, "rate-limited: "
    )


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5)
    assert not bucket.take(0.5)
    # Idle time never banks more than the burst.
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]


def test_token_bucket_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0.0, burst=0, now=0.0)
    assert all(bucket.take(0.0) for _ in range(100))


# -- NIP-42 authentication -----------------------------------------------------------------------


def test_auth_required_for_write() -> None:
    s = session(auth_required_for_write=True)
    event = note()
    assert_ok(receive(s, ["EVENT", event.to_dict()]), event.id, False, "auth-required: ")
    auth = auth_event()
    assert_ok(receive(s, ["AUTH", auth.to_dict()]), auth.id, True, "")
    assert receive(s, ["EVENT", event.to_dict()]) == [Publish(event)]


def test_auth_required_for_read() -> None:
    s = session(auth_required_for_read=True)
    frame = only_frame(receive(s, ["REQ", "s", {}]))
    assert frame[:2] == ["CLOSED", "s"]
    assert frame[2].startswith("auth-required: ")
    frame = only_frame(receive(s, ["COUNT", "c", {}]))
    assert frame[:2] == ["CLOSED", "c"]
    assert frame[2].startswith("auth-required: ")
    auth = auth_event()
    receive(s, ["AUTH", auth.to_dict()])
    assert receive(s, ["REQ", "s", {}]) == [Query("s", 1, (Filter(),), frozenset({auth.pubkey}))]


@pytest.mark.parametrize(
    "relay",
    [RELAY_URL, RELAY_URL + "/", "wss://127.0.0.1:7447", " ws://127.0.0.1:7447 "],
    ids=["exact", "trailing-slash", "wss", "spaces"],
)
def test_valid_auth(relay: str) -> None:
    s = session()
    auth = auth_event(relay=relay)
    assert_ok(receive(s, ["AUTH", auth.to_dict()]), auth.id, True, "")
    assert s.authenticated == {PUBKEY}


@pytest.mark.parametrize(
    "auth",
    [
        auth_event(challenge="challenge124"),
        auth_event(challenge=""),
        auth_event(relay="ws://127.0.0.1:7448"),
        auth_event(relay="ws://127.0.0.2:7447"),
        auth_event(relay="http://127.0.0.1:7447"),
        auth_event(relay="ws://127.0.0.1"),
        auth_event(relay=None),
        auth_event(created_at=int(NOW) - AUTH_WINDOW_SECONDS - 1),
        auth_event(created_at=int(NOW) + AUTH_WINDOW_SECONDS + 1),
        auth_event(kind=1),
        auth_event(kind=22243),
    ],
    ids=[
        "wrong-challenge",
        "empty-challenge",
        "wrong-port",
        "wrong-host",
        "http-scheme",
        "no-port",
        "no-relay-tag",
        "too-old",
        "too-new",
        "kind-1",
        "kind-22243",
    ],
)
def test_invalid_auth(auth: Event) -> None:
    s = session()
    assert_ok(receive(s, ["AUTH", auth.to_dict()]), auth.id, False, "invalid: ")
    assert s.authenticated == set()


def test_auth_window_edges_are_accepted() -> None:
    for created_at in (int(NOW) - AUTH_WINDOW_SECONDS, int(NOW) + AUTH_WINDOW_SECONDS):
        s = session()
        auth = auth_event(created_at=created_at)
        assert_ok(receive(s, ["AUTH", auth.to_dict()]), auth.id, True, "")


def test_auth_with_bad_signature_or_id() -> None:
    auth = auth_event().to_dict()
    bad_sig = auth | {"sig": ("0" if auth["sig"][0] != "0" else "1") + auth["sig"][1:]}
    bad_id = auth | {"id": "0" * 64}
    for raw in (bad_sig, bad_id):
        s = session()
        assert_ok(receive(s, ["AUTH", raw]), raw["id"], False, "invalid: ")
        assert s.authenticated == set()


def test_malformed_auth_event_gets_ok_false() -> None:
    raw = auth_event().to_dict() | {"tags": "challenge123"}
    assert_ok(receive(session(), ["AUTH", raw]), raw["id"], False, "invalid: ")


@pytest.mark.parametrize(
    "relay",
    ["ws://127.0.0.1:notaport", "ws://127.0.0.1:99999", "ws://[::1"],
    ids=["port-text", "port-range", "ipv6-unclosed"],
)
def test_auth_with_malformed_relay_url_is_ok_false(relay: str) -> None:
    auth = auth_event(relay=relay)
    assert_ok(
        session().receive(orjson.dumps(["AUTH", auth.to_dict()]), NOW), auth.id, False, "invalid: "
    )


# -- message size --------------------------------------------------------------------------------


def _padded(verb: str, size: int) -> bytes:
    """A well-formed message of at least `size` bytes."""
    if verb == "EVENT":
        return orjson.dumps(["EVENT", note("x" * size).to_dict()])
    if verb == "REQ":
        return orjson.dumps(["REQ", "s", {"search": "x" * size}])
    return orjson.dumps(["CLOSE", "s"]).replace(b"[", b"[" + b" " * size, 1)


def test_oversized_event_gets_ok_false() -> None:
    s = session(max_message_bytes=500)
    data = _padded("EVENT", 500)
    event_id = orjson.loads(data)[1]["id"]
    assert_ok(receive(s, data), event_id, False, "invalid: ")


def test_oversized_req_gets_closed() -> None:
    frame = only_frame(receive(session(max_message_bytes=500), _padded("REQ", 500)))
    assert frame[:2] == ["CLOSED", "s"]
    assert frame[2].startswith("invalid: ")


def test_oversized_close_gets_notice() -> None:
    verb, text = only_frame(receive(session(max_message_bytes=500), _padded("CLOSE", 500)))
    assert (verb, text[:9]) == ("NOTICE", "invalid: ")


def test_message_at_the_limit_is_accepted() -> None:
    data = orjson.dumps(["REQ", "s", {}])
    assert receive(session(max_message_bytes=len(data)), data) == [Query("s", 1, (Filter(),))]


def test_size_limit_counts_bytes_of_text_messages() -> None:
    text = orjson.dumps(["REQ", "s", {"search": "é" * 150}]).decode()
    assert len(text) < 200 < len(text.encode())
    frame = only_frame(session(max_message_bytes=200).receive(text, NOW))
    assert frame[:2] == ["CLOSED", "s"]


# -- outcomes reported back by the server --------------------------------------------------------


def test_published_outcomes() -> None:
    s = session()
    event_id = note().id
    assert parse_frame(s.published(event_id, None)) == ["OK", event_id, True, ""]
    duplicate = Rejected(Reason.DUPLICATE, "already have this event")
    assert parse_frame(s.published(event_id, duplicate)) == [
        "OK",
        event_id,
        True,
        "duplicate: already have this event",
    ]
    for reason in (Reason.INVALID, Reason.POW, Reason.BLOCKED, Reason.RESTRICTED, Reason.ERROR):
        frame = parse_frame(s.published(event_id, Rejected(reason, "nope")))
        assert frame == ["OK", event_id, False, f"{reason.value}: nope"]


def _open(s: Session, sub_id: str, flt: dict[str, Any]) -> Query:
    [query] = receive(s, ["REQ", sub_id, flt])
    assert isinstance(query, Query)
    return query


def test_query_done_sends_stored_then_eose_then_pending_without_duplicates() -> None:
    s = session()
    query = _open(s, "s", {"kinds": [1]})
    stored_a, stored_b, fresh = note("a"), note("b"), note("c")
    # Live events arriving while the query runs are held back, even one the query also finds.
    assert s.live(fresh, fresh.to_json()) == []
    assert s.live(stored_b, stored_b.to_json()) == []
    assert s.live(note("other kind", kind=7), note("other kind", kind=7).to_json()) == []
    out = [
        parse_frame(f)
        for f in s.query_done("s", query.generation, [stored_a.to_json(), stored_b.to_json()])
    ]
    assert out == [
        ["EVENT", "s", stored_a.to_dict()],
        ["EVENT", "s", stored_b.to_dict()],
        ["EOSE", "s"],
        ["EVENT", "s", fresh.to_dict()],
    ]


def test_live_after_eose_is_sent_directly() -> None:
    s = session()
    query = _open(s, "s", {"kinds": [1]})
    assert [parse_frame(f) for f in s.query_done("s", query.generation, [])] == [["EOSE", "s"]]
    event = note("now")
    assert [parse_frame(f) for f in s.live(event, event.to_json())] == [
        ["EVENT", "s", event.to_dict()]
    ]
    other = note("reaction", kind=7)
    assert s.live(other, other.to_json()) == []


def test_live_goes_to_every_matching_subscription() -> None:
    s = session()
    for sub_id, flt in (("one", {"kinds": [1]}), ("all", {}), ("none", {"kinds": [7]})):
        query = _open(s, sub_id, flt)
        s.query_done(sub_id, query.generation, [])
    event = note()
    frames = [parse_frame(f) for f in s.live(event, event.to_json())]
    assert sorted(f[1] for f in frames) == ["all", "one"]


def test_stale_generation_is_ignored() -> None:
    s = session()
    old = _open(s, "s", {"kinds": [1]})
    new = _open(s, "s", {"kinds": [7]})
    assert new.generation > old.generation
    assert s.query_done("s", old.generation, [note().to_json()]) == []
    assert s.query_failed("s", old.generation, Rejected(Reason.ERROR, "x")) == []
    assert "s" in s.subscriptions
    out = [parse_frame(f) for f in s.query_done("s", new.generation, [])]
    assert out == [["EOSE", "s"]]


def test_query_failed_closes_the_subscription() -> None:
    s = session()
    query = _open(s, "s", {})
    out = s.query_failed("s", query.generation, Rejected(Reason.ERROR, "internal error"))
    assert [parse_frame(f) for f in out] == [["CLOSED", "s", "error: internal error"]]
    assert "s" not in s.subscriptions
    assert s.query_done("s", query.generation, []) == []


# -- junk never breaks a session -----------------------------------------------------------------

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
VALID = note("valid").to_dict()
filter_like = st.dictionaries(
    st.sampled_from(["ids", "authors", "kinds", "#e", "since", "until", "limit", "search"]),
    json_values,
    max_size=3,
)
payloads = json_values | filter_like | st.just(VALID) | st.just(auth_event().to_dict())
verbs = st.sampled_from(["EVENT", "REQ", "COUNT", "CLOSE", "AUTH", "NOTICE"]) | st.text(max_size=4)
arrays = st.builds(lambda verb, rest: [verb, *rest], verbs, st.lists(payloads, max_size=4))
messages = (
    st.binary(max_size=120)
    | st.text(max_size=120)
    | arrays.map(orjson.dumps)
    | arrays.map(lambda a: orjson.dumps(a).decode())
)


@PROPERTY
@given(
    batch=st.lists(messages, min_size=1, max_size=5), times=st.floats(min_value=0, max_value=1e4)
)
def test_junk_never_raises_and_session_stays_usable(batch: list[bytes | str], times: float) -> None:
    s = session(max_subscriptions=10, events_per_second=1.0, event_burst=2)
    for data in batch:
        commands = s.receive(data, times)
        assert all(isinstance(c, Send | Publish | Query | Count) for c in commands)
        sent(commands)
    [query] = s.receive(orjson.dumps(["REQ", "probe-after-junk", {"kinds": [1]}]), times)
    assert isinstance(query, Query)
    assert query.sub_id == "probe-after-junk"
    done = [parse_frame(f) for f in s.query_done("probe-after-junk", query.generation, [])]
    assert done[-1] == ["EOSE", "probe-after-junk"]
