"""Cost of settling one rewards epoch: 1,000,000 votes over 100,000 accounts (target < 10 s).

What it measures, on a generated epoch (seeded RNG): 100,000 accounts following 10 accounts
each (popular accounts more often), 200,000 posts, 1,000,000 votes (popular posts more often,
5% of them downvotes), 100 trust seeds among the most followed accounts:
  1. `settle_epoch` on the `EpochInput` records, as a node runs it: indexing the records,
     trust, clusters, scores, curation, and integer payouts that sum exactly to the pool;
  2. `tally` alone on the already indexed arrays (the mechanism without record handling).
Each is run --rounds times; the table shows wall and CPU seconds (best and median). There is no
peer implementation to compare with: Hive and Steem settle per post, incrementally, on chain.

Run from the repository root:
    .venv/bin/python benchmarks/settle.py            # 1M votes / 100k accounts
    .venv/bin/python benchmarks/settle.py --votes 100000 --accounts 10000
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

import numpy as np

from koinon.rewards.arrays import from_input
from koinon.rewards.model import EpochInput, Follow, Post, Vote
from koinon.rewards.params import DEFAULT_PARAMS
from koinon.rewards.settle import settle_epoch
from koinon.rewards.tally import tally

TARGET_SECONDS = 10.0


def hex_ids(prefix: str, count: int) -> list[str]:
    """`count` distinct 64-hex ids."""
    return [hashlib.sha256(f"{prefix}{i}".encode()).hexdigest() for i in range(count)]


def generate(accounts: int, votes: int, rng: np.random.Generator) -> EpochInput:
    """A synthetic epoch with heavy-tailed popularity."""
    posts = votes // 5
    names = hex_ids("account", accounts)
    post_ids = hex_ids("post", posts)
    vote_ids = hex_ids("vote", votes)
    popularity = rng.zipf(1.8, accounts).astype(np.float64)
    popularity /= popularity.sum()
    follow_src = np.repeat(np.arange(accounts), 10)
    follow_dst = rng.choice(accounts, follow_src.shape[0], p=popularity)
    post_author = rng.choice(accounts, posts, p=popularity)
    post_time = rng.integers(0, 7 * 86_400, posts)
    post_weight = rng.zipf(2.0, posts).astype(np.float64)
    post_weight /= post_weight.sum()
    voter = rng.integers(0, accounts, votes)
    voted = rng.choice(posts, votes, p=post_weight)
    vote_time = post_time[voted] + rng.integers(0, 3 * 86_400, votes)
    direction = np.where(rng.random(votes) < 0.05, -1, 1)
    seeds = np.argsort(-np.bincount(follow_dst, minlength=accounts), kind="stable")[:100]
    return EpochInput(
        epoch=1,
        start=0,
        end=14 * 86_400,
        pool=10**24,
        trust_seeds=tuple(names[s] for s in seeds.tolist()),
        posts=tuple(
            Post(post_ids[i], names[a], int(t))
            for i, (a, t) in enumerate(zip(post_author.tolist(), post_time.tolist(), strict=True))
        ),
        votes=tuple(
            Vote(vote_ids[i], names[v], post_ids[p], d, 1.0, t)
            for i, (v, p, d, t) in enumerate(
                zip(
                    voter.tolist(),
                    voted.tolist(),
                    direction.tolist(),
                    vote_time.tolist(),
                    strict=True,
                )
            )
        ),
        follows=tuple(
            {
                Follow(names[a], names[b])
                for a, b in zip(follow_src.tolist(), follow_dst.tolist(), strict=True)
                if a != b
            }
        ),
    )


def timed(run: object, rounds: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `rounds` calls."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        run()  # type: ignore[operator]
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def main() -> None:
    """Generate, settle, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    epoch = generate(args.accounts, args.votes, np.random.default_rng(1))
    print(
        f"generated {len(epoch.votes):,} votes, {len(epoch.posts):,} posts, "
        f"{len(epoch.follows):,} follows over {args.accounts:,} accounts "
        f"in {time.perf_counter() - start:.1f} s"
    )
    result = settle_epoch(epoch)
    paid = sum(p.author + p.curation for p in result.payouts)
    assert paid + result.undistributed == epoch.pool, "payouts must sum to the pool"
    arrays, _, _ = from_input(epoch)
    rows = [
        ("settle_epoch (records -> payouts)", timed(lambda: settle_epoch(epoch), args.rounds)),
        (
            "tally (indexed arrays -> scores)",
            timed(lambda: tally(arrays, DEFAULT_PARAMS), args.rounds),
        ),
    ]
    print(f"{'step':36} {'wall best':>9} {'wall median':>11} {'cpu best':>9} {'cpu median':>10}")
    for name, (walls, cpus) in rows:
        print(
            f"{name:36} {min(walls):9.2f} {statistics.median(walls):11.2f} "
            f"{min(cpus):9.2f} {statistics.median(cpus):10.2f}"
        )
    best = min(rows[0][1][0])
    verdict = "met" if best < TARGET_SECONDS else "MISSED"
    print(f"target: settle_epoch < {TARGET_SECONDS:.0f} s wall: {verdict} ({best:.2f} s best)")


if __name__ == "__main__":
    main()
