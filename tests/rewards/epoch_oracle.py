"""Indexing and paying out an epoch the slow, obvious way: the test oracle for the columnar path in
koinon.rewards.arrays and koinon.rewards.settle (one record at a time, Python dicts and sorts)."""

from __future__ import annotations

import numpy as np

from koinon.errors import invalid
from koinon.rewards.allocate import allocate
from koinon.rewards.arrays import EpochArrays
from koinon.rewards.bonds import misleading_posts, slash_bonds
from koinon.rewards.model import EpochInput, EpochResult, NoteStatus, Payout, PostReward, Vote
from koinon.rewards.params import DEFAULT_PARAMS, Params
from koinon.rewards.settle import split_pool
from koinon.rewards.tally import tally


def index_epoch(epoch: EpochInput) -> tuple[EpochArrays, list[str], list[str]]:
    """The arrays, accounts and post ids `from_input` must produce, record by record."""
    posts: dict[str, tuple[str, int]] = {}
    for post in epoch.posts:
        if not epoch.start <= post.created_at < epoch.end:
            continue
        known = posts.setdefault(post.id, (post.author, post.created_at))
        if known != (post.author, post.created_at):
            raise invalid(f"post {post.id} appears twice with different authors or times")
    post_ids = sorted(posts)
    post_of = {pid: i for i, pid in enumerate(post_ids)}
    votes = [v for v in epoch.votes if v.created_at < epoch.end and v.post_id in post_of]
    follows = sorted({(f.follower, f.followee) for f in epoch.follows if f.follower != f.followee})
    names = {author for author, _ in posts.values()} | {v.voter for v in votes}
    names |= {name for edge in follows for name in edge} | set(epoch.trust_seeds)
    accounts = sorted(names)
    account_of = {pk: i for i, pk in enumerate(accounts)}

    # the latest vote per voter and post wins, its time raised to the post's; ties: highest id,
    # then the later record
    latest: dict[tuple[str, str], tuple[int, Vote]] = {}
    for vote in votes:
        time = max(vote.created_at, posts[vote.post_id][1])
        key = (vote.voter, vote.post_id)
        if key not in latest or (time, vote.id) >= (latest[key][0], latest[key][1].id):
            latest[key] = (time, vote)
    rows = sorted(
        (post_of[v.post_id], time, account_of[v.voter], v.direction, v.weight)
        for time, v in latest.values()
    )
    column: list[tuple[object, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 5
    misleading = [False] * len(post_ids)
    for outcome in epoch.outcomes:
        if outcome.status == NoteStatus.MISLEADING and outcome.post_id in post_of:
            misleading[post_of[outcome.post_id]] = True
    arrays = EpochArrays(
        n_accounts=len(accounts),
        post_author=np.array([account_of[posts[p][0]] for p in post_ids], dtype=np.int64),
        post_time=np.array([posts[p][1] for p in post_ids], dtype=np.int64),
        misleading=np.array(misleading, dtype=bool),
        vote_voter=np.array(column[2], dtype=np.int64),
        vote_post=np.array(column[0], dtype=np.int64),
        vote_direction=np.array(column[3], dtype=np.int64),
        vote_weight=np.array(column[4], dtype=np.float64),
        vote_time=np.array(column[1], dtype=np.int64),
        follow_src=np.array([account_of[a] for a, _ in follows], dtype=np.int64),
        follow_dst=np.array([account_of[b] for _, b in follows], dtype=np.int64),
        seeds=np.array(sorted({account_of[s] for s in epoch.trust_seeds}), dtype=np.int64),
    )
    return arrays, accounts, post_ids


def settle_records(epoch: EpochInput, params: Params = DEFAULT_PARAMS) -> EpochResult:
    """What `settle_epoch` must return, with payouts built one account at a time."""
    arrays, accounts, post_ids = index_epoch(epoch)
    account_of = {pk: i for i, pk in enumerate(accounts)}
    slashes, to_writers = slash_bonds(epoch.bonds, misleading_posts(epoch.outcomes), params)
    owners = sorted({account_of[s.owner] for s in slashes if s.owner in account_of})
    result = tally(arrays, params, np.array(owners, dtype=np.int64))
    author_pool, curation_pool = split_pool(epoch.pool, params)
    if not (result.curation_weight > 0.0).any():
        author_pool, curation_pool = epoch.pool, 0
    post_parts = allocate(author_pool, result.post_score)
    undistributed = author_pool - sum(post_parts)
    curation_parts = allocate(curation_pool, result.curation_weight)
    if undistributed:
        undistributed, curation_parts = epoch.pool, [0] * len(accounts)
    author_parts = [0] * len(accounts)
    for post, part in enumerate(post_parts):
        author_parts[int(arrays.post_author[post])] += part
    payouts: dict[str, Payout] = {}
    for i, pubkey in enumerate(accounts):
        if author_parts[i] or curation_parts[i]:
            amount = author_parts[i] + curation_parts[i]
            payouts[pubkey] = Payout(pubkey, amount, author_parts[i], curation_parts[i], 0)
    for writer, amount in to_writers.items():
        base = payouts.get(writer, Payout(writer, 0, 0, 0, 0))
        payouts[writer] = Payout(
            writer, base.amount + amount, base.author, base.curation, base.notes + amount
        )
    posts = tuple(
        PostReward(
            post_ids[i],
            accounts[int(arrays.post_author[i])],
            part,
            float(result.post_score[i]),
        )
        for i, part in enumerate(post_parts)
        if part
    )
    return EpochResult(
        epoch=epoch.epoch,
        payouts=tuple(payouts[pk] for pk in sorted(payouts)),
        slashes=slashes,
        posts=posts,
        undistributed=undistributed,
    )
