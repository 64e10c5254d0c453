"""Franked group payloads: they round-trip, an honest message passes a member's checks and yields
that member's audience proof, and everything else raises FrankingError (never another exception).
The same checks inside a real group are in test_group_chat.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.keys import RandomBytes, SecretKey
from koinon.messaging.audience import make_audience
from koinon.messaging.franked_dm import FrankingError, UntrustedNode
from koinon.messaging.franked_group import FrankedGroupMessage, check_group_message
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, group_message

NODE = CAROL
TRUSTED = {NODE.public_key}


def _sent(random_bytes: RandomBytes, node: SecretKey = NODE) -> FrankedGroupMessage:
    return group_message("to the group ✓", [BOB.public_key, MALLORY.public_key], random_bytes, node)


def test_round_trip_and_an_honest_message_passes(random_bytes: RandomBytes) -> None:
    message = _sent(random_bytes)
    decoded = FrankedGroupMessage.decode(message.encode())
    assert decoded == message and decoded.text == "to the group ✓"
    assert sorted(json.loads(message.encode())) == ["audience", "franked", "stamp", "v"]
    proof = check_group_message(decoded, ALICE.public_key, BOB.public_key, TRUSTED)
    assert proof.digest_for(BOB.public_key) == message.stamp.recipient
    # The stamp's recipient is the digest: neither a member's key nor anything linkable.
    assert message.stamp.recipient not in (BOB.public_key, MALLORY.public_key)


def test_a_member_drops_what_does_not_check(random_bytes: RandomBytes) -> None:
    message = _sent(random_bytes)
    shown = dataclasses.replace(message.plaintext, message=b"changed")
    with pytest.raises(FrankingError, match="does not open"):
        check_group_message(
            dataclasses.replace(message, plaintext=shown), ALICE.public_key, BOB.public_key, TRUSTED
        )
    with pytest.raises(FrankingError, match="another sender"):
        check_group_message(message, MALLORY.public_key, BOB.public_key, TRUSTED)
    with pytest.raises(FrankingError, match="does not include you"):
        check_group_message(message, ALICE.public_key, CAROL.public_key, TRUSTED)
    regrouped = dataclasses.replace(message, audience=make_audience([BOB.public_key], random_bytes))
    with pytest.raises(FrankingError, match="another recipient"):
        check_group_message(regrouped, ALICE.public_key, BOB.public_key, TRUSTED)
    with pytest.raises(UntrustedNode, match="add --trust-node"):
        check_group_message(_sent(random_bytes, MALLORY), ALICE.public_key, BOB.public_key, TRUSTED)


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b'{"v":1,"text":"old"}', "not franked"),
        (b'{"v":3}', "unknown group message payload version 3"),
        (b"[]", "not a franked group message payload"),
        (b'{"v":2}', "opening is missing"),
    ],
    ids=["v1", "unknown-version", "not-an-object", "empty"],
)
def test_malformed_payloads_are_franking_errors(payload: bytes, needle: str) -> None:
    with pytest.raises(FrankingError, match=needle):
        FrankedGroupMessage.decode(payload)


def test_a_missing_or_broken_audience_is_a_franking_error(random_bytes: RandomBytes) -> None:
    raw = json.loads(_sent(random_bytes).encode())
    broken = {
        "missing": {k: v for k, v in raw.items() if k != "audience"},
        "not-base64": dict(raw, audience="!!"),
        "ragged": dict(raw, audience=base64.b64encode(bytes(33)).decode()),
    }
    for payload in broken.values():
        with pytest.raises(FrankingError, match="audience"):
            FrankedGroupMessage.decode(json.dumps(payload).encode())


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    st.binary(max_size=300)
    | st.dictionaries(
        st.sampled_from(["v", "franked", "stamp", "audience"]),
        st.integers(0, 3) | st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode()),
    ).map(lambda d: json.dumps(d).encode())
)
def test_junk_raises_only_franking_error(data: bytes) -> None:
    with pytest.raises(FrankingError):
        FrankedGroupMessage.decode(data)
