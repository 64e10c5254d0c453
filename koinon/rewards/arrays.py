"""An epoch as integer-indexed numpy arrays in canonical order, so that the order of the input
never reaches the arithmetic: accounts are numbered by sorted pubkey, posts by sorted id."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from koinon.errors import invalid
from koinon.rewards.columns import EpochColumns
from koinon.rewards.model import EpochInput, NoteStatus

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class EpochArrays:
    """The mechanism's view of an epoch. Votes are unique per (voter, post), sorted by post, then
    time, then voter; self-votes are kept here (the mechanism gives them weight zero)."""

    n_accounts: int
    post_author: IntArray
    post_time: IntArray
    misleading: BoolArray  # per post: notes settled it as misleading
    vote_voter: IntArray
    vote_post: IntArray
    vote_direction: IntArray  # +1 or -1
    vote_weight: FloatArray  # in (0, 1]
    vote_time: IntArray
    follow_src: IntArray
    follow_dst: IntArray
    seeds: IntArray

    @property
    def n_posts(self) -> int:
        """Number of settled posts."""
        return int(self.post_author.shape[0])


def canonical_votes(
    voter: IntArray,
    post: IntArray,
    direction: IntArray,
    weight: FloatArray,
    time: IntArray,
    tiebreak: IntArray,
) -> tuple[IntArray, IntArray, IntArray, FloatArray, IntArray]:
    """Keep the latest vote per voter and post (ties: highest tiebreak); sort by post, time, voter.

    Latest wins so that a curator cannot vote early, change their mind, and keep the early time.
    """
    order = np.lexsort((tiebreak, time, voter, post))
    voter, post = voter[order], post[order]
    last = np.ones(voter.shape[0], dtype=bool)
    if voter.shape[0] > 1:
        last[:-1] = (voter[1:] != voter[:-1]) | (post[1:] != post[:-1])
    keep = order[last]
    voter, post, time = voter[last], post[last], time[keep]
    final = np.lexsort((voter, time, post))
    return (
        voter[final],
        post[final],
        direction[keep][final],
        weight[keep][final],
        time[final],
    )


def from_input(epoch: EpochInput | EpochColumns) -> tuple[EpochArrays, list[str], list[str]]:
    """Index an epoch: the arrays, the sorted account pubkeys and the sorted settled post ids."""
    columns = EpochColumns.of(epoch) if isinstance(epoch, EpochInput) else epoch
    posts, votes, follows = columns.posts, columns.votes, columns.follows
    post_ids, post_rows = _settled_posts(columns)
    post_index = {pid: i for i, pid in enumerate(post_ids)}
    vote_time = np.array(votes.created_at, dtype=np.int64)
    voted = np.fromiter(
        map(post_index.get, votes.post_id, repeat(-1)), dtype=np.int64, count=len(votes)
    )
    kept = np.flatnonzero((voted >= 0) & (vote_time < columns.end))

    # Every pubkey that might be an account is numbered in sorted order; the ones only seen in
    # dropped records (late votes, self-follows, posts of another epoch) are then left out,
    # which keeps the order of the rest.
    authors = [posts.author[row] for row in post_rows.tolist()]
    names = set(authors)
    names.update(votes.voter, follows.follower, follows.followee, columns.trust_seeds)
    candidates = sorted(names)
    number = {pk: i for i, pk in enumerate(candidates)}.__getitem__
    post_author = np.fromiter(map(number, authors), dtype=np.int64, count=len(authors))
    voter = np.fromiter(map(number, votes.voter), dtype=np.int64, count=len(votes))[kept]
    follow_src = np.fromiter(map(number, follows.follower), dtype=np.int64, count=len(follows))
    follow_dst = np.fromiter(map(number, follows.followee), dtype=np.int64, count=len(follows))
    edges, width = follow_src != follow_dst, max(len(candidates), 1)
    # unique edges, sorted by follower then followee
    edge = np.unique(follow_src[edges] * width + follow_dst[edges])
    follow_src, follow_dst = edge // width, edge % width
    seeds = np.unique(np.fromiter(map(number, columns.trust_seeds), dtype=np.int64))

    used = np.zeros(len(candidates), dtype=bool)
    for numbers in (post_author, voter, follow_src, follow_dst, seeds):
        used[numbers] = True
    renumber = np.cumsum(used) - 1
    accounts = [candidates[i] for i in np.flatnonzero(used).tolist()]

    post_time = np.array(posts.created_at, dtype=np.int64)[post_rows]
    misleading = np.zeros(len(post_ids), dtype=bool)
    for outcome in columns.outcomes:
        if outcome.status == NoteStatus.MISLEADING and outcome.post_id in post_index:
            misleading[post_index[outcome.post_id]] = True

    voter, voted = renumber[voter], voted[kept]
    direction = np.array(votes.direction, dtype=np.int64)[kept]
    weight = np.array(votes.weight, dtype=np.float64)[kept]
    # A vote cannot precede its post; an earlier stamp is clock skew, not foresight.
    time = np.maximum(vote_time[kept], post_time[voted])
    tiebreak = _id_ranks(votes.id, kept, voter, voted)
    voter, voted, direction, weight, time = canonical_votes(
        voter, voted, direction, weight, time, tiebreak
    )
    arrays = EpochArrays(
        n_accounts=len(accounts),
        post_author=renumber[post_author],
        post_time=post_time,
        misleading=misleading,
        vote_voter=voter,
        vote_post=voted,
        vote_direction=direction,
        vote_weight=weight,
        vote_time=time,
        follow_src=renumber[follow_src],
        follow_dst=renumber[follow_dst],
        seeds=renumber[seeds],
    )
    return arrays, accounts, post_ids


def _settled_posts(epoch: EpochColumns) -> tuple[list[str], IntArray]:
    """The sorted ids of the posts created in the epoch, and the row of each in the columns."""
    posts = epoch.posts
    created = np.array(posts.created_at, dtype=np.int64)
    rows = np.flatnonzero((created >= epoch.start) & (created < epoch.end)).tolist()
    first: dict[str, int] = {}
    for row in reversed(rows):
        first[posts.id[row]] = row
    if len(first) < len(rows):  # a post given twice must be given the same way
        for row in rows:
            known = first[posts.id[row]]
            if (posts.author[row], posts.created_at[row]) != (
                posts.author[known],
                posts.created_at[known],
            ):
                raise invalid(f"post {posts.id[row]} appears twice with different authors or times")
    post_ids = sorted(first)
    return post_ids, np.fromiter(map(first.__getitem__, post_ids), np.int64, len(post_ids))


def _id_ranks(ids: tuple[str, ...], rows: IntArray, voter: IntArray, post: IntArray) -> IntArray:
    """Rank of each vote id (`ids[rows[i]]`) among the votes of the same (voter, post); zero when
    unique.

    Only repeated (voter, post) pairs need the id to break ties, so only those ids are sorted.
    """
    ranks = np.zeros(rows.shape[0], dtype=np.int64)
    if not rows.shape[0]:
        return ranks
    key = voter * (int(post.max()) + 1) + post
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    repeated = np.flatnonzero(counts[inverse] > 1)
    rows_of = rows.tolist()
    for rank, i in enumerate(sorted(repeated.tolist(), key=lambda i: ids[rows_of[i]])):
        ranks[i] = rank
    return ranks


def weighted_sum(index: IntArray, weights: FloatArray, length: int) -> FloatArray:
    """Sum of `weights` per value of `index` (0..length-1), added in array order."""
    # with weights, bincount already returns float64: no copy is made
    summed: FloatArray = np.bincount(index, weights=weights, minlength=length).astype(
        np.float64, copy=False
    )
    return summed
