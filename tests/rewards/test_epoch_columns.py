"""The columnar epoch input: it checks what the records check, and the fast indexing and payouts
give exactly what the record-by-record oracle (epoch_oracle.py) gives, on messy random epochs."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from typing import cast

import numpy as np
import pytest

from koinon.core.event import Event
from koinon.errors import Rejected
from koinon.rewards.arrays import EpochArrays, canonical_votes, from_input, sorted_unique
from koinon.rewards.columns import EpochColumns, FollowColumns, PostColumns, VoteColumns
from koinon.rewards.model import (
    Bond,
    EpochInput,
    Follow,
    NoteOutcome,
    NoteStatus,
    Post,
    Vote,
)
from koinon.rewards.settle import settle_epoch
from koinon.rewards.settlement import inputs_digest
from tests.rewards.epoch_oracle import index_epoch, settle_records
from tests.rewards.reward_builders import key, world_epoch


def messy_epoch(seed: int, prefix: str = "") -> EpochInput:
    """A random epoch with everything the indexing must get right: repeated and late votes,
    votes stamped before their post, ties broken by id, posts of other epochs and posts given
    twice, self-follows and repeated follows, seeds and voters seen nowhere else, bonds.
    Pubkeys and post ids start with `prefix`."""
    rng = random.Random(seed)

    def named(text: str) -> str:
        return prefix + key(text)[len(prefix) :]

    names = [named(f"m{seed}-{i}") for i in range(30)]
    start, end = 1_000, 2_000
    posts = [
        Post(named(f"mp{seed}-{i}"), rng.choice(names[:20]), rng.randrange(800, 2_100))
        for i in range(40)
    ]
    posts += rng.sample(posts, 5)  # the same post twice is fine
    settled = [p for p in posts if start <= p.created_at < end]
    votes = []
    for i in range(400):
        target = rng.choice(posts)
        at = rng.choice([target.created_at - 5, rng.randrange(1_000, 2_050), 1_500])
        votes.append(
            Vote(
                key(f"mv{seed}-{i % 390}"),  # a few ids appear twice
                rng.choice(names[:26]),
                target.id,
                rng.choice([1, 1, 1, -1]),
                rng.choice([1.0, 0.5, 0.25]),
                max(at, 0),
            )
        )
    votes += rng.sample(votes, 10)
    follows = [Follow(rng.choice(names[:28]), rng.choice(names[:28])) for _ in range(150)]
    follows += [Follow(names[28], names[28]), *rng.sample(follows, 10)]  # 28: only a self-follow
    bonded = rng.sample(settled, 3)
    rng.shuffle(votes)
    return EpochInput(
        epoch=seed,
        start=start,
        end=end,
        pool=10**24 + seed,
        trust_seeds=(names[0], names[1], names[29]),
        posts=tuple(posts),
        votes=tuple(votes),
        follows=tuple(follows),
        bonds=tuple(Bond(p.id, p.author, 10**20) for p in bonded),
        outcomes=(
            NoteOutcome(bonded[0].id, NoteStatus.MISLEADING, (names[5], names[6])),
            NoteOutcome(bonded[1].id, NoteStatus.NOT_MISLEADING, ()),
        ),
    )


def same_arrays(a: EpochArrays, b: EpochArrays) -> None:
    for field in dataclasses.fields(EpochArrays):
        left, right = getattr(a, field.name), getattr(b, field.name)
        if isinstance(left, np.ndarray):
            assert left.dtype == right.dtype, field.name
            assert np.array_equal(left, right), field.name
        else:
            assert left == right, field.name


@pytest.mark.parametrize(
    ("seed", "prefix"),
    [(seed, "") for seed in range(6)] + [(6, "0" * 16), (7, "ab" * 24)],
    ids=[f"seed{seed}" for seed in range(6)] + ["shared-first-word", "shared-three-words"],
)
def test_indexing_matches_the_oracle(seed: int, prefix: str) -> None:
    # keys that share their first words are sorted by all four
    epoch = messy_epoch(seed, prefix)
    expected, accounts, post_ids = index_epoch(epoch)
    for given in (epoch, EpochColumns.of(epoch)):
        arrays, got_accounts, got_posts = from_input(given)
        same_arrays(arrays, expected)
        assert (got_accounts, got_posts) == (accounts, post_ids)


@pytest.mark.parametrize("seed", range(3))
def test_settlement_matches_the_oracle(seed: int) -> None:
    epoch = messy_epoch(seed)
    expected = settle_records(epoch)
    assert sum(p.amount for p in expected.payouts) > 0
    assert settle_epoch(epoch) == expected
    assert settle_epoch(EpochColumns.of(epoch)) == expected


def distinct_votes(epoch: EpochInput, shift: int = 0) -> EpochInput:
    """`epoch` with one vote per voter and post (the fast path); every other vote `shift`
    seconds later."""
    latest = list({(v.voter, v.post_id): v for v in epoch.votes}.values())
    return dataclasses.replace(
        epoch,
        end=epoch.end + shift,
        votes=tuple(
            dataclasses.replace(v, created_at=v.created_at + shift * (i % 2))
            for i, v in enumerate(latest)
        ),
    )


@pytest.mark.parametrize("shift", [0, 2**53], ids=["one-key-sort", "three-key-sort"])
def test_distinct_votes_settle_as_the_oracle_does(shift: int) -> None:
    # 2**53 seconds between the first and last vote: composite sort keys would not fit
    epoch = distinct_votes(messy_epoch(4), shift)
    expected, accounts, post_ids = index_epoch(epoch)
    arrays, got_accounts, got_posts = from_input(EpochColumns.of(epoch))
    same_arrays(arrays, expected)
    assert (got_accounts, got_posts) == (accounts, post_ids)
    assert settle_epoch(epoch) == settle_records(epoch)


def python_canonical(
    voter: list[int], post: list[int], time: list[int], tiebreak: list[int]
) -> list[tuple[int, int, int, int]]:
    """(post, time, voter, input index) of the votes canonical_votes keeps, in its order."""
    latest: dict[tuple[int, int], int] = {}
    for i in range(len(voter)):
        known = latest.get((voter[i], post[i]))
        if known is None or (time[i], tiebreak[i]) >= (time[known], tiebreak[known]):
            latest[(voter[i], post[i])] = i
    return sorted((post[i], time[i], voter[i], i) for i in latest.values())


@pytest.mark.parametrize("repeats", [False, True])
def test_canonical_votes_keeps_the_latest_in_order(repeats: bool) -> None:
    rng = np.random.default_rng(5)
    n = 3_000
    voter, post = rng.integers(0, 60, n), rng.integers(0, 80, n)
    if not repeats:
        _, first = np.unique(voter * 80 + post, return_index=True)
        voter, post = voter[first], post[first]
        n = voter.shape[0]
    time = rng.integers(0, 20, n)
    tiebreak = np.zeros(n, dtype=np.int64)  # as the simulation passes it: ties go to input order
    index = np.arange(n, dtype=np.int64)
    got = canonical_votes(voter, post, index, index.astype(np.float64), time, tiebreak)
    expected = python_canonical(voter.tolist(), post.tolist(), time.tolist(), tiebreak.tolist())
    kept = zip(got[1].tolist(), got[4].tolist(), got[0].tolist(), got[2].tolist(), strict=True)
    assert list(kept) == expected
    assert got[3].tolist() == [float(e[3]) for e in expected]


def test_a_simulated_world_settles_as_the_oracle_does() -> None:
    epoch = world_epoch(3, shuffle=4)
    expected = settle_records(epoch)
    assert len(expected.payouts) > 50
    assert settle_epoch(EpochColumns.of(epoch)) == expected


def test_columns_round_trip_records() -> None:
    epoch = messy_epoch(1)
    columns = EpochColumns.of(epoch)
    assert columns.records() == epoch
    assert len(columns.votes) == len(epoch.votes)
    assert EpochColumns.of(columns.records()) == columns


def test_a_post_given_two_ways_is_rejected() -> None:
    epoch = messy_epoch(2)
    first = next(p for p in epoch.posts if epoch.start <= p.created_at < epoch.end)
    twisted = dataclasses.replace(
        epoch, posts=(*epoch.posts, Post(first.id, key("someone else"), first.created_at))
    )
    with pytest.raises(Rejected, match="appears twice"):
        from_input(EpochColumns.of(twisted))


HEX = key("x")


@pytest.mark.parametrize(
    "build",
    [
        lambda: PostColumns((HEX,), (HEX.upper(),), (1,)),
        lambda: PostColumns((HEX,), (HEX[:-1] + " ",), (1,)),
        lambda: PostColumns((HEX,), (HEX + "0",), (1,)),
        lambda: PostColumns((HEX,), (HEX[:-1] + "é",), (1,)),
        lambda: PostColumns((HEX,), (HEX,), (-1,)),
        lambda: PostColumns((HEX,), (HEX,), (True,)),
        lambda: PostColumns((HEX,), (HEX,), (2**63,)),
        lambda: PostColumns((HEX,), (HEX,), ()),
        lambda: VoteColumns((HEX,), (HEX,), (HEX,), (True,), (1.0,), (1,)),
        lambda: VoteColumns((HEX,), (HEX,), (HEX,), (0,), (1.0,), (1,)),
        lambda: VoteColumns((HEX,), (HEX,), (HEX,), (1,), (0.0,), (1,)),
        lambda: VoteColumns((HEX,), (HEX,), (HEX,), (1,), (float("nan"),), (1,)),
        lambda: VoteColumns((HEX,), (HEX,), (HEX,), (1,), (1.5,), (1,)),
        lambda: VoteColumns((HEX,), (HEX,), (HEX,), (1,), ("1",), (1,)),  # type: ignore[arg-type]
        lambda: FollowColumns((HEX,), (7,)),  # type: ignore[arg-type]
    ],
)
def test_columns_check_what_records_check(build: object) -> None:
    with pytest.raises(Rejected):
        build()  # type: ignore[operator]


def test_epoch_columns_check_the_epoch_fields() -> None:
    columns = EpochColumns.of(messy_epoch(0))
    with pytest.raises(Rejected):
        dataclasses.replace(columns, end=columns.start)
    with pytest.raises(Rejected):
        dataclasses.replace(columns, trust_seeds=("seed",))


class _Id:
    def __init__(self, id: str) -> None:
        self.id = id


def test_inputs_digest_is_over_the_sorted_distinct_ids() -> None:
    ids = [key(f"event {i}") for i in range(300)]
    # ids that share their first 8 or 16 bytes, an id given twice
    ids += ["00" * 31 + "01", "00" * 32, "00" * 8 + "ff" * 24, "00" * 8 + "fe" + "ff" * 23, ids[7]]
    random.Random(2).shuffle(ids)
    for chosen in (ids, ids[:1], [], [i for i in ids if not i.startswith("00")]):
        obvious = hashlib.sha256(bytes.fromhex("".join(sorted(set(chosen))))).hexdigest()
        assert inputs_digest(cast(list[Event], [_Id(i) for i in chosen])) == obvious


def test_sorted_unique_is_np_unique() -> None:
    rng = np.random.default_rng(9)
    for values in (rng.integers(-50, 50, 500), np.zeros(0, dtype=np.int64), np.array([3])):
        got, expected = sorted_unique(values), np.unique(values)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
