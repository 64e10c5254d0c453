"""The upvotes an epoch counts and the epochs after it read: which they are, their digest, how a
node keeps them, how a settlement names them and how an audit checks them."""

from __future__ import annotations

import hashlib
import random

import pytest

from koinon.core.event import Event, sign_event
from koinon.errors import Rejected
from koinon.rewards.arrays import _account_numbers
from koinon.rewards.audit import SettlementMismatch, audit_epoch
from koinon.rewards.columns import UpvoteColumns
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns
from koinon.rewards.keys import keys_of
from koinon.rewards.model import Upvote
from koinon.rewards.params import Params
from koinon.rewards.settlement import (
    counted_upvotes,
    parse_record,
    record_template,
    settle,
    upvotes_digest,
)
from tests.helpers import make_event, make_key, pubkey_of

ALICE, BOB, CAROL, DAVE = (make_key(970 + i) for i in range(4))
NODE = make_key(979)
CONFIG = RewardsConfig(genesis=0, epoch_seconds=1_000, trust_seeds=(pubkey_of(ALICE),))


def at(epoch: int, offset: int = 10) -> int:
    return CONFIG.window(epoch)[0] + offset


def react(key: bytes, post: Event, content: str, when: int) -> Event:
    return make_event(key, 7, content, [["e", post.id], ["p", post.pubkey]], when)


def epoch_of_votes(epoch: int) -> list[Event]:
    """Everyone follows everyone; BOB's and CAROL's posts, votes of every kind."""
    keys = (ALICE, BOB, CAROL, DAVE)
    events = [
        make_event(k, 3, "", [["p", pubkey_of(o)] for o in keys if o != k], at(0, 1)) for k in keys
    ]
    bobs = make_event(BOB, 1, f"bob {epoch}", created_at=at(epoch, 5))
    carols = make_event(CAROL, 1, f"carol {epoch}", created_at=at(epoch, 6))
    older = make_event(DAVE, 1, f"dave {epoch}", created_at=at(epoch, -500))  # the epoch before
    events += [bobs, carols, older]
    events += [
        react(ALICE, bobs, "+", at(epoch, 20)),  # counted
        react(ALICE, carols, "", at(epoch, 21)),  # empty content is an upvote: counted
        react(DAVE, bobs, "+", at(epoch, 22)),
        react(DAVE, bobs, "-", at(epoch, 23)),  # DAVE changed his mind: a downvote
        react(BOB, bobs, "+", at(epoch, 24)),  # a self-vote
        react(CAROL, older, "+", at(epoch, 25)),  # on a post of the epoch before
        react(CAROL, bobs, "+", at(epoch + 1, 5)),  # after the epoch ended
        react(CAROL, bobs, "🤙", at(epoch, 26)),  # a reaction that is no vote
    ]
    return events


def test_an_epoch_counts_its_own_upvotes_once_each() -> None:
    events = epoch_of_votes(3)
    upvotes = counted_upvotes(epoch_columns(events, CONFIG, 3))
    alice, bob, carol = pubkey_of(ALICE), pubkey_of(BOB), pubkey_of(CAROL)
    assert set(upvotes.records()) == {Upvote(alice, bob), Upvote(alice, carol)}
    assert len(upvotes) == 2
    # what a settlement of the epoch says it counted, in any order of the events
    random.Random(1).shuffle(events)
    assert settle(events, CONFIG, 3).upvotes_digest == upvotes_digest(upvotes)


def test_the_digest_is_of_the_multiset() -> None:
    a, b, c = (pubkey_of(k) for k in (ALICE, BOB, CAROL))
    one = UpvoteColumns.of_hex((a, b, a), (b, c, c))
    shuffled = UpvoteColumns.of_hex((a, a, b), (c, b, c))
    assert upvotes_digest(one) == upvotes_digest(shuffled)
    fewer = UpvoteColumns.of_hex((a, b), (b, c))
    assert upvotes_digest(one) != upvotes_digest(fewer)  # a repeat counts
    assert upvotes_digest(one) != upvotes_digest(UpvoteColumns.of_hex((a, b, b), (b, c, c)))
    # the digest is the SHA-256 of the sorted 64-byte pairs
    pairs = sorted(bytes.fromhex(v + w) for v, w in [(a, b), (b, c), (a, c)])
    assert upvotes_digest(one) == hashlib.sha256(b"".join(pairs)).hexdigest()
    assert upvotes_digest(UpvoteColumns()) == hashlib.sha256(b"").hexdigest()


def test_kept_upvotes_read_back_the_same() -> None:
    a, b = pubkey_of(ALICE), pubkey_of(BOB)
    upvotes = UpvoteColumns.of_hex((a, b, a), (b, a, b))
    data = upvotes.to_bytes()
    again = UpvoteColumns.from_bytes(data)
    assert again == upvotes
    assert again.digest() == upvotes.digest() == data[:32].hex()
    assert UpvoteColumns.from_bytes(UpvoteColumns().to_bytes()).records() == ()
    for broken in (data[:-1], data[:31]):
        with pytest.raises(Rejected, match="a digest and pairs of 32-byte keys"):
            UpvoteColumns.from_bytes(broken)
    with pytest.raises(Rejected, match="upvoter"):
        UpvoteColumns.of_hex(("nothex",), (b,))
    with pytest.raises(Rejected, match="same length"):
        UpvoteColumns.of_hex((a,), ())


def test_upvotes_find_their_accounts_even_when_keys_share_a_prefix() -> None:
    # accounts whose keys share their first 8 bytes take the ranking path; others a search
    shared = ["00" * 8 + f"{i:02x}" * 24 for i in range(1, 4)]
    plain = [f"{i:02x}" * 32 for i in range(5, 8)]
    for accounts in (shared + plain, plain):
        accounts = sorted(accounts)
        account_keys = keys_of(accounts)
        asked = [accounts[2], "ff" * 32, accounts[0], accounts[-1]]
        numbers = _account_numbers(account_keys, keys_of(asked))
        assert numbers.tolist() == [2, -1, 0, len(accounts) - 1]


def signed(settlement_tags: tuple[int, str, list[list[str]]]) -> Event:
    kind, content, tags = settlement_tags
    return sign_event(
        NODE, kind=kind, content=content, tags=tags, created_at=at(9), aux_rand=b"\0" * 32
    )


def test_a_settlement_names_the_upvotes_it_read_and_an_audit_checks_them() -> None:
    earlier_events = [epoch_of_votes(epoch) for epoch in (0, 1, 2)]
    earlier = [
        counted_upvotes(epoch_columns(e, CONFIG, k))
        for e, k in zip(earlier_events, (0, 1, 2), strict=True)
    ]
    events = epoch_of_votes(3)
    settlement = settle(events, CONFIG, 3, earlier=earlier)
    assert settlement.earlier == tuple(upvotes_digest(u) for u in earlier)
    record = signed(record_template(settlement, CONFIG))
    parsed = parse_record(record)
    assert parsed.earlier == settlement.earlier
    assert parsed.upvotes == settlement.upvotes_digest

    node = pubkey_of(NODE)
    audited = audit_epoch(CONFIG, node, record, events, 3, None, earlier_events)
    assert audited.settlement.root == settlement.root
    # served inputs that count other upvotes, or too few epochs of them, do not verify
    for served in ([earlier_events[0], earlier_events[0], earlier_events[2]], []):
        with pytest.raises(SettlementMismatch, match="earlier epochs' upvotes"):
            audit_epoch(CONFIG, node, record, events, 3, None, served)
    # nor does a record that reads fewer epochs than there are before it (up to five)
    fewer = signed(record_template(settle(events, CONFIG, 3, earlier=earlier[1:]), CONFIG))
    with pytest.raises(SettlementMismatch, match="names 2 earlier epochs' upvotes, not 3"):
        audit_epoch(CONFIG, node, fewer, events, 3, None, earlier_events[1:])
    # a record that names other upvotes than the epoch counted does not verify
    kind, content, tags = record_template(settlement, CONFIG)
    lying = [[name, "0" * 64] if name == "upvotes" else [name, *rest] for name, *rest in tags]
    with pytest.raises(SettlementMismatch, match="counted upvotes differ"):
        audit_epoch(CONFIG, node, signed((kind, content, lying)), events, 3, None, earlier_events)


def test_a_settlement_reads_no_more_epochs_than_the_detector_does() -> None:
    events = epoch_of_votes(3)
    earlier = [UpvoteColumns()] * 2
    with pytest.raises(Rejected, match="at most 1 earlier"):
        settle(events, CONFIG, 3, Params(ring_epochs=2), earlier=earlier)


def test_malformed_digests_in_a_record_are_refused() -> None:
    settlement = settle(epoch_of_votes(3), CONFIG, 3, earlier=[UpvoteColumns()])
    kind, content, tags = record_template(settlement, CONFIG)
    for name in ("upvotes", "earlier"):
        bad = [[n, "xyz"] if n == name else [n, *rest] for n, *rest in tags]
        with pytest.raises(Rejected, match=name):
            parse_record(signed((kind, content, bad)))
