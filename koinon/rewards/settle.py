"""Settling an epoch: a pure, deterministic function from its events to payouts and slashes, so
that every node recomputes the same Merkle root of payouts."""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from koinon.rewards.allocate import allocate
from koinon.rewards.arrays import EpochArrays, from_input, upvotes_of
from koinon.rewards.bonds import misleading_posts, slash_bonds
from koinon.rewards.columns import EpochColumns, UpvoteColumns
from koinon.rewards.model import EpochInput, EpochResult, Payout, PostReward
from koinon.rewards.params import DEFAULT_PARAMS, Params
from koinon.rewards.tally import tally

_PPM = 1_000_000


def split_pool(pool: int, params: Params) -> tuple[int, int]:
    """The pool's author part and curation part, in base units."""
    author = pool * round(params.author_share * _PPM) // _PPM
    return author, pool - author


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a block that makes millions of small objects.

    An epoch holds millions of records; the collector would rescan all of them every few
    thousand allocations while nothing made here can form a cycle, so it waits.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def settle_epoch(epoch: EpochInput | EpochColumns, params: Params = DEFAULT_PARAMS) -> EpochResult:
    """Payouts and slashes of one epoch; the order of the input's records does not matter."""
    with collector_paused():
        arrays, accounts, post_ids = from_input(epoch)
        return _settle(epoch, params, arrays, accounts, post_ids)


def settle_counting(
    epoch: EpochInput | EpochColumns, params: Params = DEFAULT_PARAMS
) -> tuple[EpochResult, UpvoteColumns]:
    """`settle_epoch`, and the upvotes the epoch counted (which later epochs read)."""
    with collector_paused():
        arrays, accounts, post_ids = from_input(epoch)
        return _settle(epoch, params, arrays, accounts, post_ids), upvotes_of(arrays, accounts)


def _settle(
    epoch: EpochInput | EpochColumns,
    params: Params,
    arrays: EpochArrays,
    accounts: list[str],
    post_ids: list[str],
) -> EpochResult:
    misleading = misleading_posts(epoch.outcomes)
    slashes, to_writers = slash_bonds(epoch.bonds, misleading, params)
    owners = (_position(accounts, owner) for owner in {s.owner for s in slashes})
    penalized = np.array(sorted(i for i in owners if i is not None), dtype=np.int64)
    result = tally(arrays, params, penalized)

    author_pool, curation_pool = split_pool(epoch.pool, params)
    if not (result.curation_weight > 0.0).any():
        author_pool, curation_pool = epoch.pool, 0
    post_parts = allocate(author_pool, result.post_score)
    undistributed = author_pool - sum(post_parts)
    curation_parts = allocate(curation_pool, result.curation_weight)
    if undistributed:  # nothing earned anything: the whole pool waits for a later epoch
        undistributed, curation_parts = epoch.pool, [0] * len(accounts)

    # only the posts and accounts that earned something are visited
    paid = [i for i, part in enumerate(post_parts) if part]
    post_author = arrays.post_author[paid].tolist()
    author_parts: dict[int, int] = {}
    for author, i in zip(post_author, paid, strict=True):
        author_parts[author] = author_parts.get(author, 0) + post_parts[i]
    earners = set(author_parts).union(i for i, part in enumerate(curation_parts) if part)
    payouts: dict[str, Payout] = {}
    for i in earners:
        author, curation = author_parts.get(i, 0), curation_parts[i]
        payouts[accounts[i]] = Payout(accounts[i], author + curation, author, curation, 0)
    for writer, amount in to_writers.items():
        known = payouts.get(writer)
        base = known or Payout(pubkey=writer, amount=0, author=0, curation=0, notes=0)
        payouts[writer] = Payout(
            pubkey=writer,
            amount=base.amount + amount,
            author=base.author,
            curation=base.curation,
            notes=base.notes + amount,
        )
    posts = tuple(
        PostReward(post_id=post_ids[i], author=accounts[author], amount=post_parts[i], score=score)
        for i, author, score in zip(
            paid, post_author, result.post_score[paid].tolist(), strict=True
        )
    )
    return EpochResult(
        epoch=epoch.epoch,
        payouts=tuple(payouts[pk] for pk in sorted(payouts)),
        slashes=slashes,
        posts=posts,
        undistributed=undistributed,
    )


def _position(ordered: list[str], item: str) -> int | None:
    """The index of `item` in the sorted list `ordered`, or None when it is not there."""
    at = bisect_left(ordered, item)
    return at if at < len(ordered) and ordered[at] == item else None
