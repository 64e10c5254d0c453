"""An epoch as integer-indexed numpy arrays in canonical order, so that the order of the input
never reaches the arithmetic: accounts are numbered by sorted pubkey, posts by sorted id."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from koinon.errors import invalid
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


def from_input(epoch: EpochInput) -> tuple[EpochArrays, list[str], list[str]]:
    """Index an epoch: the arrays, the sorted account pubkeys and the sorted settled post ids."""
    posts: dict[str, tuple[str, int]] = {}
    for post in epoch.posts:
        if not epoch.start <= post.created_at < epoch.end:
            continue
        known = posts.setdefault(post.id, (post.author, post.created_at))
        if known != (post.author, post.created_at):
            raise invalid(f"post {post.id} appears twice with different authors or times")
    post_ids = sorted(posts)
    post_index = {pid: i for i, pid in enumerate(post_ids)}
    votes = [v for v in epoch.votes if v.created_at < epoch.end and v.post_id in post_index]
    follows = {(f.follower, f.followee) for f in epoch.follows if f.follower != f.followee}

    names: set[str] = {author for author, _ in posts.values()}
    names.update(v.voter for v in votes)
    for follower, followee in follows:
        names.add(follower)
        names.add(followee)
    names.update(epoch.trust_seeds)
    accounts = sorted(names)
    index = {pk: i for i, pk in enumerate(accounts)}

    post_author = np.array([index[posts[p][0]] for p in post_ids], dtype=np.int64)
    post_time = np.array([posts[p][1] for p in post_ids], dtype=np.int64)
    misleading = np.zeros(len(post_ids), dtype=bool)
    for outcome in epoch.outcomes:
        if outcome.status == NoteStatus.MISLEADING and outcome.post_id in post_index:
            misleading[post_index[outcome.post_id]] = True

    n_votes = len(votes)
    voter = np.fromiter((index[v.voter] for v in votes), dtype=np.int64, count=n_votes)
    voted = np.fromiter((post_index[v.post_id] for v in votes), dtype=np.int64, count=n_votes)
    direction = np.fromiter((v.direction for v in votes), dtype=np.int64, count=n_votes)
    weight = np.fromiter((v.weight for v in votes), dtype=np.float64, count=n_votes)
    time = np.fromiter((v.created_at for v in votes), dtype=np.int64, count=n_votes)
    # A vote cannot precede its post; an earlier stamp is clock skew, not foresight.
    time = np.maximum(time, post_time[voted]) if n_votes else time
    tiebreak = _id_ranks([v.id for v in votes], voter, voted)
    voter, voted, direction, weight, time = canonical_votes(
        voter, voted, direction, weight, time, tiebreak
    )

    n_follows = len(follows)
    follow_src = np.fromiter((index[a] for a, _ in follows), dtype=np.int64, count=n_follows)
    follow_dst = np.fromiter((index[b] for _, b in follows), dtype=np.int64, count=n_follows)
    by_edge = np.lexsort((follow_dst, follow_src))
    seeds = np.array(sorted({index[s] for s in epoch.trust_seeds}), dtype=np.int64)
    arrays = EpochArrays(
        n_accounts=len(accounts),
        post_author=post_author,
        post_time=post_time,
        misleading=misleading,
        vote_voter=voter,
        vote_post=voted,
        vote_direction=direction,
        vote_weight=weight,
        vote_time=time,
        follow_src=follow_src[by_edge],
        follow_dst=follow_dst[by_edge],
        seeds=seeds,
    )
    return arrays, accounts, post_ids


def _id_ranks(ids: list[str], voter: IntArray, post: IntArray) -> IntArray:
    """Rank of each vote id among the votes of the same (voter, post); zero when unique.

    Only repeated (voter, post) pairs need the id to break ties, so only those ids are sorted.
    """
    ranks = np.zeros(len(ids), dtype=np.int64)
    if not ids:
        return ranks
    key = voter * (int(post.max()) + 1) + post
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    repeated = np.flatnonzero(counts[inverse] > 1)
    for rank, i in enumerate(sorted(repeated.tolist(), key=lambda i: ids[i])):
        ranks[i] = rank
    return ranks


def weighted_sum(index: IntArray, weights: FloatArray, length: int) -> FloatArray:
    """Sum of `weights` per value of `index` (0..length-1), added in array order."""
    summed: FloatArray = np.bincount(index, weights=weights, minlength=length).astype(np.float64)
    return summed
