"""The honest world of one simulated epoch: people in two opinion camps, who post things of hidden
quality, follow authors they like, and vote on what they see as they perceive it.

Everything random comes from the `numpy.random.Generator` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from koinon.sim.log import (
    ATTACKER,
    HONEST,
    MAJORITY,
    MINORITY,
    PAYOUT_WINDOW,
    BoolArray,
    FloatArray,
    IntArray,
    Votes,
)


@dataclass(frozen=True)
class WorldConfig:
    """The shape of the simulated network (real accounts only; sybils come with the attacks)."""

    accounts: int = 1000
    attacker_accounts: float = 0.2  # share of real accounts controlled by attackers
    attacker_stake: float = 0.2  # share of all stake they hold
    minority: float = 0.35  # share of people in the minority opinion camp
    posts_per_account: float = 2.0  # mean posts per account in the epoch
    votes_per_account: float = 20.0  # mean upvotes an honest account casts
    seen_per_account: int = 60  # posts each account sees besides those of people it follows
    follows_per_account: float = 25.0
    camp_bias: float = 0.08  # how much better one's own camp's posts look
    junk_below: float = 0.2  # perceived value under which a post looks like junk
    downvote_junk: float = 0.3  # chance an honest account downvotes a post it sees as junk
    seeds: int = 20  # honest accounts the operators seed trust with
    stake_median: float = 2000.0  # Hive Power
    stake_sigma: float = 1.5  # log-normal spread of stake


@dataclass(frozen=True, eq=False)
class World:
    """One honest world; attacks add their accounts, votes and follows on top."""

    config: WorldConfig
    role: IntArray
    camp: IntArray
    stake: FloatArray
    skill: FloatArray  # hidden: mean quality of an account's posts
    noise: FloatArray  # how noisily an account perceives quality
    threshold: FloatArray  # perceived value above which it upvotes
    vote_cap: IntArray  # most upvotes it casts in the epoch
    delay: FloatArray  # mean seconds between a post and this account seeing it
    post_author: IntArray
    post_time: IntArray
    post_quality: FloatArray
    follow_src: IntArray  # everyone's own choice of follows (attackers may replace theirs)
    follow_dst: IntArray
    votes: Votes  # what everyone, attackers included, would vote if honest
    seeds: IntArray
    end: int

    @property
    def n_accounts(self) -> int:
        """Number of real accounts."""
        return int(self.role.shape[0])

    def attackers(self) -> IntArray:
        """The attackers' real accounts."""
        return np.flatnonzero(self.role == ATTACKER).astype(np.int64)

    def posts_of(self, accounts: IntArray) -> IntArray:
        """Posts written by any of `accounts`."""
        return np.flatnonzero(np.isin(self.post_author, accounts)).astype(np.int64)


def generate_world(config: WorldConfig, rng: np.random.Generator) -> World:
    """Draw one honest world."""
    n = config.accounts
    role = np.full(n, HONEST, dtype=np.int64)
    role[rng.permutation(n)[: round(n * config.attacker_accounts)]] = ATTACKER
    camp = np.where(rng.random(n) < config.minority, MINORITY, MAJORITY).astype(np.int64)
    stake = config.stake_median * rng.lognormal(0.0, config.stake_sigma, n)
    attackers = role == ATTACKER
    if attackers.any() and 0.0 < config.attacker_stake < 1.0:
        wanted = config.attacker_stake / (1.0 - config.attacker_stake) * stake[~attackers].sum()
        stake[attackers] *= wanted / stake[attackers].sum()
    skill = rng.beta(3.0, 3.0, n)
    noise = rng.uniform(0.08, 0.2, n)
    threshold = rng.uniform(0.5, 0.65, n)
    vote_cap = np.maximum(1, np.round(config.votes_per_account * rng.lognormal(-0.18, 0.6, n)))
    delay = 8 * 3600 * rng.lognormal(0.0, 0.8, n)

    post_count, post_author, post_time, quality = _posts(config, skill, rng)

    follow_src, follow_dst = _follows(config, camp, skill, post_count, rng)
    in_degree = np.bincount(follow_dst, minlength=n)
    seeds = _seeds(config, role, camp, in_degree, rng)
    votes = _honest_votes(
        config, camp, noise, threshold, vote_cap, delay, post_author, post_time, quality,
        follow_src, follow_dst, rng,
    )  # fmt: skip
    return World(
        config=config,
        role=role,
        camp=camp,
        stake=stake,
        skill=skill,
        noise=noise,
        threshold=threshold,
        vote_cap=vote_cap.astype(np.int64),
        delay=delay,
        post_author=post_author,
        post_time=post_time,
        post_quality=quality,
        follow_src=follow_src,
        follow_dst=follow_dst,
        votes=votes,
        seeds=seeds,
        end=2 * PAYOUT_WINDOW,
    )


def _posts(
    config: WorldConfig, skill: FloatArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """One epoch's posts: how many each account writes, their authors in a random order, their
    times, and their hidden quality (the author's skill plus noise)."""
    n = skill.shape[0]
    mean = config.posts_per_account * rng.lognormal(-0.125, 0.5, n)
    post_count = np.asarray(rng.poisson(mean), dtype=np.int64)
    post_author = np.repeat(np.arange(n, dtype=np.int64), post_count)
    post_author = post_author[np.argsort(rng.random(post_author.shape[0]), kind="stable")]
    post_time = rng.integers(0, PAYOUT_WINDOW, post_author.shape[0]).astype(np.int64)
    quality = np.clip(skill[post_author] + rng.normal(0.0, 0.12, post_author.shape[0]), 0.0, 1.0)
    return post_count, post_author, post_time, quality


def next_epoch(world: World, rng: np.random.Generator) -> World:
    """Another epoch of the same network: the same people, follows and tastes, new posts and
    the honest votes on them (what the ring detector reads as earlier epochs)."""
    config = world.config
    _, post_author, post_time, quality = _posts(config, world.skill, rng)
    cap = world.vote_cap.astype(np.float64)
    votes = _honest_votes(
        config, world.camp, world.noise, world.threshold, cap, world.delay,
        post_author, post_time, quality, world.follow_src, world.follow_dst, rng,
    )  # fmt: skip
    return replace(
        world, post_author=post_author, post_time=post_time, post_quality=quality, votes=votes
    )


def _follows(
    config: WorldConfig,
    camp: IntArray,
    skill: FloatArray,
    post_count: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """Each account follows authors it likes: good, active, more often of its own camp."""
    n = camp.shape[0]
    appeal = np.exp(4.0 * skill) * (0.5 + post_count)
    counts = np.clip(np.round(config.follows_per_account * rng.lognormal(-0.25, 0.7, n)), 1, n - 1)
    src: list[IntArray] = []
    dst: list[IntArray] = []
    for i in range(n):
        weight = appeal * np.where(camp == camp[i], 2.0, 1.0)
        weight[i] = 0.0
        # Gumbel top-k: k draws without replacement in proportion to weight
        keys = np.log(weight, out=np.full(n, -np.inf), where=weight > 0) + rng.gumbel(size=n)
        chosen = np.argpartition(-keys, int(counts[i]) - 1)[: int(counts[i])]
        src.append(np.full(chosen.shape[0], i, dtype=np.int64))
        dst.append(chosen.astype(np.int64))
    return np.concatenate(src), np.concatenate(dst)


def _seeds(
    config: WorldConfig,
    role: IntArray,
    camp: IntArray,
    in_degree: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    """Well-followed honest accounts from both camps, as operators would pick them."""
    chosen: list[int] = []
    for which, share in ((MAJORITY, 1.0 - config.minority), (MINORITY, config.minority)):
        pool = np.flatnonzero((role == HONEST) & (camp == which))
        if pool.shape[0] == 0:
            continue
        known = pool[in_degree[pool] >= np.quantile(in_degree[pool], 0.75)]
        count = min(known.shape[0], max(1, round(config.seeds * share)))
        chosen.extend(rng.choice(known, count, replace=False).tolist())
    return np.array(sorted(chosen), dtype=np.int64)


def perceived(
    voter: IntArray,
    post: IntArray,
    camp: IntArray,
    noise: FloatArray,
    post_author: IntArray,
    quality: FloatArray,
    bias: float,
    rng: np.random.Generator,
) -> FloatArray:
    """How good each post looks to each voter: quality, camp bias, and personal noise."""
    same = camp[voter] == camp[post_author[post]]
    value: FloatArray = quality[post] + np.where(same, bias, -bias)
    return value + noise[voter] * rng.normal(size=voter.shape[0])


def perceived_by(
    world: World, voters: IntArray, posts: IntArray, rng: np.random.Generator
) -> FloatArray:
    """How each of `posts` looks to each of `voters`: a voters × posts matrix of `perceived`."""
    voter = np.repeat(voters, posts.shape[0])
    post = np.tile(posts, voters.shape[0])
    value = perceived(
        voter, post, world.camp, world.noise, world.post_author, world.post_quality,
        world.config.camp_bias, rng,
    )  # fmt: skip
    return value.reshape(voters.shape[0], posts.shape[0])


def exposure(
    config: WorldConfig,
    n_accounts: int,
    post_author: IntArray,
    follow_src: IntArray,
    follow_dst: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """(voter, post) pairs of what each account sees: its follows' posts and a random sample."""
    by_author = np.argsort(post_author, kind="stable")
    count = np.bincount(post_author, minlength=n_accounts)
    start = np.r_[0, np.cumsum(count)[:-1]]
    per_edge = count[follow_dst]
    total = int(per_edge.sum())
    offset = np.arange(total) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    followed_post = by_author[np.repeat(start[follow_dst], per_edge) + offset]
    followed_voter = np.repeat(follow_src, per_edge)
    seen = rng.random(total) < 0.8
    n_posts = post_author.shape[0]
    random_voter = np.repeat(np.arange(n_accounts, dtype=np.int64), config.seen_per_account)
    random_post = rng.integers(0, n_posts, random_voter.shape[0]) if n_posts else random_voter[:0]
    voter = np.concatenate([followed_voter[seen], random_voter])
    post = np.concatenate([followed_post[seen], random_post]).astype(np.int64)
    keep = post_author[post] != voter
    voter, post = voter[keep], post[keep]
    _, first = np.unique(voter * max(n_posts, 1) + post, return_index=True)
    return voter[first], post[first]


def _honest_votes(
    config: WorldConfig,
    camp: IntArray,
    noise: FloatArray,
    threshold: FloatArray,
    vote_cap: FloatArray,
    delay: FloatArray,
    post_author: IntArray,
    post_time: IntArray,
    quality: FloatArray,
    follow_src: IntArray,
    follow_dst: IntArray,
    rng: np.random.Generator,
) -> Votes:
    """Everyone upvotes the best-looking posts it sees, up to its cap, when it sees them; and
    sometimes downvotes what looks like junk."""
    n = camp.shape[0]
    voter, post = exposure(config, n, post_author, follow_src, follow_dst, rng)
    value = perceived(voter, post, camp, noise, post_author, quality, config.camp_bias, rng)
    time = post_time[post] + rng.exponential(delay[voter]).astype(np.int64)
    in_time = time < post_time[post] + PAYOUT_WINDOW
    liked = in_time & (value > threshold[voter])
    up = _top_per_voter(voter, value, liked, vote_cap)
    down = (
        in_time & (value < config.junk_below) & (rng.random(voter.shape[0]) < config.downvote_junk)
    )
    votes_up = Votes.of(voter[up], post[up], time[up])
    votes_down = Votes.of(voter[down], post[down], time[down], direction=-1)
    return Votes(
        voter=np.concatenate([votes_up.voter, votes_down.voter]),
        post=np.concatenate([votes_up.post, votes_down.post]),
        direction=np.concatenate([votes_up.direction, votes_down.direction]),
        weight=np.concatenate([votes_up.weight, votes_down.weight]),
        time=np.concatenate([votes_up.time, votes_down.time]),
        bought=np.concatenate([votes_up.bought, votes_down.bought]),
    )


def _top_per_voter(
    voter: IntArray, value: FloatArray, eligible: BoolArray, cap: FloatArray
) -> BoolArray:
    """Mask of each voter's `cap` highest-valued eligible pairs."""
    order = np.lexsort((-value, voter))
    order = order[eligible[order]]
    sorted_voter = voter[order]
    first = np.r_[True, sorted_voter[1:] != sorted_voter[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(order.shape[0]), 0))
    rank = np.arange(order.shape[0]) - group_start
    chosen = np.zeros(voter.shape[0], dtype=bool)
    chosen[order[rank < cap[sorted_voter]]] = True
    return chosen
