"""The pieces of Koinon's mechanism on hand-computable cases, and settle_epoch end to end."""

from __future__ import annotations

import numpy as np
import pytest

from koinon.errors import Rejected
from koinon.rewards.allocate import allocate
from koinon.rewards.bonds import misleading_posts, slash_bonds
from koinon.rewards.bridging import Support, concave, with_bridging
from koinon.rewards.clusters import in_cluster_factor, label_clusters, respend_excess
from koinon.rewards.curation import curation_rewards, earliness
from koinon.rewards.model import Bond, EpochInput, NoteOutcome, NoteStatus, Vote
from koinon.rewards.params import Params
from koinon.rewards.settle import settle_epoch, split_pool
from tests.rewards.reward_builders import epoch, key, post, vote

PARAMS = Params()


def arr(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# A small network: a seed everyone trusts, eight people in a cycle of follows.
PEOPLE = [f"p{i}" for i in range(8)]
FOLLOWS = (
    [("seed", p) for p in PEOPLE]
    + [(PEOPLE[i], PEOPLE[(i + 1) % 8]) for i in range(8)]
    + [(p, "seed") for p in PEOPLE]
)


def test_allocation_sums_exactly_and_breaks_ties_by_index() -> None:
    assert allocate(10, np.array([1.0, 1.0, 1.0])) == [4, 3, 3]
    assert allocate(7, np.array([0.0, 2.0, 1.0])) == [0, 5, 2]
    assert allocate(10**27 + 1, np.array([3.0, 3.0, 4.0])) == [
        300000000000000000000000000,
        300000000000000000000000000,
        400000000000000000000000001,
    ]
    assert allocate(5, np.array([0.0, 0.0])) == [0, 0]


def test_concave_curve_and_bridging_bonus() -> None:
    assert concave(np.array([2.0, 4.0, 16.0]), 4.0) == pytest.approx([2.0, 4.0, 12.0])
    support = Support(total=np.array([2.0, 2.0, 2.0]), own=np.array([2.0, 1.0, 0.0]))
    # only the post liked both inside and outside its author's cluster gets a bonus
    assert with_bridging(support, 0.5) == pytest.approx([2.0, 2.5, 2.0])


def test_earlier_agreement_earns_more_curation() -> None:
    post_ids, times, mass = arr([0, 0, 0]), arr([1, 2, 3]), np.ones(3)
    assert earliness(post_ids, times, mass, 0.1) == pytest.approx(
        [0.1 + 0.9 * 2 / 3, 0.1 + 0.9 / 3, 0.1]
    )
    # votes in the same second are simultaneous
    assert earliness(arr([0, 0]), arr([5, 5]), np.ones(2), 0.0) == pytest.approx([0.0, 0.0])
    rewards = curation_rewards(arr([0, 1, 2]), post_ids, times, mass, np.array([1.0]), 3, 0.1)
    assert rewards[0] > rewards[1] > rewards[2]
    assert rewards.sum() == pytest.approx(1.0)


def test_planted_ring_is_one_cluster() -> None:
    rng = np.random.default_rng(1)
    # 60 people voting at random for each other, 10 ring members voting only for each other
    src = list(rng.integers(0, 60, 600))
    dst = list(rng.integers(0, 60, 600))
    for a in range(60, 70):
        for b in range(60, 70):
            if a != b:
                src.append(a)
                dst.append(b)
    labels = label_clusters(70, arr(src), arr(dst), np.ones(len(src)), PARAMS)
    assert len(set(labels[60:].tolist())) == 1
    assert labels[60] not in set(labels[:60].tolist())


@pytest.mark.parametrize("size", [5, 50])
def test_a_ring_gets_from_itself_a_bounded_multiple_of_its_fair_share(size: int) -> None:
    # cluster 0: 100 outsiders spending 1 each, 10% of it on the ring's posts;
    # cluster 1: the ring, spending everything on itself
    outsiders = 100
    voter = arr([*range(outsiders), *range(outsiders, outsiders + size)])
    author = arr([outsiders if i < 10 else 0 for i in range(outsiders)] + [outsiders] * size)
    # outsider 0 is an author too (of the outsiders' own posts)
    labels = arr([0] * outsiders + [outsiders] * size)
    mass = np.ones(voter.shape[0])
    authors = arr([0, outsiders])
    weight = np.ones(outsiders + size)
    factor = in_cluster_factor(labels, voter, author, mass, authors, weight, Params())
    ring_effective = float((mass * factor)[outsiders:].sum())
    fair = max(10 / outsiders, 1 / 2) * size  # appraisal 10%, supply: one author of two
    assert ring_effective <= PARAMS.in_cluster_tolerance * fair + 1e-9
    assert factor[:outsiders].min() == 1.0  # votes across clusters count in full
    respent = respend_excess(
        labels, voter, arr(list(range(outsiders + size))) * 0, arr([0]), mass, mass * factor
    )
    assert respent.shape == (1,)


def two_reading_communities() -> tuple[list[int], list[int]]:
    """(voter, author) of 5 votes each by clusters 0-39 and 40-79: 3 for their own authors, 2
    for the other cluster's."""
    voter: list[int] = []
    author: list[int] = []
    for v in range(80):
        own, other = (0, 40) if v < 40 else (40, 0)
        voter += [v] * 5
        author += [own + (v + k) % 40 for k in range(3)] + [other + (v + k) % 40 for k in range(2)]
    return voter, author


def test_a_cluster_that_does_not_read_whom_it_upvotes_gets_only_its_fair_share() -> None:
    # clusters 0 and 1 (40 voters each) vote 60% for their own authors, 40% for the other's;
    # cluster 2 (20 voters) votes only for itself. Clusters 0 and 1 vote for people they follow.
    voter, author = two_reading_communities()
    for v in range(80, 100):
        voter += [v] * 5
        author += [80 + (v + k) % 20 for k in range(1, 6)]
    labels = arr([0] * 40 + [40] * 40 + [80] * 20)
    mass = np.ones(len(voter))
    weight = np.ones(100)
    authors = arr(list(range(100)))
    ring = np.array(voter) >= 80

    def ring_support(reads: bool) -> float:
        reading = (~ring | reads).astype(np.float64)
        factor = in_cluster_factor(
            labels, arr(voter), arr(author), mass, authors, weight, PARAMS, reading
        )
        assert factor[~ring].min() == 1.0  # the reading communities keep their preference
        return float((mass * factor)[ring].sum())

    fair = 0.2 * 20 * 5  # its authors' share of all authors' weight, times its mass
    assert ring_support(reads=False) == pytest.approx(fair)
    # reading whom it upvotes, it may prefer itself as much as the typical community does
    # (60% of its votes for its own 40% of the authors)
    assert ring_support(reads=True) == pytest.approx(1.5 * fair)


def test_reading_elsewhere_earns_a_ring_no_preference_for_itself() -> None:
    # as above, but the ring (80-99) casts two of its five votes on its own and three on people
    # it follows in clusters 0 and 1: its honest-looking votes read, its votes for itself do not
    voter, author = two_reading_communities()
    for v in range(80, 100):
        voter += [v] * 5
        author += [80 + (v + k) % 20 for k in (1, 2)] + [(v + k) % 80 for k in range(3)]
    labels = arr([0] * 40 + [40] * 40 + [80] * 20)
    mass = np.ones(len(voter))
    ring = np.array(voter) >= 80
    reading = (~ring | (np.array(author) < 80)).astype(np.float64)
    factor = in_cluster_factor(
        labels, arr(voter), arr(author), mass, arr(list(range(100))), np.ones(100), PARAMS, reading
    )
    own = ring & (np.array(author) >= 80)
    fair = 0.2 * 20 * 5  # its authors' share of all authors' weight, times its mass
    assert float((mass * factor)[own].sum()) == pytest.approx(fair)
    assert factor[~own].min() == 1.0


def test_misleading_outcome_slashes_bonds_to_writers_and_pool() -> None:
    owner, w1, w2 = key("owner"), key("w1"), key("w2")
    target = key("post:claim")
    outcomes = [NoteOutcome(target, NoteStatus.MISLEADING, (w1, w2, owner))]
    slashes, paid = slash_bonds(
        [Bond(target, owner, 1001), Bond(key("post:other"), owner, 50)],
        misleading_posts(outcomes),
        PARAMS,
    )
    assert len(slashes) == 1
    slash = slashes[0]
    assert (slash.amount, slash.to_writers, slash.to_pool) == (1001, 500, 501)
    assert paid == {w1: 250, w2: 250}  # the owner never gets a share of their own bond


def test_outcome_status_is_checked() -> None:
    with pytest.raises(Rejected):
        NoteOutcome(key("x"), "maybe", ())  # type: ignore[arg-type]
    with pytest.raises(Rejected):
        Vote(key("v"), key("a"), key("p"), 1, 1.5, 10)


def network_epoch(pool: int = 10**21, **extra: object) -> EpochInput:
    posts = [post(f"by-{p}", p) for p in PEOPLE]
    votes = [vote(PEOPLE[i], f"by-{PEOPLE[(i + 2) % 8]}", at=200 + i) for i in range(8)]
    votes += [vote(PEOPLE[i], f"by-{PEOPLE[(i + 3) % 8]}", at=300 + i) for i in range(8)]
    return epoch(posts, votes, FOLLOWS, ["seed"], pool, **extra)


def test_payouts_sum_to_the_pool() -> None:
    for pool in (10**21, 10**21 + 7, 3):
        result = settle_epoch(network_epoch(pool=pool))
        author, curation = split_pool(pool, PARAMS)
        assert sum(p.author for p in result.payouts) == author
        assert sum(p.curation for p in result.payouts) == curation
        assert sum(p.amount for p in result.payouts) == pool
        assert result.undistributed == 0
        assert sum(r.amount for r in result.posts) == author


def test_self_votes_weigh_nothing() -> None:
    base = network_epoch()
    with_self = epoch(
        list(base.posts), [*base.votes, vote("p0", "by-p0", at=150)], FOLLOWS, ["seed"]
    )
    assert settle_epoch(with_self).payouts == settle_epoch(base).payouts


def test_downvotes_do_not_spend_the_upvote_budget() -> None:
    base = network_epoch()
    junk = post("junk", "p5")
    down = vote("p1", "junk", at=250, direction=-1)
    with_down = epoch([*base.posts, junk], [*base.votes, down], FOLLOWS, ["seed"])
    without = epoch([*base.posts, junk], list(base.votes), FOLLOWS, ["seed"])
    scored = {r.post_id: r.score for r in settle_epoch(with_down).posts}
    plain = {r.post_id: r.score for r in settle_epoch(without).posts}
    for name in ("by-p3", "by-p4"):  # p1's upvotes keep their full weight
        assert scored[key("post:" + name)] == pytest.approx(plain[key("post:" + name)])


def test_misleading_post_earns_nothing_and_its_bond_is_slashed() -> None:
    target = key("post:by-p2")
    outcome = NoteOutcome(target, NoteStatus.MISLEADING, (key("p7"),))
    result = settle_epoch(
        network_epoch(bonds=(Bond(target, key("p2"), 10**18),), outcomes=(outcome,))
    )
    assert {r.post_id: r.amount for r in result.posts}.get(target, 0) == 0
    assert result.slashes[0].to_writers == 10**18 // 2
    notes = {p.pubkey: p.notes for p in result.payouts}
    assert notes[key("p7")] == 10**18 // 2
    assert result.returned_to_pool == 10**18 - 10**18 // 2


def test_no_seeds_distributes_nothing() -> None:
    base = network_epoch()
    unseeded = epoch(list(base.posts), list(base.votes), FOLLOWS, [])
    result = settle_epoch(unseeded)
    assert result.payouts == ()
    assert result.undistributed == unseeded.pool
