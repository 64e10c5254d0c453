"""Hive as it runs today (HF25+): linear reward curve, 50/50 author/curation, curation weight
linear in rshares, halved for votes after 24 hours and divided by 8 after 72 hours; no reverse
auction; mana, free downvotes and dust as in mana.py. Self-votes count like any other."""

from __future__ import annotations

import numpy as np

from koinon.rewards.arrays import weighted_sum
from koinon.sim.log import DAY, EventLog, FloatArray
from koinon.sim.mana import ManaRules, vote_rshares
from koinon.sim.schemes import Rewards, normalize

AUTHOR_SHARE = 0.5


def curation_window(age: FloatArray) -> FloatArray:
    """Hive's curation weight factor for a vote cast `age` seconds after the post."""
    return np.where(age < DAY, 1.0, np.where(age < 3 * DAY, 0.5, 0.125))


def settle_hive(log: EventLog, rules: ManaRules | None = None) -> Rewards:
    """Hive's shares of the pool for this log."""
    rshares = vote_rshares(log, rules or ManaRules())
    net = weighted_sum(log.vote_post, rshares, log.n_posts)
    claim = np.maximum(net, 0.0)  # linear curve: a post's payout is proportional to its rshares
    up = rshares > 0.0
    age = (log.vote_time - log.post_time[log.vote_post]).astype(np.float64)
    weight = np.where(up, rshares * curation_window(age), 0.0)
    full = weighted_sum(log.vote_post, np.where(up, rshares, 0.0), log.n_posts)
    # each curator's part of the post's curation half; reductions stay unclaimed (back to pool)
    rate = np.divide(
        (1.0 - AUTHOR_SHARE) * claim, full, out=np.zeros(log.n_posts), where=full > 0.0
    )
    curators = weighted_sum(log.vote_voter, weight * rate[log.vote_post], log.n_accounts)
    return normalize(AUTHOR_SHARE * claim, curators, log.post_author, log.n_accounts)
