"""Steem after HF21: convergent linear author curve and convergent square-root curation curve
with s = 2·10^12 rshares, 50/50 author/curation, a 5-minute reverse auction whose forfeit goes
back to the pool; mana, free downvotes and dust as in mana.py. Self-votes count."""

from __future__ import annotations

import numpy as np

from koinon.rewards.arrays import weighted_sum
from koinon.sim.log import EventLog, FloatArray
from koinon.sim.mana import ManaRules, vote_rshares
from koinon.sim.schemes import Rewards, normalize

CONTENT_CONSTANT = 2.0e12  # s
AUTHOR_SHARE = 0.5
REVERSE_AUCTION = 300  # seconds


def convergent_linear(r: FloatArray, s: float = CONTENT_CONSTANT) -> FloatArray:
    """HF21 reward curve: ((r + s)² − s²) / (r + 4s); about r²/4s when small, r when large."""
    result: FloatArray = ((r + s) ** 2 - s**2) / (r + 4.0 * s)
    return result


def convergent_sqrt(r: FloatArray, s: float = CONTENT_CONSTANT) -> FloatArray:
    """HF21 curation curve: r / sqrt(r + 2s)."""
    result: FloatArray = r / np.sqrt(r + 2.0 * s)
    return result


def settle_steem(log: EventLog, rules: ManaRules | None = None) -> Rewards:
    """Steem HF21's shares of the pool for this log."""
    rshares = vote_rshares(log, rules or ManaRules())
    net = weighted_sum(log.vote_post, rshares, log.n_posts)
    claim = convergent_linear(np.maximum(net, 0.0))
    up = rshares > 0.0
    # Curation weight of a vote: the growth it caused in W(running upvote rshares of the post).
    idx = np.flatnonzero(up)
    idx = idx[np.lexsort((log.vote_time[idx], log.vote_post[idx]))]
    post = log.vote_post[idx]
    value = rshares[idx]
    running = np.cumsum(value)
    new_post = np.r_[True, post[1:] != post[:-1]] if idx.shape[0] else np.zeros(0, bool)
    base = (running - value)[new_post]
    after = running - base[np.cumsum(new_post) - 1]
    before = after - value
    weight = convergent_sqrt(after) - convergent_sqrt(before)
    age = (log.vote_time[idx] - log.post_time[post]).astype(np.float64)
    claimed = weight * np.minimum(1.0, age / REVERSE_AUCTION)
    total_weight = weighted_sum(post, weight, log.n_posts)
    rate = np.divide(
        (1.0 - AUTHOR_SHARE) * claim,
        total_weight,
        out=np.zeros(log.n_posts),
        where=total_weight > 0,
    )
    curators = weighted_sum(log.vote_voter[idx], claimed * rate[post], log.n_accounts)
    return normalize(AUTHOR_SHARE * claim, curators, log.post_author, log.n_accounts)
