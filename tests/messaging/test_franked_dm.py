"""Franked direct messages: the payload round-trips, honest messages pass the recipient's checks,
and every altered, misaddressed, unstamped or foreign-stamped message is refused with FrankingError
(never another exception). Also: franked payloads through real ratchet sessions, where a dropped
message leaves the session in step.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.keys import RandomBytes, SecretKey
from koinon.messaging import dm, franking
from koinon.messaging.franked_dm import (
    FrankedMessage,
    FrankingError,
    UntrustedNode,
    check_received,
    frank,
)
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, NOW, node_stamp

NODE = CAROL
TRUSTED = {NODE.public_key}


def _stamped(
    random_bytes: RandomBytes,
    text: str = "hello Bob",
    recipient: str = BOB.public_key,
    node: SecretKey = NODE,
    copy_to: str | None = None,
) -> FrankedMessage:
    plaintext = frank(text, random_bytes)
    commitment = franking.commitment_of(plaintext)
    stamp = node_stamp(node, commitment, ALICE.public_key, recipient, random_bytes)
    return FrankedMessage(plaintext, stamp, copy_to)


def test_payload_round_trips_and_honest_messages_pass(random_bytes: RandomBytes) -> None:
    message = _stamped(random_bytes, "héllo 👋")
    decoded = FrankedMessage.decode(message.encode())
    assert decoded == message and decoded.text == "héllo 👋"
    assert json.loads(message.encode())["v"] == 2
    assert check_received(decoded, ALICE.public_key, BOB.public_key, TRUSTED) == ALICE.public_key
    copy = _stamped(random_bytes, copy_to=BOB.public_key)
    assert FrankedMessage.decode(copy.encode()) == copy
    # Alice's other device gets the copy: the conversation is with Bob.
    assert check_received(copy, ALICE.public_key, ALICE.public_key, TRUSTED) == BOB.public_key


def test_fresh_franking_key_per_message(random_bytes: RandomBytes) -> None:
    first, second = frank("same", random_bytes), frank("same", random_bytes)
    assert first.franking_key != second.franking_key
    assert franking.commitment_of(first) != franking.commitment_of(second)


def _altered_text(m: FrankedMessage) -> FrankedMessage:
    plaintext = dataclasses.replace(m.plaintext, message=b"something else")
    return dataclasses.replace(m, plaintext=plaintext)


def _other_key(m: FrankedMessage) -> FrankedMessage:
    plaintext = dataclasses.replace(m.plaintext, franking_key=bytes(32))
    return dataclasses.replace(m, plaintext=plaintext)


def _forged_tag(m: FrankedMessage) -> FrankedMessage:
    stamp = dataclasses.replace(m.stamp, tag=bytes(32))
    return dataclasses.replace(m, stamp=stamp)


@pytest.mark.parametrize(
    ("alter", "sender", "me", "needle"),
    [
        (_altered_text, ALICE.public_key, BOB.public_key, "does not open"),
        (_other_key, ALICE.public_key, BOB.public_key, "does not open"),
        (lambda m: m, MALLORY.public_key, BOB.public_key, "another sender"),
        (lambda m: m, ALICE.public_key, MALLORY.public_key, "another recipient"),
        (_forged_tag, ALICE.public_key, BOB.public_key, "signature"),
        (
            lambda m: dataclasses.replace(m, copy_to=BOB.public_key),
            ALICE.public_key,
            BOB.public_key,
            "own devices",
        ),
        (lambda m: m, ALICE.public_key, ALICE.public_key, "not a copy"),
    ],
    ids=[
        "altered-text",
        "other-franking-key",
        "seal-from-someone-else",
        "not-for-me",
        "forged-tag",
        "copy-from-a-peer",
        "own-key-not-a-copy",
    ],
)
def test_recipient_drops_what_does_not_check(
    random_bytes: RandomBytes, alter: object, sender: str, me: str, needle: str
) -> None:
    message = alter(_stamped(random_bytes))  # type: ignore[operator]
    with pytest.raises(FrankingError, match=needle):
        check_received(message, sender, me, TRUSTED)


def test_stamps_by_untrusted_nodes_are_dropped(random_bytes: RandomBytes) -> None:
    message = _stamped(random_bytes, node=MALLORY)  # a "node" key the sender made up
    with pytest.raises(UntrustedNode) as caught:
        check_received(message, ALICE.public_key, BOB.public_key, TRUSTED)
    assert caught.value.node == MALLORY.public_key
    assert check_received(message, ALICE.public_key, BOB.public_key, {MALLORY.public_key})


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b'{"v":1,"text":"old"}', "not franked"),
        (b'{"v":3}', "unknown message version 3"),
        (b"\xff\xfe", "not a franked message"),
        (b"[]", "not a franked message"),
        (b'{"v":2}', "opening is missing"),
        (b'{"v":2,"franked":"!!","stamp":"AA=="}', "not base64"),
        (b'{"v":2,"franked":"AAAA","stamp":"AAAA"}', "not a franked plaintext"),
    ],
    ids=["v1", "unknown-version", "not-utf8", "not-an-object", "empty", "bad-base64", "junk"],
)
def test_malformed_payloads_are_franking_errors(payload: bytes, needle: str) -> None:
    with pytest.raises(FrankingError, match=needle):
        FrankedMessage.decode(payload)


def test_truncated_payloads_are_franking_errors(random_bytes: RandomBytes) -> None:
    encoded = _stamped(random_bytes).encode()
    raw = json.loads(encoded)
    for field in ("franked", "stamp"):
        cut = dict(raw, **{field: raw[field][:-8]})
        with pytest.raises(FrankingError):
            FrankedMessage.decode(json.dumps(cut).encode())
    for end in range(0, len(encoded), 7):
        with pytest.raises(FrankingError):
            FrankedMessage.decode(encoded[:end])


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_junk_raises_only_franking_error(data: bytes) -> None:
    with pytest.raises(FrankingError):
        FrankedMessage.decode(data)


def test_a_dropped_message_leaves_the_session_in_step(random_bytes: RandomBytes) -> None:
    """Alice's device sends Bob a message that does not open, then an honest one: Bob's device
    drops the first after decrypting it and reads the second in the same session."""
    rand = random.Random(5).randbytes
    alice_device = dm.LocalDevice.generate("alice-phone", 2, rand)
    bob_device = dm.LocalDevice.generate("bob-phone", 2, rand)
    alice_sessions, bob_sessions = dm.DeviceSessions(rand), dm.DeviceSessions(rand)
    bob_bundle = bob_device.bundle(BOB.raw, rand)
    identity = alice_device.identity(ALICE.raw)

    def deliver(message: FrankedMessage) -> FrankedMessage:
        content = dm.encrypt_bytes_for(
            alice_sessions, identity, "bob-phone", bob_bundle, message.encode(), rand
        )
        rumor = dm.session_rumor(
            ALICE.public_key, BOB.public_key, "bob-phone", "alice-phone", content, NOW
        )
        plaintext = dm.decrypt_bytes_from(
            bob_sessions, bob_device, BOB.raw, ALICE.public_key, rumor, rand
        )
        return FrankedMessage.decode(plaintext)

    bad = deliver(_altered_text(_stamped(random_bytes)))
    with pytest.raises(FrankingError):
        check_received(bad, ALICE.public_key, BOB.public_key, TRUSTED)
    for text in ("honest one", "honest two"):
        good = deliver(_stamped(random_bytes, text))
        assert check_received(good, ALICE.public_key, BOB.public_key, TRUSTED)
        assert good.text == text
