"""Voting mana as Hive and Steem (since HF20/HF21) spend it: what each vote is worth in rshares.

A full upvote spends 2% of the voter's current voting mana; mana refills linearly over five days.
Downvotes draw first on a separate downvote mana of 25% of the voting mana's size, but are as
strong as upvotes (2% of the current voting mana). Every vote loses a fixed dust amount, so votes
from tiny accounts are worth nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.sim.log import DAY, EventLog, FloatArray


@dataclass(frozen=True)
class ManaRules:
    """The chain constants the schemes share."""

    full_vote: float = 0.02  # share of current mana a 100% vote spends
    regeneration: float = 5 * DAY  # seconds to refill from empty
    downvote_pool: float = 0.25  # downvote mana, as a share of voting mana
    dust: float = 50_000_000.0  # rshares subtracted from every vote (HF20)
    rshares_per_stake: float = 2.0e9  # rshares per unit of stake spent (1 HP ≈ 2,000 VESTS)


def vote_rshares(log: EventLog, rules: ManaRules) -> FloatArray:
    """Signed rshares of every vote (upvotes positive), spending mana in time order per voter.

    Votes are processed rank by rank (every voter's first vote, then every voter's second...),
    which is exact because mana only depends on the voter's own earlier votes.
    """
    count = log.vote_voter.shape[0]
    rshares = np.zeros(count, dtype=np.float64)
    if count == 0:
        return rshares
    order = np.lexsort((log.vote_time, log.vote_voter))
    voter = log.vote_voter[order]
    first = np.r_[True, voter[1:] != voter[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(count), 0))
    rank = np.arange(count) - start
    top = log.stake.copy()
    up_mana = top.copy()
    down_top = rules.downvote_pool * top
    down_mana = down_top.copy()
    last = np.zeros(log.n_accounts, dtype=np.float64)
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max()) + 2))
    for k in range(int(rank.max()) + 1):
        idx = order[by_rank[bounds[k] : bounds[k + 1]]]
        who = log.vote_voter[idx]
        now = log.vote_time[idx].astype(np.float64)
        elapsed = now - last[who]
        up_mana[who] = np.minimum(top[who], up_mana[who] + top[who] * elapsed / rules.regeneration)
        down_mana[who] = np.minimum(
            down_top[who], down_mana[who] + down_top[who] * elapsed / rules.regeneration
        )
        last[who] = now
        used = rules.full_vote * log.vote_weight[idx] * up_mana[who]
        down = log.vote_direction[idx] < 0
        from_down = np.where(down, np.minimum(used, down_mana[who]), 0.0)
        down_mana[who] -= from_down
        up_mana[who] -= used - from_down
        value = np.maximum(used * rules.rshares_per_stake - rules.dust, 0.0)
        rshares[idx] = np.where(down, -value, value)
    return rshares
