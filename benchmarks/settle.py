"""Cost of settling one rewards epoch: 1,000,000 votes over 100,000 accounts (target < 10 s).

What it settles, generated from a seeded RNG: 100,000 accounts (real x-only keys, so that each
has a payout address) following 10 accounts each (popular accounts more often), 200,000 posts,
1,000,000 reactions (popular posts more often, 5% of them downvotes; a voter's repeats on a post
count once), 100 trust seeds among the most followed accounts. The epoch is made as Nostr events
(kind 1 posts, kind 7 reactions, kind 3 contact lists, with real ids), serialized to JSON and
parsed back, so that every string is its own object as in a node. Signatures are neither made nor
checked: settling takes events that were verified when they arrived.
What it times, in --rounds rounds that each run every step once (wall and CPU seconds, best
and median):
  1. `settle`: kept upvotes + events -> settlement root, what a node runs once an epoch is due:
     reading back the upvotes the earlier epochs counted (the node kept them when it settled
     those), reading the events into columns, the digest of their ids, indexing, the mechanism
     (the ring detector reading this epoch's and the earlier upvotes), integer payouts, payout
     addresses, the Merkle tree and the digest of the upvotes this epoch counted;
  2. `read_kept`, the first step of 1 (the kept upvotes of the earlier epochs, read back);
  3. `epoch_columns`, the second (events -> columns);
  4. `inputs_digest`, the third (events -> the digest of their ids);
  5. `settle_input`, the rest of 1 (columns -> root), so that 2 + 3 + 4 + 5 make up 1;
  6. `from_input`, the first step of 5 (columns -> indexed arrays);
  7. `tally` alone on the indexed arrays (the mechanism without records, payouts or tree);
  8. without earlier epochs, `settle_epoch` on `EpochInput` records (records -> payouts: what
     this benchmark timed before the columnar input).
It checks that events and records settle alike, to the same root, and that the payouts sum to
the pool. There is no peer implementation to compare with: Hive and Steem settle per post,
incrementally, on chain.

With --earlier N, the N epochs before the settled one have as many posts and reactions; the
upvotes each counted are made beforehand, as the node kept them when it settled that epoch, and
read back in step 2 (docs/rewards.md, "Rings over several epochs").

Run from the repository root:
    .venv/bin/python benchmarks/settle.py            # 1M votes / 100k accounts
    .venv/bin/python benchmarks/settle.py --earlier 5  # and five earlier epochs as large
    .venv/bin/python benchmarks/settle.py --votes 100000 --accounts 10000
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import hashlib
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import orjson

from koinon.core.event import Event, compute_id, parse_event
from koinon.core.schnorr import public_key
from koinon.rewards.arrays import FloatArray, from_input
from koinon.rewards.columns import EpochColumns, UpvoteColumns
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import epoch_columns
from koinon.rewards.params import DEFAULT_PARAMS
from koinon.rewards.settle import collector_paused, settle_epoch
from koinon.rewards.settlement import counted_upvotes, inputs_digest, settle, settle_input
from koinon.rewards.tally import tally

TARGET_SECONDS = 10.0
EPOCH = 5  # the first epoch with five before it
NO_SIGNATURE = "0" * 128  # settling reads events a node has already verified


def keys(count: int) -> list[str]:
    """`count` x-only public keys (hex) of deterministic secrets."""
    return [public_key(hashlib.sha256(f"account{i}".encode()).digest()).hex() for i in range(count)]


def unsigned(
    pubkey: str, created_at: int, kind: int, tags: list[list[str]], content: str
) -> dict[str, object]:
    """An unsigned event object with its real id."""
    return {
        "id": compute_id(pubkey, created_at, kind, tags, content),
        "pubkey": pubkey,
        "created_at": created_at,
        "kind": kind,
        "tags": tags,
        "content": content,
        "sig": NO_SIGNATURE,
    }


def generate(
    accounts: int, votes: int, rng: np.random.Generator, earlier: int = 0
) -> tuple[RewardsConfig, list[Event], list[list[Event]]]:
    """A synthetic epoch with heavy-tailed popularity, as the rewards config and its events, and
    the events of `earlier` epochs before it with as many posts and reactions."""
    names = keys(accounts)
    popularity = rng.zipf(1.8, accounts).astype(np.float64)
    popularity /= popularity.sum()
    follow_dst = rng.choice(accounts, (accounts, 10), p=popularity)
    seeds = np.argsort(-np.bincount(follow_dst.ravel(), minlength=accounts), kind="stable")[:100]
    config = RewardsConfig(
        genesis=0,
        epoch_seconds=14 * 86_400,
        pool_per_epoch=10**24,
        trust_seeds=tuple(names[s] for s in seeds.tolist()),
    )
    start, _ = config.window(EPOCH)
    raw = [
        unsigned(names[a], start - 1, 3, [["p", names[b]] for b in row], "")
        for a, row in enumerate(follow_dst.tolist())
    ]
    past = [
        parsed(activity(names, popularity, config.window(epoch)[0], votes, rng))
        for epoch in range(EPOCH - earlier, EPOCH)
    ]
    return config, parsed(raw + activity(names, popularity, start, votes, rng)), past


def parsed(raw: list[dict[str, object]]) -> list[Event]:
    """Events through JSON, as a node's store hands them over: every string its own object."""
    return [parse_event(item) for item in orjson.loads(orjson.dumps(raw))]


def activity(
    names: list[str], popularity: FloatArray, start: int, votes: int, rng: np.random.Generator
) -> list[dict[str, object]]:
    """One epoch's posts and reactions from `start`: popular accounts post more, popular posts
    get more reactions, 5% of them downvotes."""
    posts = votes // 5
    post_author = rng.choice(len(names), posts, p=popularity)
    post_time = rng.integers(0, 7 * 86_400, posts)
    post_weight = rng.zipf(2.0, posts).astype(np.float64)
    post_weight /= post_weight.sum()
    voter = rng.integers(0, len(names), votes)
    voted = rng.choice(posts, votes, p=post_weight)
    vote_time = post_time[voted] + rng.integers(0, 3 * 86_400, votes)
    content = np.where(rng.random(votes) < 0.05, "-", "+")
    posted = [
        unsigned(names[a], start + t, 1, [], f"post {start} {i}")
        for i, (a, t) in enumerate(zip(post_author.tolist(), post_time.tolist(), strict=True))
    ]
    return posted + [
        unsigned(names[v], start + t, 7, [["e", posted[p]["id"]], ["p", posted[p]["pubkey"]]], c)
        for v, p, t, c in zip(
            voter.tolist(), voted.tolist(), vote_time.tolist(), content.tolist(), strict=True
        )
    ]


def read_kept(kept: list[bytes]) -> list[UpvoteColumns]:
    """The earlier epochs' upvotes as a node reads them back from its files."""
    return [UpvoteColumns.from_bytes(data) for data in kept]


def indexed(columns: EpochColumns) -> object:
    """`from_input` as `settle_epoch` runs it: with the collector paused."""
    with collector_paused():
        return from_input(columns)


def timed(
    steps: list[tuple[str, Callable[[], object]]], rounds: int
) -> list[tuple[str, list[float], list[float]]]:
    """Wall and CPU seconds of each step, `rounds` times: each round runs every step once, so
    that a machine that slows down or speeds up between rounds (this one is shared) weighs on
    all steps alike, and the parts of a step are timed beside it."""
    walls: dict[str, list[float]] = {name: [] for name, _ in steps}
    cpus: dict[str, list[float]] = {name: [] for name, _ in steps}
    for _ in range(rounds):
        for name, run in steps:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return [(name, walls[name], cpus[name]) for name, _ in steps]


def main() -> None:
    """Generate, settle, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--earlier",
        type=int,
        default=0,
        help="epochs before the settled one with as many votes, read by the ring detector",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    with collector_paused():
        config, events, past = generate(
            args.accounts, args.votes, np.random.default_rng(1), args.earlier
        )
        # what the node kept of each earlier epoch when it settled it: the upvotes it counted
        kept = [
            counted_upvotes(epoch_columns(inputs, config, EPOCH - len(past) + at)).to_bytes()
            for at, inputs in enumerate(past)
        ]
        del past  # a node holds only the epoch it settles in memory
        earlier = read_kept(kept)
        columns = dataclasses.replace(
            epoch_columns(events, config, EPOCH), earlier=UpvoteColumns.joined(earlier)
        )
        records = columns.records() if not kept else None
        arrays, _, _ = from_input(columns)
        digest = inputs_digest(events)
    print(
        f"generated {len(events):,} events: {args.votes:,} reactions ({len(columns.votes):,} "
        f"votes once repeats are dropped), {len(columns.posts):,} posts, "
        f"{len(columns.follows):,} follows over {args.accounts:,} accounts; "
        f"{len(columns.earlier):,} upvotes counted in {len(kept)} earlier epochs; "
        f"in {time.perf_counter() - start:.1f} s"
    )
    settlement = settle(events, config, EPOCH, earlier=earlier)
    result = settlement.result
    paid = sum(p.author + p.curation for p in result.payouts)
    assert paid + result.undistributed == config.pool_per_epoch, "payouts must sum to the pool"
    if records is not None:
        assert settle_epoch(records) == result, "records and events must settle alike"
        assert settle_input(records, digest).root == settlement.root, "and give the same root"
    print(
        f"root {settlement.root.hex()}: {len(settlement.payouts):,} payouts, "
        f"{len(result.posts):,} rewarded posts"
    )
    load = os.getloadavg()
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "settle (kept + events -> root)",
            lambda: settle(events, config, EPOCH, None, None, read_kept(kept)),
        ),
        ("  read_kept (earlier upvotes)", lambda: read_kept(kept)),
        ("  epoch_columns (events -> columns)", lambda: epoch_columns(events, config, EPOCH)),
        ("  inputs_digest (events -> digest)", lambda: inputs_digest(events)),
        (
            "  settle_input (columns -> root)",
            lambda: settle_input(columns, digest, None, None, earlier),
        ),
        ("    from_input (columns -> arrays)", lambda: indexed(columns)),
        ("tally (indexed arrays -> scores)", lambda: tally(arrays, DEFAULT_PARAMS)),
    ]
    if records is not None:
        steps.append(("settle_epoch (records -> payouts)", lambda: settle_epoch(records)))
    rows = timed(steps, args.rounds)
    print(f"{'step':36} {'wall best':>9} {'wall median':>11} {'cpu best':>9} {'cpu median':>10}")
    for name, walls, cpus in rows:
        print(
            f"{name:36} {min(walls):9.2f} {statistics.median(walls):11.2f} "
            f"{min(cpus):9.2f} {statistics.median(cpus):10.2f}"
        )
    best = min(rows[0][1])
    verdict = "met" if best < TARGET_SECONDS else "MISSED"
    print(f"target: settle < {TARGET_SECONDS:.0f} s wall: {verdict} ({best:.2f} s best)")
    before, after = (" ".join(f"{x:.2f}" for x in loads) for loads in (load, os.getloadavg()))
    print(f"load average (1, 5, 15 min): {before} before timing, {after} after")


if __name__ == "__main__":
    main()
