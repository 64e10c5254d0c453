"""Franked reports as signed events (kind 3984): an honest report is accepted; an altered message,
an altered sender, a wrong reporter or a forged stamp is rejected; malformed reports raise
Rejected(INVALID), never anything else.
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
from koinon.messaging.franking import ReportProblem
from koinon.messaging.reports import REPORT_KIND, check_report, parse_report, report_template
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, NOW

NODE = CAROL


def _received(random_bytes: RandomBytes, node: SecretKey = NODE) -> FrankedMessage:
    plaintext = frank("you will regret this", random_bytes)
    stamp = franking.sign_stamp(
        node.raw,
        franking.derive_node_hmac_key(node.raw),
        franking.commitment_of(plaintext),
        ALICE.public_key,
        BOB.public_key,
        NOW,
        random_bytes(32),
    )
    return FrankedMessage(plaintext, stamp)


def _sign(reporter: SecretKey, kind: int, content: str, tags: list[list[str]]) -> Event:
    return sign_event(
        reporter.raw, kind=kind, content=content, tags=tags, created_at=NOW, aux_rand=bytes(32)
    )


def _report(message: FrankedMessage, reporter: SecretKey = BOB) -> Event:
    return _sign(reporter, *report_template(message, "illegal", "threat"))


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
