"""What the ring strategies add to a world: whom they vote for, how many votes, and the follows."""

from __future__ import annotations

import numpy as np
import pytest

from koinon.sim.attacks import (
    HERD_LAG,
    HERD_TOP,
    HOUR,
    RING_SPARSE_VOTES,
    RING_VOTE_SPREAD,
    Strategy,
    assemble,
    herd,
)
from koinon.sim.evasion import (
    FAINT_RING_VOTES,
    ring_choosy,
    ring_choosy5_follow,
    ring_choosy7_follow,
    ring_choosy_faint,
    ring_choosy_follow,
    ring_faint,
)
from koinon.sim.log import HONEST
from koinon.sim.world import World, WorldConfig, generate_world


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(WorldConfig(accounts=300), np.random.default_rng([5, 0]))


def test_a_choosy_ring_votes_for_the_better_half_of_its_posts(world: World) -> None:
    plan = ring_choosy(world, 0, np.random.default_rng(1))
    members = world.attackers()
    own = world.posts_of(members)
    votes = plan.votes
    assert np.isin(votes.voter, members).all() and np.isin(votes.post, own).all()
    assert (world.post_author[votes.post] != votes.voter).all()
    assert (votes.direction == 1).all()
    # ten each, on distinct posts, right after they were posted
    assert (np.bincount(votes.voter)[members] == RING_SPARSE_VOTES).all()
    pairs = votes.voter * world.post_author.shape[0] + votes.post
    assert np.unique(pairs).shape[0] == pairs.shape[0]
    delay = votes.time - world.post_time[votes.post]
    assert ((delay >= 1) & (delay <= RING_VOTE_SPREAD)).all()
    # only the better half: the members' judgement is noisy, so compare hidden quality broadly
    chosen = np.unique(votes.post)
    assert chosen.shape[0] <= (own.shape[0] + 1) // 2
    median = np.median(world.post_quality[own])
    assert np.mean(world.post_quality[chosen] > median) > 0.9
    assert plan.keep_attacker_honest_votes and plan.attacker_follows is None


def test_a_choosy_ring_that_follows_adds_a_follow_per_member_it_upvotes(world: World) -> None:
    rng_a, rng_b = np.random.default_rng(2), np.random.default_rng(2)
    plain, follows = ring_choosy(world, 0, rng_a), ring_choosy_follow(world, 0, rng_b)
    assert np.array_equal(plain.votes.post, follows.votes.post)
    assert follows.attacker_follows is not None
    src, dst = follows.attacker_follows
    edges = set(zip(src.tolist(), dst.tolist(), strict=True))
    upvoted = {
        (int(v), int(world.post_author[p]))
        for v, p in zip(follows.votes.voter, follows.votes.post, strict=True)
    }
    assert upvoted <= edges
    members = world.attackers()
    ordinary = {
        (int(s), int(d))
        for s, d in zip(world.follow_src, world.follow_dst, strict=True)
        if s in set(members.tolist())
    }
    assert edges == ordinary | upvoted
    log = assemble(world, follows)
    assert log.n_accounts == world.n_accounts


@pytest.mark.parametrize(
    ("strategy", "per_voter"),
    [
        (ring_faint, FAINT_RING_VOTES),
        (ring_choosy_faint, FAINT_RING_VOTES),
        (ring_choosy5_follow, 5),
        (ring_choosy7_follow, 7),
    ],
)
def test_the_weaker_rings_cast_fewer_votes_each(
    world: World, strategy: Strategy, per_voter: int
) -> None:
    votes = strategy(world, 0, np.random.default_rng(3)).votes
    assert (np.bincount(votes.voter)[world.attackers()] == per_voter).all()


def test_a_herder_upvotes_what_honest_accounts_had_upvoted_most_an_hour_in(world: World) -> None:
    plan = herd(world, 0, np.random.default_rng(4))
    members = world.attackers()
    votes = plan.votes
    assert np.isin(votes.voter, members).all() and (votes.direction == 1).all()
    assert (world.post_author[votes.post] != votes.voter).all()
    pairs = votes.voter * world.post_author.shape[0] + votes.post
    assert np.unique(pairs).shape[0] == pairs.shape[0]
    # as many votes as each would cast honestly, fewer only if the popular posts run out
    top = round(HERD_TOP * world.post_author.shape[0])
    chosen = np.unique(votes.post)
    cast = np.bincount(votes.voter, minlength=world.n_accounts)[members]
    own = np.bincount(world.post_author, minlength=world.n_accounts)[members]
    assert (cast <= world.vote_cap[members]).all()
    assert (cast >= np.minimum(world.vote_cap[members], top - own)).all()
    assert (cast < world.vote_cap[members]).any() and (cast == world.vote_cap[members]).any()
    # late: only after an hour's honest votes are in
    delay = votes.time - world.post_time[votes.post]
    assert ((delay >= HERD_LAG) & (delay < HERD_LAG + HOUR)).all()
    # on the posts most upvoted by honest accounts within that hour, and nothing else
    honest = world.votes.direction > 0
    honest &= world.role[world.votes.voter] == HONEST
    honest &= world.votes.time < world.post_time[world.votes.post] + HERD_LAG
    count = np.bincount(world.votes.post[honest], minlength=world.post_author.shape[0])
    assert chosen.shape[0] <= top
    assert count[chosen].min() >= np.sort(count)[-chosen.shape[0]]
    assert count[chosen].min() > np.median(count)
    assert not plan.keep_attacker_honest_votes and plan.attacker_follows is None
