"""Message franking: honest reports pass, every forged or altered part of a report fails."""

from __future__ import annotations

import dataclasses
import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.keys import RandomBytes
from koinon.errors import Reason, Rejected
from koinon.messaging import franking
from koinon.messaging.franking import (
    AbuseReport,
    FrankedPlaintext,
    FrankingStamp,
    ReportProblem,
    commit,
    make_report,
    open_commitment,
    sign_stamp,
    verify_report,
    verify_stamp,
)
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, NOW

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)
NODE = CAROL  # Alice's node signs with its own Nostr key
NODE_HMAC_KEY = bytes(range(32))
MESSAGE = b"meet me at the usual place"
ATTACHMENT = hashlib.sha256(b"photo bytes").digest()


@dataclasses.dataclass(frozen=True)
class Sent:
    plaintext: FrankedPlaintext
    commitment: bytes
    stamp: FrankingStamp


def _send(random_bytes: RandomBytes, message: bytes = MESSAGE) -> Sent:
    """Alice commits, her node stamps, Bob decrypts the envelope (here: a plain decode)."""
    key, commitment = commit(message, [ATTACHMENT], random_bytes)
    envelope = FrankedPlaintext(message, key, (ATTACHMENT,)).encode()
    stamp = sign_stamp(
        NODE.raw,
        NODE_HMAC_KEY,
        commitment,
        ALICE.public_key,
        BOB.public_key,
        NOW,
        random_bytes(32),
    )
    received = FrankedPlaintext.decode(envelope)
    assert open_commitment(received, commitment)
    return Sent(received, commitment, stamp)


def _verdict(report: AbuseReport) -> ReportProblem | None:
    return verify_report(report, node_pubkey=NODE.public_key).problem


def test_honest_report_is_accepted(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    report = make_report(sent.plaintext, sent.commitment, sent.stamp, BOB.public_key)
    verdict = verify_report(report, node_pubkey=NODE.public_key)
    assert verdict.accepted
    assert (verdict.sender, verdict.recipient, verdict.timestamp) == (
        ALICE.public_key,
        BOB.public_key,
        NOW,
    )
    assert verdict.message == MESSAGE
    assert verdict.attachments == (ATTACHMENT,)


def test_issuing_node_checks_with_its_hmac_key_alone(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    report = make_report(sent.plaintext, sent.commitment, sent.stamp, BOB.public_key)
    assert verify_report(report, node_hmac_key=NODE_HMAC_KEY).accepted
    assert not verify_report(report, node_hmac_key=bytes(32)).accepted
    both = verify_report(report, node_pubkey=NODE.public_key, node_hmac_key=NODE_HMAC_KEY)
    assert both.accepted


def test_altered_message_is_rejected(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    forged = dataclasses.replace(sent.plaintext, message=b"something Alice never said")
    report = make_report(forged, sent.commitment, sent.stamp, BOB.public_key)
    assert _verdict(report) is ReportProblem.COMMITMENT_DOES_NOT_OPEN


def test_altered_attachment_hash_is_rejected(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    other = hashlib.sha256(b"another photo").digest()
    forged = dataclasses.replace(sent.plaintext, attachments=(other,))
    report = make_report(forged, sent.commitment, sent.stamp, BOB.public_key)
    assert _verdict(report) is ReportProblem.COMMITMENT_DOES_NOT_OPEN
    dropped = dataclasses.replace(sent.plaintext, attachments=())
    report = make_report(dropped, sent.commitment, sent.stamp, BOB.public_key)
    assert _verdict(report) is ReportProblem.COMMITMENT_DOES_NOT_OPEN


def test_altered_sender_is_rejected(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    framed = dataclasses.replace(sent.stamp, sender=MALLORY.public_key)
    report = make_report(sent.plaintext, sent.commitment, framed, BOB.public_key)
    assert _verdict(report) is ReportProblem.STAMP_NOT_NODES
    assert not verify_report(report, node_hmac_key=NODE_HMAC_KEY).accepted


def test_reporter_who_is_not_the_recipient_is_rejected(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    report = make_report(sent.plaintext, sent.commitment, sent.stamp, MALLORY.public_key)
    assert _verdict(report) is ReportProblem.REPORTER_NOT_RECIPIENT
    # Rewriting the stamp's recipient to match the reporter breaks the node's signature.
    rewritten = dataclasses.replace(sent.stamp, recipient=MALLORY.public_key)
    report = make_report(sent.plaintext, sent.commitment, rewritten, MALLORY.public_key)
    assert _verdict(report) is ReportProblem.STAMP_NOT_NODES


def test_stamp_forged_with_another_key_is_rejected(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    forged = sign_stamp(
        MALLORY.raw,
        b"m" * 32,
        sent.commitment,
        ALICE.public_key,
        BOB.public_key,
        NOW,
        random_bytes(32),
    )
    report = make_report(sent.plaintext, sent.commitment, forged, BOB.public_key)
    assert _verdict(report) is ReportProblem.STAMP_NOT_NODES
    # Claiming to be the node while signing with another key fails too.
    claimed = dataclasses.replace(forged, node_pubkey=NODE.public_key)
    report = make_report(sent.plaintext, sent.commitment, claimed, BOB.public_key)
    assert _verdict(report) is ReportProblem.STAMP_NOT_NODES


def test_stamp_for_another_commitment_is_rejected(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    other = _send(random_bytes, b"an innocent message")
    # Bob pairs the revealed innocent-looking opening with the stamp of a different message.
    report = make_report(sent.plaintext, sent.commitment, other.stamp, BOB.public_key)
    assert _verdict(report) is ReportProblem.STAMP_FOR_OTHER_COMMITMENT
    # Or claims the other commitment is this one's.
    report = make_report(sent.plaintext, other.commitment, other.stamp, BOB.public_key)
    assert _verdict(report) is ReportProblem.COMMITMENT_DOES_NOT_OPEN


def test_replayed_stamp_with_another_timestamp_is_rejected(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    replayed = dataclasses.replace(sent.stamp, timestamp=NOW - 86_400)
    report = make_report(sent.plaintext, sent.commitment, replayed, BOB.public_key)
    assert _verdict(report) is ReportProblem.STAMP_NOT_NODES
    assert not verify_report(report, node_hmac_key=NODE_HMAC_KEY).accepted


def test_genuine_stamp_for_other_facts_only_proves_those_facts(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    later = sign_stamp(
        NODE.raw,
        NODE_HMAC_KEY,
        sent.commitment,
        ALICE.public_key,
        BOB.public_key,
        NOW + 60,
        random_bytes(32),
    )
    report = make_report(sent.plaintext, sent.commitment, later, BOB.public_key)
    assert verify_report(report, node_pubkey=NODE.public_key).timestamp == NOW + 60
    assert later.signature != sent.stamp.signature


def test_verify_stamp_needs_a_key(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    with pytest.raises(Rejected) as caught:
        verify_stamp(sent.stamp)
    assert caught.value.reason is Reason.INVALID
    assert verify_stamp(sent.stamp, node_pubkey=NODE.public_key)
    assert not verify_stamp(sent.stamp, node_pubkey=MALLORY.public_key)


def test_stamp_tag_is_deterministic_and_domain_separated() -> None:
    commitment = bytes(32)
    tag = franking.stamp(NODE_HMAC_KEY, commitment, ALICE.public_key, BOB.public_key, NOW)
    assert tag == franking.stamp(NODE_HMAC_KEY, commitment, ALICE.public_key, BOB.public_key, NOW)
    swapped = franking.stamp(NODE_HMAC_KEY, commitment, BOB.public_key, ALICE.public_key, NOW)
    assert tag != swapped


@pytest.mark.parametrize(
    ("args", "what"),
    [
        ((b"k" * 31, bytes(32), ALICE.public_key, BOB.public_key, NOW), "short node key"),
        ((NODE_HMAC_KEY, bytes(31), ALICE.public_key, BOB.public_key, NOW), "short commitment"),
        ((NODE_HMAC_KEY, bytes(32), "npub1x", BOB.public_key, NOW), "bad sender"),
        ((NODE_HMAC_KEY, bytes(32), ALICE.public_key, BOB.public_key.upper(), NOW), "bad rcpt"),
        ((NODE_HMAC_KEY, bytes(32), ALICE.public_key, BOB.public_key, -1), "negative time"),
        ((NODE_HMAC_KEY, bytes(32), ALICE.public_key, BOB.public_key, True), "bool time"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_stamp_rejects_bad_input(args: tuple[object, ...], what: str) -> None:
    with pytest.raises(Rejected) as caught:
        franking.stamp(*args)  # type: ignore[arg-type]
    assert caught.value.reason is Reason.INVALID


@pytest.mark.parametrize(
    "kwargs",
    [
        {"franking_key": bytes(31)},
        {"attachments": (bytes(31),)},
        {"attachments": (bytes(32),) * (franking.MAX_ATTACHMENTS + 1)},
        {"message": "text, not bytes"},
    ],
    ids=["short-key", "short-attachment-hash", "too-many-attachments", "str-message"],
)
def test_plaintext_rejects_bad_fields(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"message": MESSAGE, "franking_key": bytes(32), "attachments": ()}
    fields.update(kwargs)
    with pytest.raises(Rejected):
        FrankedPlaintext(**fields)  # type: ignore[arg-type]


def test_stamp_round_trips_through_its_encoding(random_bytes: RandomBytes) -> None:
    sent = _send(random_bytes)
    assert FrankingStamp.decode(sent.stamp.encode()) == sent.stamp


def test_open_commitment_refuses_wrong_length() -> None:
    plaintext = FrankedPlaintext(MESSAGE, bytes(32))
    assert not open_commitment(plaintext, franking.commitment_of(plaintext)[:31])


KEYS = st.binary(min_size=32, max_size=32)
HASHES = st.lists(st.binary(min_size=32, max_size=32), max_size=4)


@PROPERTY
@given(message=st.binary(max_size=2000), attachments=HASHES, seed=st.integers(0, 2**32))
def test_random_messages_round_trip_and_open(
    message: bytes, attachments: list[bytes], seed: int
) -> None:
    key, commitment = commit(message, attachments, random.Random(seed).randbytes)
    plaintext = FrankedPlaintext(message, key, tuple(attachments))
    decoded = FrankedPlaintext.decode(plaintext.encode())
    assert decoded == plaintext
    assert open_commitment(decoded, commitment)


@PROPERTY
@given(
    message=st.binary(min_size=1, max_size=500),
    key=KEYS,
    attachments=HASHES,
    data=st.data(),
)
def test_any_single_byte_change_fails_to_open(
    message: bytes, key: bytes, attachments: list[bytes], data: st.DataObject
) -> None:
    plaintext = FrankedPlaintext(message, key, tuple(attachments))
    commitment = franking.commitment_of(plaintext)
    field = data.draw(st.sampled_from(["message", "franking_key"]))
    original: bytes = getattr(plaintext, field)
    index = data.draw(st.integers(0, len(original) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = bytearray(original)
    changed[index] ^= delta
    if field == "message":
        altered = dataclasses.replace(plaintext, message=bytes(changed))
    else:
        altered = dataclasses.replace(plaintext, franking_key=bytes(changed))
    assert not open_commitment(altered, commitment)


@PROPERTY
@given(junk=st.binary(max_size=300))
def test_junk_plaintext_raises_only_rejected(junk: bytes) -> None:
    for data in (junk, b"KFP1" + junk):
        try:
            FrankedPlaintext.decode(data)
        except Rejected as exc:
            assert exc.reason is Reason.INVALID


@PROPERTY
@given(junk=st.binary(max_size=300))
def test_junk_stamp_raises_only_rejected(junk: bytes) -> None:
    for data in (junk, b"KFS1" + junk):
        try:
            FrankingStamp.decode(data)
        except Rejected as exc:
            assert exc.reason is Reason.INVALID
