"""An epoch as integer-indexed numpy arrays in canonical order, so that the order of the input
never reaches the arithmetic: accounts are numbered by sorted pubkey, posts by sorted id."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from koinon.errors import invalid
from koinon.rewards.columns import EpochColumns, UpvoteColumns
from koinon.rewards.keys import Keys, hex_of, keys_of, rank_keys
from koinon.rewards.model import EpochInput, NoteStatus
from koinon.rewards.order import stable_order

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
    # upvotes of the earlier epochs the ring detector reads, as (voter, author) accounts
    history_voter: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    history_author: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_posts(self) -> int:
        """Number of settled posts."""
        return int(self.post_author.shape[0])


_FITS = 2**62  # composite sort keys stay below this, far from int64 overflow


def canonical_votes(
    voter: IntArray,
    post: IntArray,
    direction: IntArray,
    weight: FloatArray,
    time: IntArray,
    tiebreak: IntArray | Callable[[], IntArray],
) -> tuple[IntArray, IntArray, IntArray, FloatArray, IntArray]:
    """Keep the latest vote per voter and post (ties: highest tiebreak, then the later one in
    the input); sort by post, time, voter. `tiebreak` may be a function that makes it, called
    only when some voter voted twice on a post.

    Latest wins so that a curator cannot vote early, change their mind, and keep the early time.
    """
    keep = _distinct_pairs(voter, post)
    if keep is None:  # some voter voted twice on a post: the general, slower sort
        breaks = tiebreak() if callable(tiebreak) else tiebreak
        order = np.lexsort((breaks, time, voter, post))
        last = np.ones(order.shape[0], dtype=bool)
        last[:-1] = (voter[order][1:] != voter[order][:-1]) | (post[order][1:] != post[order][:-1])
        keep = order[last]
    # keep is in (post, voter) order either way
    final = keep[_post_time_voter_order(voter[keep], post[keep], time[keep])]
    return voter[final], post[final], direction[final], weight[final], time[final]


def _distinct_pairs(voter: IntArray, post: IntArray) -> IntArray | None:
    """The votes in (post, voter) order when no pair repeats, else None.

    One sort of a single int64 key does what a sort by four keys does when every pair is
    distinct, as it is for a node's input (one vote per voter and post is read from events).
    """
    if voter.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    voters = int(voter.max()) + 1
    if (int(post.max()) + 1) * voters >= _FITS:
        return None
    pair = post.astype(np.int64) * voters + voter
    order = stable_order(pair)
    ordered = pair[order]
    return None if (ordered[1:] == ordered[:-1]).any() else order


def _post_time_voter_order(voter: IntArray, post: IntArray, time: IntArray) -> IntArray:
    """The order that sorts distinct (post, voter) votes, given in (post, voter) order, by post,
    then time, then voter."""
    if voter.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    first = int(time.min())
    times = int(time.max()) - first + 1
    if (int(post.max()) + 1) * times >= _FITS:
        return np.lexsort((voter, time, post))
    # a stable sort by (post, time) leaves the votes of one post and time in voter order
    return stable_order(post.astype(np.int64) * times + (time - first))


def from_input(epoch: EpochInput | EpochColumns) -> tuple[EpochArrays, list[str], list[str]]:
    """Index an epoch: the arrays, the sorted account pubkeys and the sorted settled post ids."""
    columns = EpochColumns.of(epoch) if isinstance(epoch, EpochInput) else epoch
    posts, votes, follows = columns.posts, columns.votes, columns.follows
    post_rows = _settled_posts(columns)
    post_keys = np.take(posts.keys("id"), post_rows, axis=0)
    post_ids = hex_of(post_keys)  # new strings, made faster than the given ones are gathered
    post_time = np.array(posts.created_at, dtype=np.int64)[post_rows]

    # the settled posts and the voted ids ranked together: a vote's post is the post of its rank
    ranks, _ = rank_keys(np.concatenate([post_keys, votes.keys("post_id")]))
    post_of_rank = np.full(int(ranks.max(initial=-1)) + 1, -1, dtype=np.int64)
    post_of_rank[ranks[: len(post_ids)]] = np.arange(len(post_ids))
    voted = post_of_rank[ranks[len(post_ids) :]]
    vote_time = np.array(votes.created_at, dtype=np.int64)
    kept = np.flatnonzero((voted >= 0) & (vote_time < columns.end))

    # Accounts are the pubkeys of the records kept (a late vote or a self-follow adds none),
    # numbered in sorted order.
    follower, followee = follows.keys("follower"), follows.keys("followee")
    edges = ~(follower == followee).all(axis=1)
    named = [
        # rows of keys by np.take and np.compress: several times faster than [] on 2-D arrays
        np.take(posts.keys("author"), post_rows, axis=0),
        np.take(votes.keys("voter"), kept, axis=0),
        np.compress(edges, follower, axis=0),
        np.compress(edges, followee, axis=0),
        keys_of(columns.trust_seeds),
    ]
    every = np.concatenate(named)
    account_of, first = rank_keys(every)
    accounts = hex_of(np.take(every, first, axis=0))
    post_author, voter, follow_src, follow_dst, seeds = np.split(
        account_of, np.cumsum([part.shape[0] for part in named])[:-1]
    )
    width = max(len(accounts), 1)
    # unique edges, sorted by follower then followee
    edge = sorted_unique(follow_src * width + follow_dst)
    misleading = np.zeros(len(post_ids), dtype=bool)
    for outcome in columns.outcomes:
        at = bisect_left(post_ids, outcome.post_id)
        found = at < len(post_ids) and post_ids[at] == outcome.post_id
        if outcome.status == NoteStatus.MISLEADING and found:
            misleading[at] = True

    voted = voted[kept]
    direction = np.array(votes.direction, dtype=np.int64)[kept]
    weight = np.array(votes.weight, dtype=np.float64)[kept]
    # A vote cannot precede its post; an earlier stamp is clock skew, not foresight.
    time = np.maximum(vote_time[kept], post_time[voted])
    voter, voted, direction, weight, time = canonical_votes(
        voter, voted, direction, weight, time, partial(_id_ranks, votes.id, kept, voter, voted)
    )
    history_voter, history_author = _earlier_accounts(columns, np.take(every, first, axis=0))
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
        follow_src=edge // width,
        follow_dst=edge % width,
        seeds=sorted_unique(seeds),
        history_voter=history_voter,
        history_author=history_author,
    )
    return arrays, accounts, post_ids


def upvotes_of(arrays: EpochArrays, accounts: list[str]) -> UpvoteColumns:
    """The upvotes the epoch counts, one per vote (a voter's latest on a post, self-votes left
    out), as (voter, author) keys: what the ring detector of the epochs after it reads."""
    up = arrays.vote_direction > 0
    voter, author = arrays.vote_voter[up], arrays.post_author[arrays.vote_post[up]]
    other = voter != author
    account_keys = keys_of(accounts)
    return UpvoteColumns(
        np.take(account_keys, voter[other], axis=0), np.take(account_keys, author[other], axis=0)
    )


def _earlier_accounts(columns: EpochColumns, account_keys: Keys) -> tuple[IntArray, IntArray]:
    """The earlier epochs' upvotes as (voter, author) account numbers. Upvotes by or for someone
    with no record in this epoch are left out: such an account weighs nothing here."""
    earlier = columns.earlier
    if not len(earlier) or not account_keys.shape[0]:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    voter = _account_numbers(account_keys, earlier.voters)
    author = _account_numbers(account_keys, earlier.authors)
    known = (voter >= 0) & (author >= 0) & (voter != author)
    return voter[known], author[known]


def _account_numbers(account_keys: Keys, keys: Keys) -> IntArray:
    """The number of each key among the sorted `account_keys`, -1 for a key not among them."""
    first = account_keys[:, 0]
    if (first[1:] == first[:-1]).any():  # two accounts share their first 8 bytes: rank them all
        count = account_keys.shape[0]
        ranks, _ = rank_keys(np.concatenate([account_keys, keys]))
        account_of_rank = np.full(int(ranks.max()) + 1, -1, dtype=np.int64)
        account_of_rank[ranks[:count]] = np.arange(count, dtype=np.int64)
        numbers: IntArray = account_of_rank[ranks[count:]]
        return numbers
    at = np.minimum(np.searchsorted(first, keys[:, 0]), first.shape[0] - 1)
    found = (np.take(account_keys, at, axis=0) == keys).all(axis=1)
    return np.where(found, at, -1).astype(np.int64)


def _settled_posts(epoch: EpochColumns) -> IntArray:
    """The row of each post created in the epoch, in the order of their ids.

    A post given twice must be given the same way; its first row is the one settled.
    """
    posts = epoch.posts
    created = np.array(posts.created_at, dtype=np.int64)
    rows = np.flatnonzero((created >= epoch.start) & (created < epoch.end))
    post_of_row, first = rank_keys(np.take(posts.keys("id"), rows, axis=0))
    if first.shape[0] == rows.shape[0]:  # no post given twice
        return rows[first]
    authors, firsts = posts.keys("author")[rows], first[post_of_row]
    differs = (authors != authors[firsts]).any(axis=1) | (created[rows] != created[rows[firsts]])
    if differs.any():
        row = int(rows[np.flatnonzero(differs)[0]])
        raise invalid(f"post {posts.id[row]} appears twice with different authors or times")
    post_rows: IntArray = rows[first]
    return post_rows


def _id_ranks(ids: tuple[str, ...], rows: IntArray, voter: IntArray, post: IntArray) -> IntArray:
    """Rank of each vote id (`ids[rows[i]]`) among the votes of repeated (voter, post) pairs;
    zero for the others.

    Only repeated (voter, post) pairs need the id to break ties, so only those ids are sorted.
    """
    ranks = np.zeros(rows.shape[0], dtype=np.int64)
    if not rows.shape[0]:
        return ranks
    key = voter * (int(post.max()) + 1) + post
    order = stable_order(key)
    same = key[order][1:] == key[order][:-1]
    if not same.any():
        return ranks
    in_repeat = np.zeros(rows.shape[0], dtype=bool)
    in_repeat[1:] |= same
    in_repeat[:-1] |= same
    repeated = np.sort(order[in_repeat])
    rows_of = rows.tolist()
    for rank, i in enumerate(sorted(repeated.tolist(), key=lambda i: ids[rows_of[i]])):
        ranks[i] = rank
    return ranks


def sorted_unique(values: IntArray) -> IntArray:
    """The distinct values, ascending: `np.unique` without its hash table, which numpy 2.4
    builds for plain `np.unique` calls and which is many times slower than a sort here."""
    ordered = np.sort(values)
    if ordered.shape[0] < 2:
        return ordered
    distinct: IntArray = ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
    return distinct


def weighted_sum(index: IntArray, weights: FloatArray, length: int) -> FloatArray:
    """Sum of `weights` per value of `index` (0..length-1), added in array order."""
    # with weights, bincount already returns float64: no copy is made
    summed: FloatArray = np.bincount(index, weights=weights, minlength=length).astype(
        np.float64, copy=False
    )
    return summed
