"""Attacks on Koinon's own defences: rings that read each other, farms that look open.

Koinon lets a community prefer its own posts in proportion to how much its members vote for
people they follow, and it takes back the trust of groups that keep their follows among
themselves. The obvious replies are to follow the ring members one upvotes (so the ring's votes
look like reading) and to keep one's ordinary follows while vouching for a sybil farm (so the
group's trust seems to flow out). Against any detection of groups, the reply is a ring too faint
to stand out from the communities around it. These strategies play those replies against every
scheme.
"""

from __future__ import annotations

import numpy as np

from koinon.sim.attacks import (
    RING_SPARSE_VOTES,
    Plan,
    ring,
    ring_camouflage,
    ring_sparse,
    ring_votes,
    sparse_ring,
    sybil_vouched,
)
from koinon.sim.log import IntArray
from koinon.sim.world import World, perceived_by


def _follow_upvoted(world: World, plan: Plan) -> tuple[IntArray, IntArray]:
    """The attackers' ordinary follows plus a follow of every fellow attacker they upvote."""
    members = world.attackers()
    votes = plan.votes
    author = world.post_author[votes.post]
    mutual = (
        np.isin(votes.voter, members)
        & np.isin(author, members)
        & (votes.direction > 0)
        & (votes.voter != author)
    )
    width = world.n_accounts
    pairs = np.unique(votes.voter[mutual] * width + author[mutual])
    mine = np.isin(world.follow_src, members)
    src = np.concatenate([world.follow_src[mine], pairs // width])
    dst = np.concatenate([world.follow_dst[mine], pairs % width])
    return src, dst


def _following_upvoted(world: World, plan: Plan, keep_honest_votes: bool) -> Plan:
    """`plan`'s votes, its attackers also following the ring members they upvote."""
    return Plan(
        votes=plan.votes,
        keep_attacker_honest_votes=keep_honest_votes,
        attacker_follows=_follow_upvoted(world, plan),
    )


def ring_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """A ring that upvotes only each other, follows whom it upvotes, keeps ordinary follows."""
    plan = ring(world, fakes, rng)
    return _following_upvoted(world, plan, keep_honest_votes=False)


def ring_camouflage_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_camouflage`, also following the ring members it upvotes."""
    plan = ring_camouflage(world, fakes, rng)
    return _following_upvoted(world, plan, keep_honest_votes=True)


def ring_sparse_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_sparse`, also following the ring members it upvotes."""
    plan = ring_sparse(world, fakes, rng)
    return _following_upvoted(world, plan, keep_honest_votes=True)


FAINT_RING_VOTES = 3  # a tenth of one's upvotes: below what we could detect (docs/rewards.md)


def ring_faint(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_sparse` at three ring votes each: too faint to tell from a community's taste."""
    return sparse_ring(world, FAINT_RING_VOTES, rng)


def ring_faint_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_faint`, also following the ring members it upvotes."""
    plan = ring_faint(world, fakes, rng)
    return _following_upvoted(world, plan, keep_honest_votes=True)


def _better_half(world: World, rng: np.random.Generator) -> IntArray:
    """The better half of the attackers' posts, as the members judge them together (each post's
    mean perceived value over the members; their personal noise averages out)."""
    members = world.attackers()
    own = world.posts_of(members)
    mean = perceived_by(world, members, own, rng).mean(axis=0)
    return own[np.argsort(-mean, kind="stable")[: (own.shape[0] + 1) // 2]]


def _choosy_ring(world: World, per_voter: int, rng: np.random.Generator) -> Plan:
    votes = ring_votes(world, world.attackers(), _better_half(world, rng), per_voter, rng)
    return Plan(votes=votes, keep_attacker_honest_votes=True, attacker_follows=None)


def ring_choosy(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_sparse`, but the ten ring votes go only to the better half of the ring's posts: the
    mechanism trims less of that support, and the ring votes first on posts that honest voters
    carry later (docs/rewards.md)."""
    return _choosy_ring(world, RING_SPARSE_VOTES, rng)


def ring_choosy_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_choosy`, also following the ring members it upvotes."""
    plan = ring_choosy(world, fakes, rng)
    return _following_upvoted(world, plan, keep_honest_votes=True)


def ring_choosy_faint(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_choosy` at three ring votes each, as faint as `ring_faint`."""
    return _choosy_ring(world, FAINT_RING_VOTES, rng)


def ring_choosy_faint_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_choosy_faint`, also following the ring members it upvotes."""
    plan = ring_choosy_faint(world, fakes, rng)
    return _following_upvoted(world, plan, keep_honest_votes=True)


def ring_choosy5_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_choosy_follow` at five ring votes each: between the faint ring and the ten-vote one,
    where a detector of groups would have to reach (docs/rewards.md)."""
    return _following_upvoted(world, _choosy_ring(world, 5, rng), keep_honest_votes=True)


def ring_choosy7_follow(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`ring_choosy_follow` at seven ring votes each."""
    return _following_upvoted(world, _choosy_ring(world, 7, rng), keep_honest_votes=True)


def sybil_vouched_open(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """`sybil_vouched`, but the attackers keep their ordinary follows besides vouching."""
    plan = sybil_vouched(world, fakes, rng)
    return Plan(
        votes=plan.votes,
        keep_attacker_honest_votes=True,
        attacker_follows=None,
        sybils=plan.sybils,
        sybil_follows=plan.sybil_follows,
    )
