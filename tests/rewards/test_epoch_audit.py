"""Auditing a node's settlement from its published inputs (koinon.rewards.audit): an honest
record verifies; a forged signature, another signer, a dropped, added or altered input, and a
record with another root or total are each caught."""

from __future__ import annotations

import dataclasses

import pytest

from koinon.core.event import Event, sign_event
from koinon.rewards.audit import SettlementMismatch, audit_epoch
from koinon.rewards.config import RewardsConfig
from koinon.rewards.settlement import Settlement, record_template, settle
from tests.helpers import make_event, make_key, pubkey_of

KEYS = [make_key(950 + i) for i in range(4)]
NODE = make_key(999)
CONFIG = RewardsConfig(genesis=4_000, epoch_seconds=1_000, trust_seeds=(pubkey_of(KEYS[0]),))
EPOCH = 0  # the first epoch reads no earlier upvotes (tests/rewards/test_earlier_upvotes.py)
START = CONFIG.window(EPOCH)[0]


def inputs() -> list[Event]:
    events = [
        make_event(k, 3, "", [["p", pubkey_of(o)] for o in KEYS if o != k], START - 5) for k in KEYS
    ]
    posts = [make_event(KEYS[i], 1, f"p{i}", created_at=START + i) for i in range(2)]
    events += posts
    for i, key in enumerate(KEYS):
        for post in posts:
            if post.pubkey != pubkey_of(key):
                events.append(make_event(key, 7, "+", [["e", post.id]], START + 10 + i))
    return events


def record_for(settlement: Settlement, key: bytes = NODE, /, **tags: str) -> Event:
    kind, content, template = record_template(settlement, CONFIG)
    rewritten = [[name, tags.get(name, value)] for name, value in template]
    return sign_event(
        key,
        kind=kind,
        content=content,
        tags=rewritten,
        created_at=START + 2_000,
        aux_rand=bytes(32),
    )


@pytest.fixture(scope="module")
def honest() -> tuple[list[Event], Settlement, Event]:
    events = inputs()
    settlement = settle(events, CONFIG, EPOCH)
    return events, settlement, record_for(settlement)


def test_an_honest_settlement_verifies(honest: tuple[list[Event], Settlement, Event]) -> None:
    events, settlement, record = honest
    audited = audit_epoch(CONFIG, pubkey_of(NODE), record, list(reversed(events)), EPOCH)
    assert audited.settlement.root == settlement.root
    assert audited.record.total == settlement.total > 0


def test_a_record_signed_by_someone_else_is_refused(
    honest: tuple[list[Event], Settlement, Event],
) -> None:
    events, settlement, _ = honest
    with pytest.raises(SettlementMismatch, match="not signed by the node"):
        audit_epoch(CONFIG, pubkey_of(NODE), record_for(settlement, KEYS[1]), events, EPOCH)


def test_a_forged_record_signature_is_refused(
    honest: tuple[list[Event], Settlement, Event],
) -> None:
    events, _, record = honest
    forged = dataclasses.replace(record, sig="00" * 64)
    with pytest.raises(SettlementMismatch, match="record is not valid"):
        audit_epoch(CONFIG, pubkey_of(NODE), forged, events, EPOCH)


@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        ("root", "11" * 32, "recomputed root"),
        ("total", "1", "totals differ"),
        ("inputs", "22" * 32, "inputs are not"),
        ("epoch", "5", "for epoch 5"),
    ],
    ids=["root", "total", "inputs", "epoch"],
)
def test_a_record_that_misstates_the_result_is_refused(
    honest: tuple[list[Event], Settlement, Event], tag: str, value: str, message: str
) -> None:
    events, settlement, _ = honest
    with pytest.raises(SettlementMismatch, match=message):
        audit_epoch(CONFIG, pubkey_of(NODE), record_for(settlement, **{tag: value}), events, EPOCH)


def test_dropped_or_added_inputs_are_caught(honest: tuple[list[Event], Settlement, Event]) -> None:
    events, _, record = honest
    with pytest.raises(SettlementMismatch, match="inputs are not"):
        audit_epoch(CONFIG, pubkey_of(NODE), record, events[:-1], EPOCH)
    extra = make_event(KEYS[3], 7, "+", [["e", events[4].id]], START + 30)
    with pytest.raises(SettlementMismatch, match="inputs are not"):
        audit_epoch(CONFIG, pubkey_of(NODE), record, [*events, extra], EPOCH)


def test_an_altered_input_is_caught(honest: tuple[list[Event], Settlement, Event]) -> None:
    events, _, record = honest
    altered = [dataclasses.replace(events[-1], content="-"), *events[:-1]]
    with pytest.raises(SettlementMismatch, match="is not valid"):
        audit_epoch(CONFIG, pubkey_of(NODE), record, altered, EPOCH)


def test_other_rules_give_another_root(honest: tuple[list[Event], Settlement, Event]) -> None:
    """A verifier with other seeds recomputes another settlement and refuses the record."""
    events, _, record = honest
    other = dataclasses.replace(CONFIG, trust_seeds=(pubkey_of(KEYS[3]),))
    with pytest.raises(SettlementMismatch, match="recomputed root"):
        audit_epoch(other, pubkey_of(NODE), record, events, EPOCH)
