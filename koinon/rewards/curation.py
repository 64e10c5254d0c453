"""Curation: curators are paid for agreeing early with the consensus the epoch ends on.

Each post's curation pot is proportional to its final score, so only votes for posts that the
epoch's consensus ends up valuing earn anything. The pot is shared among the post's upvoters in
proportion to the vote mass each one brought times how early it came: the share of the post's
final support that arrived after it. Weight is capped per voter (trust.py) and split over all their
votes (budget.py), so a curator is paid for judgement, not for stake, and voting on everything
early spreads one budget thin.
"""

from __future__ import annotations

import numpy as np

from koinon.rewards.arrays import FloatArray, IntArray, weighted_sum


def earliness(post: IntArray, time: IntArray, mass: FloatArray, floor: float) -> FloatArray:
    """Per vote, `floor` + (1 − floor) × the share of its post's support cast strictly later.

    Votes must be sorted by post then time; votes cast in the same second count as simultaneous.
    """
    count = post.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    cum = np.cumsum(mass)
    new_post = np.r_[True, post[1:] != post[:-1]]
    new_moment = new_post | np.r_[True, time[1:] != time[:-1]]
    # cumulative support at the end of each vote's moment and at the end of its post
    moment_end = np.r_[np.flatnonzero(new_moment)[1:] - 1, count - 1]
    post_end = np.r_[np.flatnonzero(new_post)[1:] - 1, count - 1]
    moment_id = np.cumsum(new_moment) - 1
    post_id = np.cumsum(new_post) - 1
    before = (cum - mass)[np.flatnonzero(new_post)]
    through = cum[moment_end][moment_id] - before[post_id]
    total = cum[post_end][post_id] - before[post_id]
    later = np.maximum(total - through, 0.0)
    share: FloatArray = np.divide(later, total, out=np.zeros(count), where=total > 0.0)
    return floor + (1.0 - floor) * np.minimum(share, 1.0)


def curation_rewards(
    voter: IntArray,
    post: IntArray,
    time: IntArray,
    mass: FloatArray,
    score: FloatArray,
    n_accounts: int,
    floor: float,
) -> FloatArray:
    """Per account, its curation weight: each post's score shared by mass × earliness."""
    if voter.shape[0] == 0:
        return np.zeros(n_accounts, dtype=np.float64)
    claim = mass * earliness(post, time, mass, floor)
    claimed = weighted_sum(post, claim, score.shape[0])
    rate = np.divide(score, claimed, out=np.zeros_like(score), where=claimed > 0.0)
    return weighted_sum(voter, claim * rate[post], n_accounts)
