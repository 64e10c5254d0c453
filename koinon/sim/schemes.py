"""What a scheme pays: the common shape of every scheme's settlement of an event log."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.rewards.arrays import weighted_sum
from koinon.sim.log import FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class Rewards:
    """Shares of the epoch's pool: per account (summing to 1) and each post's author part."""

    account: FloatArray
    post_author: FloatArray


def normalize(
    author_claims: FloatArray, curation_claims: FloatArray, post_author: IntArray, n_accounts: int
) -> Rewards:
    """Turn claims (per post for authors, per account for curators) into shares of the pool.

    Whatever a scheme leaves unclaimed goes back to its reward pool, which is what scaling all
    claims to sum to the pool amounts to within one epoch.
    """
    total = float(author_claims.sum() + curation_claims.sum())
    if total <= 0.0:
        return Rewards(account=np.zeros(n_accounts), post_author=np.zeros(post_author.shape[0]))
    post_share = author_claims / total
    account = weighted_sum(post_author, post_share, n_accounts)
    account = account + curation_claims / total
    return Rewards(account=account, post_author=post_share)
