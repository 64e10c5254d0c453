"""Reading signed events as an epoch's settlement input (koinon.rewards.events) and the rewards
config: which events count, how votes, bonds and labels are read, and order independence."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest

from koinon.core.event import Event
from koinon.errors import Rejected
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import (
    BOND_DECLARATION,
    epoch_columns,
    epoch_filters,
    epoch_input,
    read_bond,
    read_outcome,
    read_vote,
)
from koinon.rewards.model import NoteStatus
from koinon.rewards.settle import settle_epoch
from tests.helpers import make_event, make_key, pubkey_of
from tests.rewards.reading_oracle import read_epoch

ALICE, BOB, CAROL, LABELER = (make_key(900 + i) for i in range(4))
CONFIG = RewardsConfig(
    genesis=1_000_000,
    epoch_seconds=1_000,
    trust_seeds=(pubkey_of(ALICE),),
    note_labelers=(pubkey_of(LABELER),),
)
START, END = CONFIG.window(3)


def vote(
    key: bytes,
    target: Event,
    content: str = "+",
    at: int = START + 10,
    extra: list[list[str]] | None = None,
) -> Event:
    return make_event(key, 7, content, [["e", target.id], ["p", target.pubkey], *(extra or [])], at)


def label(
    post: Event, status: str, writers: list[bytes], at: int = START + 50, key: bytes = LABELER
) -> Event:
    tags = [["L", "koinon.notes"], ["l", status, "koinon.notes"], ["e", post.id]]
    tags += [["writer", pubkey_of(w)] for w in writers]
    return make_event(key, 1985, "", tags, at)


def test_config_windows_and_round_trip() -> None:
    assert CONFIG.window(0) == (1_000_000, 1_001_000)
    assert CONFIG.epoch_at(1_001_999) == 1
    assert CONFIG.epoch_at(999_999) == -1
    assert RewardsConfig.from_dict(CONFIG.to_dict()) == CONFIG
    with pytest.raises(Rejected):
        CONFIG.window(-1)


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {},
        {**CONFIG.to_dict(), "pool_per_epoch": 5},
        {**CONFIG.to_dict(), "trust_seeds": ["x"]},
        {**CONFIG.to_dict(), "genesis": "0"},
    ],
    ids=["list", "empty", "pool-int", "bad-seed", "genesis-str"],
)
def test_config_rejects_malformed_documents(raw: object) -> None:
    with pytest.raises(Rejected):
        RewardsConfig.from_dict(raw)


def test_votes_read_as_nip25() -> None:
    post = make_event(BOB, 1, "post", created_at=START)
    assert read_vote(vote(ALICE, post)).direction == 1  # type: ignore[union-attr]
    assert read_vote(vote(ALICE, post, "")).direction == 1  # type: ignore[union-attr]
    assert read_vote(vote(ALICE, post, "-")).direction == -1  # type: ignore[union-attr]
    assert read_vote(vote(ALICE, post, "🤙")) is None
    weighted = read_vote(vote(ALICE, post, extra=[["weight", "0.25"]]))
    assert weighted is not None and weighted.weight == 0.25
    for bad in ("0", "1.5", "nan", "inf", "-0.5", "x"):
        assert read_vote(vote(ALICE, post, extra=[["weight", bad]])) is None
    assert read_vote(make_event(ALICE, 7, "+", [["p", pubkey_of(BOB)]], START)) is None


def test_the_last_e_tag_is_the_target() -> None:
    root, reply = (
        make_event(BOB, 1, "root", created_at=START),
        make_event(BOB, 1, "r", created_at=START),
    )
    event = make_event(ALICE, 7, "+", [["e", root.id], ["e", reply.id]], START + 1)
    assert read_vote(event).post_id == reply.id  # type: ignore[union-attr]


def test_bonds_and_outcomes_are_read_strictly() -> None:
    post = make_event(BOB, 1, "claim", created_at=START)
    bond = read_bond(
        make_event(BOB, BOND_DECLARATION, "", [["e", post.id], ["amount", "500"]], START)
    )
    assert bond is not None and (bond.owner, bond.amount) == (pubkey_of(BOB), 500)
    for amount in ("0", "-1", "1e3", "", str(2**256)):
        event = make_event(BOB, BOND_DECLARATION, "", [["e", post.id], ["amount", amount]], START)
        assert read_bond(event) is None
    outcome = read_outcome(label(post, "misleading", [CAROL]))
    assert outcome is not None and outcome.status is NoteStatus.MISLEADING
    assert outcome.note_writers == (pubkey_of(CAROL),)
    assert read_outcome(label(post, "maybe", [CAROL])) is None


def sample_events() -> list[Event]:
    p1 = make_event(BOB, 1, "in epoch", created_at=START + 1)
    p2 = make_event(CAROL, 30023, "long form", [["d", "a"]], START + 2)
    early = make_event(BOB, 1, "last epoch", created_at=START - 1)
    late = make_event(BOB, 1, "next epoch", created_at=END)
    return [
        p1,
        p2,
        early,
        late,
        vote(ALICE, p1, "+", START + 5),
        vote(ALICE, p1, "-", START + 6),  # newest vote wins
        vote(CAROL, p1, "+", START + 7),
        vote(BOB, p2, "+", END + 1),  # after the end: ignored
        vote(ALICE, early, "+", START + 8),  # the post is not in this epoch: ignored
        make_event(ALICE, 3, "", [["p", pubkey_of(BOB)]], START - 100),
        make_event(ALICE, 3, "", [["p", pubkey_of(CAROL)], ["p", pubkey_of(ALICE)]], START + 3),
        make_event(BOB, 3, "", [["p", pubkey_of(ALICE)]], END + 5),  # after the end: ignored
        make_event(BOB, BOND_DECLARATION, "", [["e", p1.id], ["amount", "7"]], START + 1),
        make_event(CAROL, BOND_DECLARATION, "", [["e", p2.id], ["amount", "9"]], START + 1),
        label(p1, "misleading", [ALICE]),
        label(p2, "misleading", [ALICE], key=BOB),  # not a configured labeler: ignored
    ]


def test_epoch_input_selects_the_epoch() -> None:
    events = sample_events()
    epoch_in = epoch_input(events, CONFIG, 3)
    p1, p2 = events[0], events[1]
    assert {p.id for p in epoch_in.posts} == {p1.id, p2.id}
    assert [(v.voter, v.direction) for v in epoch_in.votes if v.voter == pubkey_of(ALICE)] == [
        (pubkey_of(ALICE), -1)
    ]
    assert len(epoch_in.votes) == 2
    assert {(f.follower, f.followee) for f in epoch_in.follows} == {
        (pubkey_of(ALICE), pubkey_of(CAROL))
    }
    assert [(b.event_id, b.amount) for b in epoch_in.bonds] == [(p1.id, 7)]  # p2 has no outcome
    assert [o.post_id for o in epoch_in.outcomes] == [p1.id]
    assert (epoch_in.start, epoch_in.end, epoch_in.pool) == (START, END, CONFIG.pool_per_epoch)


def test_epoch_input_ignores_order() -> None:
    events = sample_events()
    expected = epoch_input(events, CONFIG, 3)
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(events)
        assert epoch_input(events, CONFIG, 3) == expected


def test_epoch_columns_read_what_epoch_input_reads() -> None:
    events = sample_events()
    p1 = events[0]
    events += [
        # a vote on something that is not an event id, a tie broken by the lower id, a contact
        # list naming a key twice and a name that is no key
        make_event(CAROL, 7, "+", [["e", p1.id.upper()]], START + 9),
        make_event(BOB, 7, "+", [["e", p1.id]], START + 20),
        make_event(BOB, 7, "-", [["e", p1.id]], START + 20),
        make_event(
            CAROL, 3, "", [["p", pubkey_of(BOB)], ["p", pubkey_of(BOB)], ["p", "bob"]], START
        ),
    ]
    expected = epoch_input(events, CONFIG, 3)
    assert len(expected.follows) == 2  # alice -> carol, carol -> bob
    bob_votes = [v for v in expected.votes if v.voter == pubkey_of(BOB)]
    tied = sorted(events[-3:-1], key=lambda e: e.id)[0]
    assert [v.id for v in bob_votes] == [tied.id]
    rng = random.Random(3)
    for _ in range(3):
        rng.shuffle(events)
        columns = epoch_columns(events, CONFIG, 3)
        assert epoch_input(events, CONFIG, 3) == expected
        assert set(columns.votes.records()) == set(expected.votes)
        assert set(columns.follows.records()) == set(expected.follows)
        assert settle_epoch(columns) == settle_epoch(expected)


def test_filters_cover_the_window() -> None:
    filters = epoch_filters(CONFIG, 3)
    assert filters[0]["since"] == START and filters[0]["until"] == END - 1
    assert any(f.get("authors") == [pubkey_of(LABELER)] for f in filters)


def random_epoch(seed: int) -> list[Event]:
    """Events that exercise every rule of reading an epoch: repeated votes, some in the same
    second (the lower id wins), targets that are no post, not hex or uppercase, weights good and
    bad, reactions that are no votes, late and early events, an event given twice, contact lists
    replaced, naming a key twice, the author or a name that is no key."""
    rng = random.Random(seed)
    keys = [make_key(950 + i) for i in range(8)]
    names = [pubkey_of(k) for k in keys]
    posts = [
        make_event(
            rng.choice(keys), rng.choice([1, 30023]), f"p{i}", [], START + rng.randrange(-50, 1050)
        )
        for i in range(12)
    ]
    events = list(posts)
    for _ in range(200):
        post = rng.choice(posts)
        # targets that name no post: hex (every seed), uppercase hex, text that is no hex
        target = rng.choice([post.id] * 6 + [names[0], post.id.upper(), "nothex"][: 1 + seed % 3])
        tags = [["e", rng.choice(posts).id]] * rng.randrange(2) + [
            ["e", target],
            ["p", post.pubkey],
        ]
        weight = rng.choice([None, None, "0.5", "1", "0", "2", "x"])
        if weight is not None:
            tags.append(["weight", weight])
        content = rng.choice(["+", "+", "-", "", "🤙"])
        events.append(
            make_event(
                rng.choice(keys), 7, content, tags, START + rng.choice([3, 3, 4, 900, 1000, -5])
            )
        )
    for key in keys:
        for _ in range(rng.randrange(3)):
            bad = [names[0].upper(), "nokey"][: seed % 3]  # names that are no key
            named = rng.sample(names, 3) + rng.sample([rng.choice(names), *bad], 1)
            at = START + rng.choice([-100, -100, 5, 2000])
            events.append(make_event(key, 3, "", [["p", n] for n in named], at))
    events += rng.sample(events, 5)  # an event given twice is read once
    rng.shuffle(events)
    return events


@pytest.mark.parametrize("seed", range(6))
def test_epoch_columns_read_as_the_oracle_reads(seed: int) -> None:
    events = random_epoch(seed)
    expected = read_epoch(events, CONFIG, 3)
    assert len(expected.votes) > 15 and len(expected.follows) > 5
    cast = {vote for vote in map(read_vote, events) if vote is not None}
    stamps = Counter((vote.voter, vote.post_id, vote.created_at) for vote in cast)
    assert max(stamps.values()) > 1  # some votes tie on their time
    assert epoch_input(events, CONFIG, 3) == expected
    columns = epoch_columns(events, CONFIG, 3)
    assert columns.records() == dataclasses.replace(
        expected,
        posts=columns.posts.records(),
        votes=columns.votes.records(),
        follows=columns.follows.records(),
    )
    assert settle_epoch(columns) == settle_epoch(expected)
