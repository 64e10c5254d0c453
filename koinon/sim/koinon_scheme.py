"""Koinon's mechanism applied to a simulated log: the same `tally` that `settle_epoch` runs."""

from __future__ import annotations

import numpy as np

from koinon.rewards.arrays import EpochArrays, canonical_votes
from koinon.rewards.params import DEFAULT_PARAMS, Params
from koinon.rewards.tally import tally
from koinon.sim.log import EventLog
from koinon.sim.schemes import Rewards, normalize


def to_epoch(log: EventLog) -> EpochArrays:
    """The log as the mechanism's arrays (account and post numbers are already canonical)."""
    voter, post, direction, weight, time = canonical_votes(
        log.vote_voter,
        log.vote_post,
        log.vote_direction,
        log.vote_weight,
        log.vote_time,
        np.zeros(log.vote_voter.shape[0], dtype=np.int64),
    )
    return EpochArrays(
        n_accounts=log.n_accounts,
        post_author=log.post_author,
        post_time=log.post_time,
        misleading=np.zeros(log.n_posts, dtype=bool),
        vote_voter=voter,
        vote_post=post,
        vote_direction=direction,
        vote_weight=weight,
        vote_time=time,
        follow_src=log.follow_src,
        follow_dst=log.follow_dst,
        seeds=log.seeds,
        history_voter=log.history_voter,
        history_author=log.history_author,
    )


def settle_koinon(log: EventLog, params: Params = DEFAULT_PARAMS) -> Rewards:
    """Koinon's shares of the pool for this log."""
    result = tally(to_epoch(log), params)
    score_total = float(result.post_score.sum())
    curation_total = float(result.curation_weight.sum())
    author_part = params.author_share if curation_total > 0.0 else 1.0
    authors = (
        author_part * result.post_score / score_total if score_total > 0 else result.post_score
    )
    curators = (
        (1.0 - author_part) * result.curation_weight / curation_total
        if curation_total > 0
        else result.curation_weight
    )
    return normalize(authors, curators, log.post_author, log.n_accounts)
