"""Bond declarations capped by what the chain held (koinon.rewards.holdings): an inflated
declaration counts for the real bond, one with nothing behind it counts nothing, an honest one as
before; the record signs the reading and an audit refuses any reading the record does not name."""

from __future__ import annotations

import dataclasses

import pytest

from koinon.core.event import Event, sign_event
from koinon.errors import Rejected
from koinon.rewards.audit import SettlementMismatch, audit_epoch
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import BOND_DECLARATION
from koinon.rewards.holdings import BondHoldings, cap_bonds
from koinon.rewards.model import Bond
from koinon.rewards.settlement import Settlement, parse_record, record_template, settle
from tests.helpers import make_event, make_key, pubkey_of

NODE, ALICE, BOB, CAROL, WRITER = (make_key(950 + i) for i in range(5))
CONFIG = RewardsConfig(
    genesis=1_000_000,
    epoch_seconds=1_000,
    trust_seeds=(pubkey_of(ALICE),),
    note_labelers=(pubkey_of(NODE),),
)
EPOCH = 0  # the first epoch: an audit of it reads no earlier upvotes
START, END = CONFIG.window(EPOCH)
KOIN = 10**18
REAL = 3 * KOIN  # what BOB really bonded
CLAIM = make_event(BOB, 1, "a dubious claim", created_at=START + 1)
OWNER = pubkey_of(BOB)


def declaration(amount: int, key: bytes = BOB, post: Event = CLAIM) -> Event:
    return make_event(key, BOND_DECLARATION, "", [["e", post.id], ["amount", str(amount)]], START)


def epoch_events(*extra: Event) -> list[Event]:
    """Three people follow each other and up-vote each other's posts; BOB's claim is labelled
    misleading by the node, with WRITER's note."""
    people = [ALICE, BOB, CAROL]
    events = [
        make_event(k, 3, "", [["p", pubkey_of(o)] for o in people if o != k], START - 50)
        for k in people
    ]
    posts = [CLAIM, *(make_event(k, 1, "post", created_at=START + 2) for k in (ALICE, CAROL))]
    events += posts
    events += [
        make_event(k, 7, "+", [["e", p.id], ["p", p.pubkey]], START + 10)
        for k in people
        for p in posts
        if p.pubkey != pubkey_of(k)
    ]
    tags = [["L", "koinon.notes"], ["l", "misleading", "koinon.notes"], ["e", CLAIM.id]]
    events.append(make_event(NODE, 1985, "", [*tags, ["writer", pubkey_of(WRITER)]], START + 50))
    return [*events, *extra]


def held(amount: int, block: int = 7) -> BondHoldings:
    return BondHoldings.of(block, [(CLAIM.id, OWNER, amount)])


def writer_notes(settlement: Settlement) -> int:
    return sum(p.notes for p in settlement.result.payouts if p.pubkey == pubkey_of(WRITER))


def signed_record(settlement: Settlement) -> Event:
    kind, content, tags = record_template(settlement, CONFIG)
    return sign_event(
        NODE, kind=kind, content=content, tags=tags, created_at=END + 10, aux_rand=bytes(32)
    )


def test_an_inflated_declaration_counts_for_the_real_bond() -> None:
    events = epoch_events(declaration(1_000_000 * KOIN))
    as_declared = settle(events, CONFIG, EPOCH)
    capped = settle(events, CONFIG, EPOCH, holdings=held(REAL))

    assert writer_notes(as_declared) == 500_000 * KOIN  # the gap: minted for tokens never bonded
    (slash,) = capped.result.slashes
    assert (slash.owner, slash.amount, slash.to_writers) == (OWNER, REAL, REAL // 2)
    assert writer_notes(capped) == REAL // 2 <= REAL
    (leaf,) = capped.bonds
    assert leaf.slashed == REAL
    # the same as if BOB had declared exactly what he bonded
    assert capped.root == settle(epoch_events(declaration(REAL)), CONFIG, EPOCH).root


def test_a_declaration_with_nothing_bonded_counts_nothing() -> None:
    events = epoch_events(declaration(1_000_000 * KOIN))
    capped = settle(events, CONFIG, EPOCH, holdings=held(0))

    assert capped.result.slashes == ()
    assert capped.bonds == ()  # no bond leaf: nothing to settle on chain
    assert writer_notes(capped) == 0
    assert capped.root == settle(epoch_events(), CONFIG, EPOCH).root
    # an entry missing from the reading counts as nothing held, too
    assert settle(events, CONFIG, EPOCH, holdings=BondHoldings(7, ())).root == capped.root


def test_an_honest_bond_settles_as_before() -> None:
    events = epoch_events(declaration(REAL))
    before = settle(events, CONFIG, EPOCH)
    for chain_holds in (REAL, REAL + KOIN):  # more bonded than declared: the declaration counts
        capped = settle(events, CONFIG, EPOCH, holdings=held(chain_holds))
        assert capped.root == before.root
        assert capped.result == before.result


def test_cap_bonds_takes_the_smaller_amount_per_bond() -> None:
    other = make_event(CAROL, 1, "another", created_at=START + 3)
    bonds = [Bond(CLAIM.id, OWNER, 10), Bond(other.id, pubkey_of(CAROL), 5)]
    holdings = BondHoldings.of(1, [(other.id, pubkey_of(CAROL), 9), (CLAIM.id, OWNER, 4)])
    assert cap_bonds(bonds, holdings) == (
        Bond(CLAIM.id, OWNER, 4),
        Bond(other.id, pubkey_of(CAROL), 5),
    )


def test_the_record_signs_the_reading_and_the_audit_checks_it() -> None:
    events = epoch_events(declaration(1_000_000 * KOIN))
    reading = held(REAL, block=42)
    settlement = settle(events, CONFIG, EPOCH, holdings=reading)
    record = signed_record(settlement)
    assert record.first_tag("bonds") == "42"
    assert parse_record(record).holdings == (42, reading.digest())
    assert BondHoldings.parse(reading.to_json()) == reading

    node = pubkey_of(NODE)
    audited = audit_epoch(CONFIG, node, record, events, EPOCH, reading)
    assert audited.settlement.root == settlement.root

    tampered = [
        (held(REAL + 1, block=42), "are not the ones the record names"),
        (held(REAL, block=43), "are not the ones the record names"),
        (None, "the record pins bond holdings the node did not serve"),
    ]
    for holdings, message in tampered:
        with pytest.raises(SettlementMismatch, match=message):
            audit_epoch(CONFIG, node, record, events, EPOCH, holdings)

    # a record that pins no reading, served with one
    unpinned = signed_record(settle(events, CONFIG, EPOCH))
    with pytest.raises(SettlementMismatch, match="does not pin"):
        audit_epoch(CONFIG, node, unpinned, events, EPOCH, reading)


def test_a_reading_must_cover_exactly_the_declared_bonds() -> None:
    events = epoch_events(declaration(REAL))
    node = pubkey_of(NODE)
    stranger = make_event(CAROL, 1, "not bonded", created_at=START + 4)
    for reading in (
        BondHoldings(9, ()),  # leaves the declaration out, so it counts nothing
        BondHoldings.of(9, [(CLAIM.id, OWNER, REAL), (stranger.id, pubkey_of(CAROL), 1)]),
    ):
        record = signed_record(settle(events, CONFIG, EPOCH, holdings=reading))
        with pytest.raises(SettlementMismatch, match="cover exactly the declared bonds"):
            audit_epoch(CONFIG, node, record, events, EPOCH, reading)


def test_malformed_holdings_are_refused() -> None:
    good = held(REAL).to_json()
    bad: list[object] = [
        None,
        {"block": 1},
        {**good, "block": -1},
        {**good, "block": "1"},
        {**good, "held": [[CLAIM.id, OWNER]]},
        {**good, "held": [[CLAIM.id, OWNER, "-1"]]},
        {**good, "held": [[CLAIM.id, OWNER, 5]]},
        {**good, "held": [[CLAIM.id, "xyz", "5"]]},
        {**good, "held": [[CLAIM.id, OWNER, "5"], [CLAIM.id, OWNER, "6"]]},
        {**good, "held": [[CLAIM.id, OWNER, str(2**256)]]},
    ]
    for raw in bad:
        with pytest.raises(Rejected):
            BondHoldings.parse(raw)
    with pytest.raises(Rejected):
        BondHoldings((CLAIM.id, OWNER, 1), ())  # type: ignore[arg-type]
    record = signed_record(settle(epoch_events(), CONFIG, EPOCH))
    broken = dataclasses.replace(record, tags=(*record.tags, ("bonds", "x", "00" * 32)))
    with pytest.raises(Rejected, match="bonds must name a block"):
        parse_record(broken)
