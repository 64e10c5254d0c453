"""NIP-01 events: canonical serialization, ids, parsing, signing and verification."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.event import (
    MAX_TIMESTAMP,
    Event,
    compute_id,
    decode_event,
    parse_event,
    serialize_for_id,
    sign_event,
    verify_event,
)
from koinon.errors import Reason, Rejected

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)
SECRET = bytes.fromhex("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa")
PUBKEY = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
AUX = bytes(32)

TRICKY = (
    "".join(chr(i) for i in range(0x20))
    + '\x7f\u2028\u2029\ufeff\U0001f600 "quoted" back\\slash /é'
)
# Signed by nostr-tools 2.25.2 (finalizeEvent) with SECRET: an independent implementation's id.
NOSTR_TOOLS_EVENT: dict[str, Any] = {
    "id": "7a9a64cf129e0cb89ce51262933346cb1fe66e2b091797aac98cc1eef764b1ad",
    "pubkey": PUBKEY,
    "created_at": 1700000000,
    "kind": 1,
    "tags": [["t", "intro"], ["e", "a" * 64, "wss://r.example/\n"]],
    "content": TRICKY,
    "sig": (
        "92611f9cadbb22c9287fa0ccc3d3747a52bf9a6e42a49503c68a865dd5f046ff"
        "03573ef6b30b69616f01a9d71f41e038a5c2346b364261b6791fd4568012948e"
    ),
}

_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def js_stringify(value: str) -> str:
    """JSON.stringify of a well-formed string, written out from the ECMAScript rules."""
    out = []
    for char in value:
        if char in _SHORT:
            out.append(_SHORT[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def expected_serialization(
    pubkey: str, created_at: int, kind: int, tags: list[list[str]], content: str
) -> bytes:
    tag_text = ",".join("[" + ",".join(js_stringify(v) for v in t) + "]" for t in tags)
    text = f'[0,"{pubkey}",{created_at},{kind},[{tag_text}],{js_stringify(content)}]'
    return text.encode("utf-8")


def signed(content: str = "hello", **overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "kind": 1,
        "content": content,
        "created_at": 1_700_000_000,
        "aux_rand": AUX,
        "tags": [["t", "intro"]],
    }
    fields.update(overrides)
    return sign_event(SECRET, **fields)


def valid_dict() -> dict[str, Any]:
    return signed().to_dict()


# -- known events and ids ------------------------------------------------------------------------


def test_sign_event_id_is_sha256_of_serialization() -> None:
    event = signed()
    serialized = b'[0,"' + PUBKEY.encode() + b'",1700000000,1,[["t","intro"]],"hello"]'
    assert serialize_for_id(PUBKEY, 1_700_000_000, 1, [["t", "intro"]], "hello") == serialized
    assert event.id == hashlib.sha256(serialized).hexdigest()
    assert event.pubkey == PUBKEY
    verify_event(event)


def test_event_signed_by_nostr_tools_verifies() -> None:
    raw = NOSTR_TOOLS_EVENT
    assert compute_id(PUBKEY, raw["created_at"], 1, raw["tags"], raw["content"]) == raw["id"]
    event = decode_event(orjson.dumps(raw))
    assert event.content == TRICKY
    assert event.tags == (("t", "intro"), ("e", "a" * 64, "wss://r.example/\n"))


def test_to_json_is_compact_in_nip01_key_order() -> None:
    event = signed()
    text = event.to_json().decode()
    assert text.startswith('{"id":"' + event.id + '","pubkey":"' + PUBKEY + '","created_at":')
    assert list(orjson.loads(text)) == [
        "id",
        "pubkey",
        "created_at",
        "kind",
        "tags",
        "content",
        "sig",
    ]
    assert " " not in text.replace("hello", "")
    assert parse_event(orjson.loads(text)) == event


def test_tag_helpers() -> None:
    event = signed(tags=[["e", "x"], ["p"], ["e", "y", "hint"], ["d", "slug"]])
    assert event.tag_values("e") == ["x", "y"]
    assert event.first_tag("e") == "x"
    assert event.first_tag("p") is None
    assert event.d_tag == "slug"
    assert signed().d_tag == ""


# -- serialization of awkward text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("\b", b"\\b"),
        ("\t", b"\\t"),
        ("\n", b"\\n"),
        ("\f", b"\\f"),
        ("\r", b"\\r"),
        ("\x00", b"\\u0000"),
        ("\x0b", b"\\u000b"),
        ("\x1f", b"\\u001f"),
        ('"', b'\\"'),
        ("\\", b"\\\\"),
        ("/", b"/"),
        ("\x7f", b"\x7f"),
        ("\u2028", "\u2028".encode()),
        ("\u2029", "\u2029".encode()),
        ("\ufeff", "\ufeff".encode()),
        ("\U0001f600", "\U0001f600".encode()),
        ("é", "é".encode()),
    ],
    ids=[
        "backspace",
        "tab",
        "newline",
        "formfeed",
        "return",
        "nul",
        "vtab",
        "unit-sep",
        "quote",
        "backslash",
        "slash",
        "del",
        "line-sep",
        "para-sep",
        "bom",
        "emoji",
        "latin",
    ],
)
def test_serialization_escapes_like_json_stringify(char: str, escaped: bytes) -> None:
    serialized = serialize_for_id(PUBKEY, 1, 1, [[char]], char)
    assert (
        serialized
        == b'[0,"' + PUBKEY.encode() + b'",1,1,[["' + escaped + b'"]],"' + escaped + b'"]'
    )


def test_every_control_character_matches_oracle() -> None:
    tags = [["x", TRICKY]]
    assert serialize_for_id(PUBKEY, 5, 7, tags, TRICKY) == expected_serialization(
        PUBKEY, 5, 7, tags, TRICKY
    )


@PROPERTY
@given(content=st.text(), tags=st.lists(st.lists(st.text(max_size=8), max_size=3), max_size=3))
def test_serialization_matches_json_stringify_oracle(content: str, tags: list[list[str]]) -> None:
    assert serialize_for_id(PUBKEY, 42, 1, tags, content) == expected_serialization(
        PUBKEY, 42, 1, tags, content
    )


@pytest.mark.parametrize(
    ("content", "tags"),
    [("\ud800", []), ("ok\udfff", []), ("ok", [["t", "\ud83d"]])],
    ids=["high-content", "low-content", "high-tag"],
)
def test_lone_surrogates_are_rejected(content: str, tags: list[list[str]]) -> None:
    with pytest.raises(Rejected) as info:
        compute_id(PUBKEY, 1, 1, tags, content)
    assert info.value.reason is Reason.INVALID
    raw = valid_dict() | {"content": content, "tags": tags}
    with pytest.raises(Rejected) as info:
        verify_event(parse_event(raw))
    assert info.value.reason is Reason.INVALID


@pytest.mark.parametrize(
    "text",
    [b'"\\ud800"', b'"\\udc00"', b'"a\\ud83db"'],
    ids=["high", "low", "high-then-char"],
)
def test_lone_surrogate_escape_in_json_is_rejected(text: bytes) -> None:
    data = orjson.dumps(valid_dict()).replace(b'"hello"', text)
    with pytest.raises(Rejected) as info:
        decode_event(data)
    assert info.value.reason is Reason.INVALID


def test_paired_surrogate_escape_decodes_to_emoji() -> None:
    event = signed(content="\U0001f600")
    data = event.to_json().replace("\U0001f600".encode(), b"\\ud83d\\ude00")
    assert decode_event(data) == event


# -- malformed shapes ----------------------------------------------------------------------------

MALFORMED: dict[str, Any] = {
    "missing-id": {"id": None},
    "missing-pubkey": {"pubkey": None},
    "missing-sig": {"sig": None},
    "missing-content": {"content": None},
    "missing-created-at": {"created_at": None},
    "missing-kind": {"kind": None},
    "missing-tags": {"tags": None},
    "uppercase-id": {"id": "A" * 64},
    "uppercase-pubkey": {"pubkey": PUBKEY.upper()},
    "uppercase-sig": {"sig": "AB" * 64},
    "short-id": {"id": "a" * 63},
    "long-id": {"id": "a" * 65},
    "non-hex-id": {"id": "g" * 64},
    "int-id": {"id": 5},
    "short-sig": {"sig": "a" * 127},
    "short-pubkey": {"pubkey": "a" * 62},
    "bool-created-at": {"created_at": True},
    "string-created-at": {"created_at": "1700000000"},
    "float-created-at": {"created_at": 1.5},
    "negative-created-at": {"created_at": -1},
    "huge-created-at": {"created_at": MAX_TIMESTAMP + 1},
    "kind-too-big": {"kind": 65536},
    "negative-kind": {"kind": -1},
    "bool-kind": {"kind": False},
    "float-kind": {"kind": 1.0},
    "tags-string": {"tags": "t"},
    "tags-object": {"tags": {"t": "x"}},
    "tag-not-list": {"tags": ["t"]},
    "tag-with-int": {"tags": [["t", 1]]},
    "tag-with-null": {"tags": [[None]]},
    "tag-nested": {"tags": [[["t"]]]},
    "content-int": {"content": 1},
    "content-list": {"content": ["x"]},
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_event_is_rejected_invalid(change: dict[str, Any]) -> None:
    raw = valid_dict()
    for key, value in change.items():
        if value is None:
            del raw[key]
        else:
            raw[key] = value
    with pytest.raises(Rejected) as info:
        parse_event(raw)
    assert info.value.reason is Reason.INVALID
    with pytest.raises(Rejected) as info:
        decode_event(orjson.dumps(raw))
    assert info.value.reason is Reason.INVALID


@pytest.mark.parametrize(
    "raw",
    [[], "event", None, 1, [valid_dict()]],
    ids=["list", "string", "null", "int", "wrapped"],
)
def test_non_object_is_rejected_invalid(raw: object) -> None:
    with pytest.raises(Rejected) as info:
        parse_event(raw)
    assert info.value.reason is Reason.INVALID


@pytest.mark.parametrize("data", [b"", b"{", b"nul", b"\xff\xfe", "{'id': 1}"])
def test_malformed_json_is_rejected_invalid(data: bytes | str) -> None:
    with pytest.raises(Rejected) as info:
        decode_event(data)
    assert info.value.reason is Reason.INVALID


def test_boundary_values_parse() -> None:
    raw = valid_dict() | {"kind": 65535, "created_at": MAX_TIMESTAMP, "tags": [[], ["x"]]}
    event = parse_event(raw)
    assert (event.kind, event.created_at, event.tags) == (65535, MAX_TIMESTAMP, ((), ("x",)))


def test_unknown_fields_are_ignored() -> None:
    event = signed()
    assert decode_event(orjson.dumps(event.to_dict() | {"extra": [1, 2]})) == event


# -- tampering -----------------------------------------------------------------------------------


def _flip_hex(text: str, position: int) -> str:
    replacement = "1" if text[position] == "0" else "0"
    return text[:position] + replacement + text[position + 1 :]


TAMPER: dict[str, Any] = {
    "content": lambda e: {"content": e.content + "!"},
    "tags": lambda e: {"tags": [["t", "other"]]},
    "created-at": lambda e: {"created_at": e.created_at + 1},
    "kind": lambda e: {"kind": 7},
    "id": lambda e: {"id": _flip_hex(e.id, 10)},
    "sig-r": lambda e: {"sig": _flip_hex(e.sig, 3)},
    "sig-s": lambda e: {"sig": _flip_hex(e.sig, 100)},
    "pubkey": lambda e: {"pubkey": signed_other().pubkey},
}


def signed_other() -> Event:
    return sign_event(b"\x01" * 32, kind=1, content="x", created_at=1, aux_rand=AUX)


@pytest.mark.parametrize("tamper", TAMPER.values(), ids=TAMPER.keys())
def test_tampered_event_fails_verification(tamper: Any) -> None:
    event = signed()
    raw = event.to_dict() | tamper(event)
    parsed = parse_event(raw)
    with pytest.raises(Rejected) as info:
        verify_event(parsed)
    assert info.value.reason is Reason.INVALID
    with pytest.raises(Rejected):
        decode_event(orjson.dumps(raw))


def test_id_recomputed_but_signature_stale_is_bad_signature() -> None:
    event = signed()
    new_id = compute_id(event.pubkey, event.created_at, event.kind, event.tags, "changed")
    raw = event.to_dict() | {"content": "changed", "id": new_id}
    with pytest.raises(Rejected, match="bad signature"):
        verify_event(parse_event(raw))


# -- properties ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
hex_like = st.text(alphabet="0123456789abcdefA", min_size=62, max_size=130)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "id": hex_like | json_values,
        "pubkey": hex_like | json_values,
        "sig": hex_like | json_values,
        "created_at": st.integers(min_value=-5, max_value=2**60) | json_values,
        "kind": st.integers(min_value=-5, max_value=70000) | json_values,
        "tags": st.lists(st.lists(st.text(max_size=5) | json_values, max_size=3)) | json_values,
        "content": st.text() | json_values,
    },
)


@PROPERTY
@given(raw=json_values | event_like)
def test_parse_event_raises_only_rejected(raw: object) -> None:
    try:
        event = parse_event(raw)
    except Rejected as rejected:
        assert rejected.reason is Reason.INVALID
        return
    assert isinstance(event, Event)


@PROPERTY
@given(data=st.binary(max_size=300))
def test_decode_event_of_junk_bytes_raises_only_rejected(data: bytes) -> None:
    with pytest.raises(Rejected):
        decode_event(data)


@PROPERTY
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_decode_event_of_corrupted_event_raises_only_rejected(position: int, value: int) -> None:
    data = bytearray(signed().to_json())
    position %= len(data)
    if data[position] == value:
        return
    data[position] = value
    try:
        decode_event(bytes(data))
    except Rejected as rejected:
        assert rejected.reason is Reason.INVALID


@PROPERTY
@given(
    content=st.text(),
    tags=st.lists(st.lists(st.text(max_size=12), max_size=4), max_size=4),
    kind=st.integers(min_value=0, max_value=65535),
    created_at=st.integers(min_value=0, max_value=MAX_TIMESTAMP),
)
def test_sign_to_json_decode_round_trip(
    content: str, tags: list[list[str]], kind: int, created_at: int
) -> None:
    event = sign_event(
        SECRET, kind=kind, content=content, created_at=created_at, aux_rand=AUX, tags=tags
    )
    assert decode_event(event.to_json()) == event
    assert decode_event(event.to_json().decode()) == event
