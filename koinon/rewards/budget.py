"""Vote budgets: a voter's weight is shared by all their votes of the epoch, and downvotes draw
on a separate, smaller budget so that punishing bad posts never costs a voter their upvotes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.rewards.arrays import BoolArray, EpochArrays, FloatArray, weighted_sum
from koinon.rewards.params import Params


@dataclass(frozen=True, eq=False)
class VoteMass:
    """Per vote: the part of its voter's budget it carries (`share`) and that part in weight."""

    counted: BoolArray  # not a self-vote
    up: BoolArray  # counted upvote
    down: BoolArray  # counted downvote
    share: FloatArray  # fraction of the voter's (up or down) budget, 0 for self-votes
    mass: FloatArray  # share times the voter's weight (times the downvote budget for downvotes)


def vote_mass(epoch: EpochArrays, weight: FloatArray, params: Params) -> VoteMass:
    """Split each voter's budget over their votes in proportion to the votes' own weights.

    A voter who casts fewer votes than one budget's worth keeps the rest unused: one vote of
    weight 0.5 carries half the voter's weight, as the voter asked.
    """
    counted = epoch.vote_voter != epoch.post_author[epoch.vote_post]  # self-votes weigh zero
    up = counted & (epoch.vote_direction > 0)
    down = counted & (epoch.vote_direction < 0)
    share = np.zeros(epoch.vote_voter.shape[0], dtype=np.float64)
    for chosen in (up, down):
        spent = weighted_sum(epoch.vote_voter[chosen], epoch.vote_weight[chosen], epoch.n_accounts)
        budget = np.maximum(spent, 1.0)
        share[chosen] = epoch.vote_weight[chosen] / budget[epoch.vote_voter[chosen]]
    mass = share * weight[epoch.vote_voter]
    mass[down] *= params.downvote_budget
    return VoteMass(counted=counted, up=up, down=down, share=share, mass=mass)
