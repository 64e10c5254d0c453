"""Franked reports as signed events (kind 3984): an honest report is accepted; an altered message,
an altered sender, a wrong reporter or a forged stamp is rejected; malformed reports raise
Rejected(INVALID), never anything else. Group messages too: a member proves it was in the stamped
audience, and nobody else can.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.event import Event, parse_event, sign_event
from koinon.core.keys import RandomBytes, SecretKey
from koinon.errors import Reason, Rejected
from koinon.messaging import franking
from koinon.messaging.franked_dm import FrankedMessage, frank
from koinon.messaging.franked_group import FrankedGroupMessage
from koinon.messaging.franking import ReportProblem
from koinon.messaging.reports import (
    GROUP_REPORT_VERSION,
    REPORT_KIND,
    check_report,
    parse_report,
    report_template,
)
from tests.messaging.parties import (
    ALICE,
    BOB,
    CAROL,
    MALLORY,
    NOW,
    group_message,
    node_stamp,
)

NODE = CAROL


def _received(random_bytes: RandomBytes, node: SecretKey = NODE) -> FrankedMessage:
    plaintext = frank("you will regret this", random_bytes)
    commitment = franking.commitment_of(plaintext)
    stamp = node_stamp(node, commitment, ALICE.public_key, BOB.public_key, random_bytes)
    return FrankedMessage(plaintext, stamp)


def _sign(reporter: SecretKey, kind: int, content: str, tags: list[list[str]]) -> Event:
    return sign_event(
        reporter.raw, kind=kind, content=content, tags=tags, created_at=NOW, aux_rand=bytes(32)
    )


def _report(message: FrankedMessage, reporter: SecretKey = BOB) -> Event:
    return _sign(reporter, *report_template(message.plaintext, message.stamp, "illegal", "threat"))


def _edited(event: Event, reporter: SecretKey = BOB, **changes: Any) -> Event:
    """The report with content fields (or the `p` tag) changed, signed again by `reporter`."""
    content = json.loads(event.content)
    tags = [list(t) for t in event.tags]
    if "p" in changes:
        tags = [["p", changes.pop("p"), "illegal"]]
    content.update(changes)
    return _sign(reporter, event.kind, json.dumps(content), tags)


def _problem(event: Event) -> ReportProblem | None:
    return check_report(event, NODE.public_key)[1].problem


def test_an_honest_report_is_accepted(random_bytes: RandomBytes) -> None:
    message = _received(random_bytes)
    event = _report(message)
    assert event.kind == REPORT_KIND and event.first_tag("p") == ALICE.public_key
    parsed, verdict = check_report(event, NODE.public_key)
    assert verdict.accepted
    assert (verdict.sender, verdict.recipient, verdict.timestamp) == (
        ALICE.public_key,
        BOB.public_key,
        NOW,
    )
    assert verdict.message == b"you will regret this"
    assert (parsed.report_type, parsed.comment, parsed.report.reporter) == (
        "illegal",
        "threat",
        BOB.public_key,
    )
    # The issuing node can also check its HMAC tag alone.
    hmac_key = franking.derive_node_hmac_key(NODE.raw)
    assert franking.verify_report(parsed.report, node_hmac_key=hmac_key).accepted


def test_an_altered_message_is_rejected(random_bytes: RandomBytes) -> None:
    message = _received(random_bytes)
    altered = dataclasses.replace(message.plaintext, message=b"you will love this")
    franked = base64.b64encode(altered.encode()).decode()
    assert _problem(_edited(_report(message), franked=franked)) is (
        ReportProblem.COMMITMENT_DOES_NOT_OPEN
    )


def test_an_altered_sender_is_rejected(random_bytes: RandomBytes) -> None:
    message = _received(random_bytes)
    # Accusing someone else than the stamped sender...
    assert _problem(_edited(_report(message), p=MALLORY.public_key)) is (
        ReportProblem.SENDER_NOT_STAMPED
    )
    # ...or rewriting the sender inside the stamp (and the accusation with it).
    stamp = dataclasses.replace(message.stamp, sender=MALLORY.public_key)
    encoded = base64.b64encode(stamp.encode()).decode()
    event = _edited(_report(message), p=MALLORY.public_key, stamp=encoded)
    assert _problem(event) is ReportProblem.STAMP_NOT_NODES


def test_a_wrong_reporter_is_rejected(random_bytes: RandomBytes) -> None:
    """Mallory got hold of the opening and the stamp: she still is not the recipient."""
    message = _received(random_bytes)
    assert _problem(_report(message, reporter=MALLORY)) is ReportProblem.REPORTER_NOT_RECIPIENT


def test_a_forged_stamp_is_rejected(random_bytes: RandomBytes) -> None:
    message = _received(random_bytes)
    stamp = dataclasses.replace(message.stamp, tag=bytes(32))
    encoded = base64.b64encode(stamp.encode()).decode()
    assert _problem(_edited(_report(message), stamp=encoded)) is ReportProblem.STAMP_NOT_NODES
    # A stamp made with a key that is not the node's, however well-formed.
    self_stamped = _received(random_bytes, node=MALLORY)
    assert _problem(_report(self_stamped)) is ReportProblem.STAMP_NOT_NODES
    # A stamp for another commitment.
    other = _received(random_bytes)
    encoded = base64.b64encode(other.stamp.encode()).decode()
    assert _problem(_edited(_report(message), stamp=encoded)) is (
        ReportProblem.STAMP_FOR_OTHER_COMMITMENT
    )


def _group_report(
    message: FrankedGroupMessage, reporter: SecretKey, proof_of: SecretKey | None = None
) -> Event:
    proof = message.audience.proof((proof_of or reporter).public_key)
    template = report_template(message.plaintext, message.stamp, "spam", "", proof)
    return _sign(reporter, *template)


def _group_message(random_bytes: RandomBytes) -> FrankedGroupMessage:
    members = [BOB.public_key, MALLORY.public_key]
    return group_message("to the whole group", members, random_bytes, NODE)


def test_group_reports_prove_the_reporter_was_addressed(random_bytes: RandomBytes) -> None:
    message = _group_message(random_bytes)
    event = _group_report(message, BOB)
    assert json.loads(event.content)["v"] == GROUP_REPORT_VERSION
    parsed, verdict = check_report(event, NODE.public_key)
    assert verdict.accepted and verdict.audience_size == 2
    assert (verdict.sender, parsed.report.reporter) == (ALICE.public_key, BOB.public_key)
    assert verdict.message == b"to the whole group"
    # Every member may report, each with their own proof; a direct message has no audience.
    assert check_report(_group_report(message, MALLORY), NODE.public_key)[1].accepted
    assert check_report(_report(_received(random_bytes)), NODE.public_key)[1].audience_size is None


def test_forged_group_reports_are_rejected(random_bytes: RandomBytes) -> None:
    message = _group_message(random_bytes)
    honest = _group_report(message, BOB)
    altered = dataclasses.replace(message.plaintext, message=b"something milder")
    forged_tag = dataclasses.replace(message.stamp, tag=bytes(32))
    cases = {
        "member-with-anothers-proof": (
            _group_report(message, MALLORY, proof_of=BOB),
            ReportProblem.REPORTER_NOT_RECIPIENT,
        ),
        "outsider-with-a-proof": (
            _group_report(message, CAROL, proof_of=BOB),
            ReportProblem.REPORTER_NOT_RECIPIENT,
        ),
        "proof-left-out": (_edited(honest, v=1), ReportProblem.REPORTER_NOT_RECIPIENT),
        "altered-message": (
            _edited(honest, franked=base64.b64encode(altered.encode()).decode()),
            ReportProblem.COMMITMENT_DOES_NOT_OPEN,
        ),
        "altered-sender": (_edited(honest, p=MALLORY.public_key), ReportProblem.SENDER_NOT_STAMPED),
        "forged-tag": (
            _edited(honest, stamp=base64.b64encode(forged_tag.encode()).decode()),
            ReportProblem.STAMP_NOT_NODES,
        ),
    }
    for name, (event, problem) in cases.items():
        assert _problem(event) is problem, name
    with pytest.raises(Rejected, match="no 'audience'"):
        parse_report(_edited(_report(_received(random_bytes)), v=GROUP_REPORT_VERSION))


def test_a_report_whose_signature_is_broken_is_invalid(random_bytes: RandomBytes) -> None:
    event = _report(_received(random_bytes)).to_dict()
    event["content"] = event["content"].replace("threat", "other")
    with pytest.raises(Rejected) as caught:
        parse_report(parse_event(event))
    assert caught.value.reason is Reason.INVALID


@pytest.mark.parametrize(
    ("content", "tags", "needle"),
    [
        ("not json", [["p", ALICE.public_key]], "not JSON"),
        ('{"v":9}', [["p", ALICE.public_key]], "unknown report version"),
        ('{"v":1,"commitment":"zz"}', [["p", ALICE.public_key]], "commitment"),
        ('{"v":1,"commitment":"' + "0" * 64 + '"}', [], "exactly one"),
        ('{"v":1,"commitment":"' + "0" * 64 + '"}', [["p", ALICE.public_key]], "franked"),
    ],
    ids=["not-json", "version", "commitment", "no-p-tag", "no-opening"],
)
def test_malformed_reports_are_invalid(content: str, tags: list[list[str]], needle: str) -> None:
    with pytest.raises(Rejected, match=needle):
        parse_report(_sign(BOB, REPORT_KIND, content, tags))
    with pytest.raises(Rejected, match="kind 3984"):
        parse_report(_sign(BOB, 1984, content, tags))


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["v", "franked", "commitment", "stamp", "comment"]),
        st.one_of(
            st.integers(),
            st.text(max_size=40),
            st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode()),
        ),
    )
)
def test_junk_reports_raise_only_rejected(fields: dict[str, object]) -> None:
    event = _sign(BOB, REPORT_KIND, json.dumps(fields), [["p", ALICE.public_key, "spam"]])
    with pytest.raises(Rejected):
        check_report(event, NODE.public_key)
