"""NIP-59 gift wraps: what relays can and cannot see, and what unwrapping refuses."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.event import Event, parse_event, sign_event
from koinon.core.keys import RandomBytes, SecretKey
from koinon.errors import Reason, Rejected
from koinon.messaging import nip44
from koinon.messaging.giftwrap import (
    GIFT_WRAP_KIND,
    SEAL_KIND,
    TIMESTAMP_WINDOW,
    Rumor,
    gift_wrap,
    make_rumor,
    parse_rumor,
    random_timestamp,
    seal,
    unwrap,
    wrap_rumor,
)
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, NOW

EXAMPLES = json.loads((Path(__file__).parent / "nip17_examples.json").read_text("utf-8"))


def _rumor(author: SecretKey = ALICE, content: str = "hello bob") -> Rumor:
    return make_rumor(
        author.public_key, kind=14, content=content, created_at=NOW, tags=[("p", BOB.public_key)]
    )


def _rejected(call: Callable[..., object], *args: object, match: str | None = None) -> Rejected:
    with pytest.raises(Rejected, match=match) as info:
        call(*args)
    assert info.value.reason is Reason.INVALID
    return info.value


def test_round_trip(random_bytes: RandomBytes) -> None:
    rumor = _rumor()
    wrap = wrap_rumor(rumor, ALICE.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
    opened = unwrap(wrap, BOB.raw)
    assert opened.sender == ALICE.public_key
    assert opened.rumor == rumor


def test_wrap_hides_sender_kind_and_time(random_bytes: RandomBytes) -> None:
    rumor = _rumor()
    wraps = [
        wrap_rumor(rumor, ALICE.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
        for _ in range(50)
    ]
    for wrap in wraps:
        assert wrap.kind == GIFT_WRAP_KIND
        assert wrap.pubkey != ALICE.public_key
        assert wrap.tags == (("p", BOB.public_key),)
        assert NOW - TIMESTAMP_WINDOW <= wrap.created_at <= NOW
        assert ALICE.public_key not in wrap.to_json().decode()
        assert "hello" not in wrap.to_json().decode()
    assert len({w.pubkey for w in wraps}) == len(wraps)  # a fresh key every time
    assert len({w.created_at for w in wraps}) > 40  # spread over the window, not `now`


def test_seal_is_signed_by_sender_with_no_tags(random_bytes: RandomBytes) -> None:
    sealed = seal(_rumor(), ALICE.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
    assert sealed.kind == SEAL_KIND
    assert sealed.pubkey == ALICE.public_key
    assert sealed.tags == ()
    assert NOW - TIMESTAMP_WINDOW <= sealed.created_at <= NOW
    assert "hello" not in sealed.content


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(seed=st.binary(min_size=8, max_size=64), now=st.integers(0, 2**40))
def test_random_timestamp_stays_in_window(seed: bytes, now: int) -> None:
    stream = iter(seed * 64)

    def draw(n: int) -> bytes:
        return bytes(next(stream) for _ in range(n))

    value = random_timestamp(now, draw)
    assert max(0, now - TIMESTAMP_WINDOW) <= value <= now


def test_third_party_cannot_unwrap(random_bytes: RandomBytes) -> None:
    wrap = wrap_rumor(_rumor(), ALICE.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
    _rejected(unwrap, wrap, CAROL.raw, match="invalid MAC")


def test_impersonation_is_rejected(random_bytes: RandomBytes) -> None:
    # Mallory seals a rumor that claims Alice wrote it.
    forged = _rumor(author=ALICE, content="send mallory money")
    conv = nip44.conversation_key(MALLORY.raw, BOB.public_key)
    sealed = sign_event(
        MALLORY.raw,
        kind=SEAL_KIND,
        content=nip44.encrypt(forged.to_json(), conv, random_bytes(32)),
        created_at=NOW,
        aux_rand=random_bytes(32),
    )
    wrap = gift_wrap(sealed, BOB.public_key, now=NOW, random_bytes=random_bytes)
    _rejected(unwrap, wrap, BOB.raw, match="impersonation")


def test_seal_refuses_someone_elses_rumor(random_bytes: RandomBytes) -> None:
    _rejected(
        lambda: seal(_rumor(), MALLORY.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
    )


def _wrap_seal_dict(seal_obj: dict[str, object], random_bytes: RandomBytes) -> Event:
    """Gift-wrap arbitrary seal JSON, bypassing `seal`'s checks."""
    one_time = SecretKey.generate(random_bytes)
    conv = nip44.conversation_key(one_time.raw, BOB.public_key)
    content = nip44.encrypt(orjson.dumps(seal_obj).decode(), conv, random_bytes(32))
    return sign_event(
        one_time.raw,
        kind=GIFT_WRAP_KIND,
        content=content,
        created_at=NOW,
        aux_rand=random_bytes(32),
        tags=[("p", BOB.public_key)],
    )


def test_bad_seal_signature_is_rejected(random_bytes: RandomBytes) -> None:
    sealed = seal(_rumor(), ALICE.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
    tampered = dict(sealed.to_dict(), sig="00" * 64)
    _rejected(unwrap, _wrap_seal_dict(tampered, random_bytes), BOB.raw, match="bad signature")


def test_seal_of_wrong_kind_is_rejected(random_bytes: RandomBytes) -> None:
    note = sign_event(ALICE.raw, kind=1, content="x", created_at=NOW, aux_rand=bytes(32))
    _rejected(unwrap, _wrap_seal_dict(note.to_dict(), random_bytes), BOB.raw, match="seal must")


def test_rumor_with_wrong_id_is_rejected(random_bytes: RandomBytes) -> None:
    rumor = _rumor()
    bad = dataclasses.replace(rumor, content="edited after hashing")
    sealed = seal(bad, ALICE.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
    wrap = gift_wrap(sealed, BOB.public_key, now=NOW, random_bytes=random_bytes)
    _rejected(unwrap, wrap, BOB.raw, match="rumor id")


def test_bad_wrap_signature_and_kind_are_rejected(random_bytes: RandomBytes) -> None:
    wrap = wrap_rumor(_rumor(), ALICE.raw, BOB.public_key, now=NOW, random_bytes=random_bytes)
    _rejected(unwrap, dataclasses.replace(wrap, sig="00" * 64), BOB.raw, match="bad signature")
    _rejected(unwrap, dataclasses.replace(wrap, kind=1), BOB.raw, match="kind 1059")
    _rejected(unwrap, dataclasses.replace(wrap, created_at=1), BOB.raw, match="id does not match")


def test_wrap_content_that_is_not_json_is_rejected(random_bytes: RandomBytes) -> None:
    one_time = SecretKey.generate(random_bytes)
    conv = nip44.conversation_key(one_time.raw, BOB.public_key)
    for text in ("not json", "[1, 2]", '{"kind": 13}'):
        wrap = sign_event(
            one_time.raw,
            kind=GIFT_WRAP_KIND,
            content=nip44.encrypt(text, conv, random_bytes(32)),
            created_at=NOW,
            aux_rand=random_bytes(32),
        )
        _rejected(unwrap, wrap, BOB.raw)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"id": "x"},
        {
            "id": "0" * 64,
            "pubkey": "0" * 64,
            "created_at": -1,
            "kind": 14,
            "tags": [],
            "content": "",
        },
        {
            "id": "0" * 64,
            "pubkey": "0" * 64,
            "created_at": 1,
            "kind": 1e3,
            "tags": [],
            "content": "",
        },
        {
            "id": "0" * 64,
            "pubkey": "0" * 64,
            "created_at": 1,
            "kind": 14,
            "tags": [[1]],
            "content": "",
        },
        {"id": "0" * 64, "pubkey": "0" * 64, "created_at": 1, "kind": 14, "tags": [], "content": 5},
        {
            "id": "0" * 64,
            "pubkey": "0" * 64,
            "created_at": 1,
            "kind": 14,
            "tags": [],
            "content": "",
        },
    ],
    ids=[
        "null",
        "array",
        "short-id",
        "negative-time",
        "float-kind",
        "bad-tag",
        "bad-content",
        "bad-id",
    ],
)
def test_parse_rumor_rejects(raw: object) -> None:
    _rejected(parse_rumor, raw)


def test_rumor_json_round_trips() -> None:
    rumor = _rumor(content='quote " and \u2028 and \U0001f600')
    assert parse_rumor(orjson.loads(rumor.to_json())) == rumor


@pytest.mark.parametrize("index", [0, 1], ids=["to-receiver", "to-sender"])
def test_nip17_published_example_unwraps(index: int) -> None:
    example = EXAMPLES["wraps"][index]
    secret = SecretKey.parse(EXAMPLES[f"{example['to']}_nsec"])
    sender = SecretKey.parse(EXAMPLES["sender_nsec"]).public_key
    opened = unwrap(parse_event(example["event"]), secret.raw)
    assert opened.sender == sender
    assert opened.rumor.kind == 14
    assert opened.rumor.content == EXAMPLES["content"]
    receiver = SecretKey.parse(EXAMPLES["receiver_nsec"]).public_key
    assert opened.rumor.tag_values("p") == [receiver]
