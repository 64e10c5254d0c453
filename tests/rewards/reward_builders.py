"""Small epochs built from readable names, for the mechanism's unit tests."""

from __future__ import annotations

import hashlib

from koinon.rewards.model import EpochInput, Follow, Post, Vote


def key(name: str) -> str:
    """A 64-hex id or pubkey standing for `name`."""
    return hashlib.sha256(name.encode()).hexdigest()


def post(name: str, author: str, at: int = 100) -> Post:
    return Post(id=key("post:" + name), author=key(author), created_at=at)


def vote(
    voter: str, post_name: str, at: int = 200, direction: int = 1, weight: float = 1.0
) -> Vote:
    return Vote(
        id=key(f"vote:{voter}:{post_name}:{at}:{direction}"),
        voter=key(voter),
        post_id=key("post:" + post_name),
        direction=direction,
        weight=weight,
        created_at=at,
    )


def follows(pairs: list[tuple[str, str]]) -> tuple[Follow, ...]:
    return tuple(Follow(key(a), key(b)) for a, b in pairs)


def epoch(
    posts: list[Post],
    votes: list[Vote],
    follow_pairs: list[tuple[str, str]],
    seeds: list[str],
    pool: int = 10**21,
    **extra: object,
) -> EpochInput:
    return EpochInput(
        epoch=1,
        start=0,
        end=10_000,
        pool=pool,
        trust_seeds=tuple(key(s) for s in seeds),
        posts=tuple(posts),
        votes=tuple(votes),
        follows=follows(follow_pairs),
        **extra,  # type: ignore[arg-type]
    )


def world_epoch(seed: int, shuffle: int | None = None, accounts: int = 120) -> EpochInput:
    """A simulated honest world with a ring attack as an EpochInput; `shuffle` reorders every
    record tuple (the settlement must not notice)."""
    import random

    import numpy as np

    from koinon.sim.attacks import assemble, ring_camouflage
    from koinon.sim.world import WorldConfig, generate_world

    world = generate_world(WorldConfig(accounts=accounts), np.random.default_rng(seed))
    log = assemble(world, ring_camouflage(world, 0, np.random.default_rng(seed + 1)))
    names = [key(f"acct{i}") for i in range(log.n_accounts)]
    posts = [
        Post(key(f"p{i}"), names[a], int(t))
        for i, (a, t) in enumerate(
            zip(log.post_author.tolist(), log.post_time.tolist(), strict=True)
        )
    ]
    votes = [
        Vote(key(f"v{i}"), names[v], key(f"p{p}"), int(d), float(w), int(t))
        for i, (v, p, d, w, t) in enumerate(
            zip(
                log.vote_voter.tolist(),
                log.vote_post.tolist(),
                log.vote_direction.tolist(),
                log.vote_weight.tolist(),
                log.vote_time.tolist(),
                strict=True,
            )
        )
    ]
    follow_list = [
        Follow(names[a], names[b])
        for a, b in zip(log.follow_src.tolist(), log.follow_dst.tolist(), strict=True)
    ]
    seeds = [names[s] for s in log.seeds.tolist()]
    if shuffle is not None:
        shuffler = random.Random(shuffle)
        for records in (posts, votes, follow_list, seeds):
            shuffler.shuffle(records)
    return EpochInput(
        epoch=3,
        start=0,
        end=log.end,
        pool=10**24 + 12345,
        trust_seeds=tuple(seeds),
        posts=tuple(posts),
        votes=tuple(votes),
        follows=tuple(follow_list),
    )


def digest(seed: int, shuffle: int | None) -> str:
    """SHA-256 over the settlement of `world_epoch(seed, shuffle)`."""
    from koinon.rewards.settle import settle_epoch

    result = settle_epoch(world_epoch(seed, shuffle))
    return hashlib.sha256(repr(result).encode()).hexdigest()
