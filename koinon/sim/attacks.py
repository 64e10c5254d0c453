"""What attackers do: a set of strategies, each turning an honest world into an event log.

Attackers control 20% of the real accounts (and stake) and may create sybils. For every scheme
they play whichever strategy pays them most (runner.py; the set is in strategies.py), so each
scheme meets the attack that is best against it, including attacks aimed at Koinon's own
defences: camouflage against the cluster cap, sparse rings against cluster detection, attackers
vouching for their sybils against trust, and buying votes from whoever has the most weight
under each scheme (evasion.py has the replies to Koinon's closure and reading checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from koinon.rewards.params import DEFAULT_PARAMS
from koinon.rewards.trust import propagate_trust
from koinon.sim.log import (
    ATTACKER,
    HONEST,
    SYBIL,
    EventLog,
    FloatArray,
    IntArray,
    Votes,
    join_votes,
)
from koinon.sim.world import World, perceived, perceived_by

MINUTE = 60
HOUR = 60 * MINUTE
RING_VOTES = 70  # about what Hive's mana sustains: ten full votes a day
RING_SPARSE_VOTES = 10  # a sparse ring's votes per attacker, beside its honest ones
RING_VOTE_SPREAD = 10 * MINUTE  # ring members vote within ten minutes of a post
SELLERS = 0.05  # share of honest accounts that sell votes
BOUGHT_PER_POST = 5
ATTACK_EDGES = 10  # honest accounts fooled into following a sybil: "few links to real users"


@dataclass(frozen=True)
class Plan:
    """What a strategy adds to the honest world."""

    votes: Votes  # attackers' and sybils' votes (honest accounts' votes are added by `assemble`)
    keep_attacker_honest_votes: bool
    attacker_follows: tuple[IntArray, IntArray] | None  # None: attackers keep their own follows
    sybils: int = 0
    sybil_follows: tuple[IntArray, IntArray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    bought: Votes | None = None  # votes honest sellers cast for pay


SellerRanking = Callable[[World], IntArray]  # honest accounts, most valuable first


def after_posting(
    world: World, post: IntArray, rng: np.random.Generator, spread: int = RING_VOTE_SPREAD
) -> IntArray:
    """Times just after the posts were created (bots vote within `spread` seconds)."""
    return world.post_time[post] + rng.integers(1, spread + 1, post.shape[0])


def _pick_targets(
    world: World, voters: IntArray, targets: IntArray, counts: IntArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """(voter, post) pairs: each voter picks its count of distinct random `targets`, never its own
    post (a voter left with too few others' posts picks fewer)."""
    keys = rng.random((voters.shape[0], targets.shape[0]))
    keys[voters[:, None] == world.post_author[targets][None, :]] = 2.0  # own posts sort last
    picks = np.argsort(keys, axis=1)
    wanted = np.minimum(counts, targets.shape[0])
    chosen = np.arange(targets.shape[0])[None, :] < wanted[:, None]
    voter = np.repeat(voters, wanted)
    post = targets[picks[chosen]]
    keep = world.post_author[post] != voter
    return voter[keep], post[keep]


def ring_votes(
    world: World, voters: IntArray, targets: IntArray, per_voter: int, rng: np.random.Generator
) -> Votes:
    """Each voter upvotes `per_voter` random target posts (never its own) right after posting."""
    if targets.shape[0] == 0 or voters.shape[0] == 0:
        return Votes.empty()
    counts = np.full(voters.shape[0], per_voter, dtype=np.int64)
    voter, post = _pick_targets(world, voters, targets, counts, rng)
    return Votes.of(voter, post, after_posting(world, post, rng))


def _closed_follows(members: IntArray) -> tuple[IntArray, IntArray]:
    """Everyone in `members` follows every other member and nobody else."""
    src = np.repeat(members, members.shape[0])
    dst = np.tile(members, members.shape[0])
    keep = src != dst
    return src[keep], dst[keep]


def honest(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """Attackers behave like everyone else: the baseline."""
    return Plan(votes=Votes.empty(), keep_attacker_honest_votes=True, attacker_follows=None)


def _self_votes(world: World, members: IntArray, rng: np.random.Generator) -> Votes:
    own = world.posts_of(members)
    return Votes.of(world.post_author[own], own, after_posting(world, own, rng, MINUTE))


def self_vote(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """Vote honestly, and upvote every own post the moment it is out."""
    votes = _self_votes(world, world.attackers(), rng)
    return Plan(votes=votes, keep_attacker_honest_votes=True, attacker_follows=None)


def ring(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """A closed ring: upvote only each other, right away, and follow only each other."""
    members = world.attackers()
    votes = join_votes(
        [
            ring_votes(world, members, world.posts_of(members), RING_VOTES, rng),
            _self_votes(world, members, rng),
        ]
    )
    return Plan(
        votes=votes, keep_attacker_honest_votes=False, attacker_follows=_closed_follows(members)
    )


def ring_camouflage(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """A ring that also votes honestly (camouflage) and keeps ordinary follows."""
    members = world.attackers()
    votes = ring_votes(world, members, world.posts_of(members), RING_VOTES // 2, rng)
    return Plan(votes=votes, keep_attacker_honest_votes=True, attacker_follows=None)


def sparse_ring(world: World, per_voter: int, rng: np.random.Generator) -> Plan:
    """Every attacker adds `per_voter` upvotes for fellow attackers' posts and votes honestly."""
    members = world.attackers()
    votes = ring_votes(world, members, world.posts_of(members), per_voter, rng)
    return Plan(votes=votes, keep_attacker_honest_votes=True, attacker_follows=None)


def ring_sparse(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """A diffuse ring, hard to tell from a community: few ring votes each, honest otherwise."""
    return sparse_ring(world, RING_SPARSE_VOTES, rng)


def ring_downvote(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """A closed ring that also downvotes the best-looking competing posts."""
    plan = ring(world, fakes, rng)
    members = world.attackers()
    others = np.flatnonzero(world.role[world.post_author] == HONEST).astype(np.int64)
    if others.shape[0] == 0:
        return plan
    value = perceived_by(world, members, others, rng)
    per = min(10, others.shape[0])
    top = np.argsort(-value, axis=1)[:, :per]
    post = others[top.ravel()]
    down = Votes.of(np.repeat(members, per), post, after_posting(world, post, rng, 6 * 3600), -1)
    return Plan(
        votes=join_votes([plan.votes, down]),
        keep_attacker_honest_votes=False,
        attacker_follows=plan.attacker_follows,
    )


def early_bot(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """Curation farming: vote for what looks good within minutes of posting, twice as often."""
    members = world.attackers()
    n_posts = world.post_author.shape[0]
    voter = np.repeat(members, n_posts)
    post = np.tile(np.arange(n_posts, dtype=np.int64), members.shape[0])
    keep = world.post_author[post] != voter
    voter, post = voter[keep], post[keep]
    value = perceived(
        voter, post, world.camp, world.noise, world.post_author, world.post_quality,
        world.config.camp_bias, rng,
    )  # fmt: skip
    order = np.lexsort((-value, voter))
    sorted_voter = voter[order]
    first = np.r_[True, sorted_voter[1:] != sorted_voter[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(order.shape[0]), 0))
    rank = np.arange(order.shape[0]) - start
    chosen = order[rank < 2 * world.vote_cap[sorted_voter]]
    votes = Votes.of(
        voter[chosen], post[chosen], after_posting(world, post[chosen], rng, 5 * MINUTE)
    )
    return Plan(votes=votes, keep_attacker_honest_votes=False, attacker_follows=None)


HERD_LAG = HOUR  # a herder looks at each post this long after it was created (the best lag)
HERD_TOP = 0.05  # and upvotes among the posts most upvoted by then


def herd(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """Curation farming without judgement: instead of reading, each attacker upvotes as many
    posts as it would honestly, picked at random among the ones honest accounts had upvoted most
    `HERD_LAG` after posting. It agrees with the consensus every time, only late."""
    members = world.attackers()
    honest_up = (world.votes.direction > 0) & (world.role[world.votes.voter] == HONEST)
    seen = honest_up & (world.votes.time < world.post_time[world.votes.post] + HERD_LAG)
    n_posts = world.post_author.shape[0]
    count = np.bincount(world.votes.post[seen], minlength=n_posts)
    top = np.argsort(-count, kind="stable")[: max(1, round(HERD_TOP * n_posts))]
    voter, post = _pick_targets(world, members, top, world.vote_cap[members], rng)
    time = world.post_time[post] + HERD_LAG + rng.integers(0, HOUR, post.shape[0])
    return Plan(
        votes=Votes.of(voter, post, time), keep_attacker_honest_votes=False, attacker_follows=None
    )


def _farm(
    world: World, members: IntArray, fakes: int, vouch: int, rng: np.random.Generator
) -> tuple[IntArray, tuple[IntArray, IntArray]]:
    """Sybil ids and their follow edges: among themselves, to the attackers, attackers vouching
    for them (`vouch` follows each), and ATTACK_EDGES honest accounts fooled into following one."""
    n = world.n_accounts
    sybils = np.arange(n, n + fakes, dtype=np.int64)
    src = [np.repeat(sybils, 10), np.repeat(sybils, 5)]
    dst = [rng.choice(sybils, fakes * 10), rng.choice(members, fakes * 5)]
    if vouch:
        src.append(np.repeat(members, vouch))
        dst.append(rng.choice(sybils, members.shape[0] * vouch))
    fooled = rng.choice(np.flatnonzero(world.role == HONEST), ATTACK_EDGES, replace=False)
    src.append(fooled.astype(np.int64))
    dst.append(rng.choice(sybils, ATTACK_EDGES))
    s, d = np.concatenate(src), np.concatenate(dst)
    keep = s != d
    return sybils, (s[keep], d[keep])


def _sybil_plan(world: World, members: IntArray, fakes: int, rng: np.random.Generator) -> Plan:
    sybils, follows = _farm(world, members, fakes, 0, rng)
    own = world.posts_of(members)
    votes = join_votes(
        [ring_votes(world, sybils, own, RING_VOTES, rng), _self_votes(world, members, rng)]
    )
    return Plan(
        votes=votes,
        keep_attacker_honest_votes=True,
        attacker_follows=None,
        sybils=fakes,
        sybil_follows=follows,
    )


def sybil(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """A sybil farm upvotes the attackers' posts; attackers self-vote and vote honestly."""
    return _sybil_plan(world, world.attackers(), fakes, rng)


def sybil_vouched(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """Attackers follow only their sybils, pumping their trust into the farm; the sybils split
    their votes between the attackers' posts and good honest posts (camouflage)."""
    members = world.attackers()
    sybils, follows = _farm(world, members, fakes, 25, rng)
    own = world.posts_of(members)
    good = np.flatnonzero(
        (world.role[world.post_author] == HONEST)
        & (world.post_quality >= np.quantile(world.post_quality, 0.8))
    ).astype(np.int64)
    votes = join_votes(
        [
            ring_votes(world, sybils, own, RING_VOTES // 2, rng),
            ring_votes(world, sybils, good, RING_VOTES // 2, rng),
        ]
    )
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Plan(
        votes=votes,
        keep_attacker_honest_votes=True,
        attacker_follows=empty,
        sybils=fakes,
        sybil_follows=follows,
    )


def _buy(world: World, members: IntArray, sellers: IntArray, rng: np.random.Generator) -> Plan:
    """Every attacker post gets BOUGHT_PER_POST upvotes from paid sellers soon after posting."""
    own = world.posts_of(members)
    per = min(BOUGHT_PER_POST, sellers.shape[0])
    picks = np.argsort(rng.random((own.shape[0], sellers.shape[0])), axis=1)[:, :per]
    post = np.repeat(own, per)
    time = after_posting(world, post, rng, 15 * MINUTE)
    bought = Votes.of(sellers[picks.ravel()], post, time, bought=True)
    return Plan(
        votes=Votes.empty(), keep_attacker_honest_votes=True, attacker_follows=None, bought=bought
    )


def _top_honest(world: World, score: FloatArray) -> IntArray:
    honest_ids = np.flatnonzero(world.role == HONEST)
    count = max(1, round(SELLERS * honest_ids.shape[0]))
    return honest_ids[np.argsort(-score[honest_ids], kind="stable")[:count]].astype(np.int64)


def buy_from_whales(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """Buy votes from the honest accounts with the most stake (Hive's bid bots)."""
    return _buy(world, world.attackers(), _top_honest(world, world.stake), rng)


def buy_from_trusted(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """Buy votes from the honest accounts with the most trust, computed as Koinon does."""
    trust = propagate_trust(
        world.n_accounts, world.follow_src, world.follow_dst, world.seeds, DEFAULT_PARAMS
    ).trust
    return _buy(world, world.attackers(), _top_honest(world, trust), rng)


def mixed(world: World, fakes: int, rng: np.random.Generator) -> Plan:
    """One log with every kind of attacker: a quarter each of self-voters, a camouflaged ring,
    sybil farmers (with `fakes` sybils) and vote buyers."""
    groups = np.array_split(rng.permutation(world.attackers()), 4)
    voters, ring_group, farmers, buyers = groups
    farm = _sybil_plan(world, farmers, fakes, rng) if fakes else None
    bought = _buy(world, buyers, _top_honest(world, world.stake), rng).bought
    votes = [
        _self_votes(world, voters, rng),
        ring_votes(world, ring_group, world.posts_of(ring_group), RING_VOTES // 2, rng),
    ]
    if farm is not None:
        votes.append(farm.votes)
    return Plan(
        votes=join_votes(votes),
        keep_attacker_honest_votes=True,
        attacker_follows=None,
        sybils=fakes if farm is not None else 0,
        sybil_follows=farm.sybil_follows if farm is not None else (np.zeros(0, np.int64),) * 2,
        bought=bought,
    )


Strategy = Callable[[World, int, np.random.Generator], Plan]


def assemble(world: World, plan: Plan) -> EventLog:
    """The event log: the honest world plus what the plan adds."""
    attacker = world.role == ATTACKER
    honest_votes = world.votes
    keep = ~attacker[honest_votes.voter] | plan.keep_attacker_honest_votes
    base = Votes(
        voter=honest_votes.voter[keep],
        post=honest_votes.post[keep],
        direction=honest_votes.direction[keep],
        weight=honest_votes.weight[keep],
        time=honest_votes.time[keep],
        bought=honest_votes.bought[keep],
    )
    batches = [base, plan.votes] + ([plan.bought] if plan.bought is not None else [])
    votes = join_votes(batches)
    # one vote per voter and post: the first one cast (a later one would only edit it)
    order = np.lexsort((votes.time, votes.post, votes.voter))
    pair = votes.voter[order] * max(world.post_author.shape[0], 1) + votes.post[order]
    first = order[np.r_[True, pair[1:] != pair[:-1]]] if order.shape[0] else order
    in_time = np.zeros(votes.voter.shape[0], dtype=bool)
    in_time[first] = True
    in_time &= votes.time < world.end
    src, dst = world.follow_src, world.follow_dst
    if plan.attacker_follows is not None:
        mine = attacker[src]
        src = np.concatenate([src[~mine], plan.attacker_follows[0]])
        dst = np.concatenate([dst[~mine], plan.attacker_follows[1]])
    src = np.concatenate([src, plan.sybil_follows[0]])
    dst = np.concatenate([dst, plan.sybil_follows[1]])
    n = world.n_accounts + plan.sybils
    role = np.concatenate([world.role, np.full(plan.sybils, SYBIL, dtype=np.int64)])
    camp = np.concatenate([world.camp, np.zeros(plan.sybils, dtype=np.int64)])
    # a fresh account holds a few Hive Power (the account creation fee, delegated)
    stake = np.concatenate([world.stake, np.full(plan.sybils, 5.0)])
    assert role.shape[0] == n
    return EventLog(
        role=role,
        camp=camp,
        stake=stake,
        post_author=world.post_author,
        post_time=world.post_time,
        post_quality=world.post_quality,
        vote_voter=votes.voter[in_time],
        vote_post=votes.post[in_time],
        vote_direction=votes.direction[in_time],
        vote_weight=votes.weight[in_time],
        vote_time=votes.time[in_time],
        vote_bought=votes.bought[in_time],
        follow_src=src,
        follow_dst=dst,
        seeds=world.seeds,
        end=world.end,
    )
