"""The mechanism on arrays: trust, vote budgets, clusters, concave support with bridging,
downvotes and curation, giving each post a score and each account its reward weights.

The floats here are computed with additions, multiplications, divisions, square roots and sparse
products in a fixed order, which IEEE 754 makes identical on every machine; settle.py turns them
into integer payouts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.rewards.arrays import EpochArrays, FloatArray, IntArray, sorted_unique, weighted_sum
from koinon.rewards.bridging import cluster_support, with_bridging
from koinon.rewards.budget import vote_mass
from koinon.rewards.closure import closed_trust
from koinon.rewards.clusters import (
    follows_author,
    label_clusters,
    respend_excess,
    self_support_cap,
)
from koinon.rewards.curation import curation_rewards
from koinon.rewards.downvotes import downvote_pressure, net_score
from koinon.rewards.params import Params
from koinon.rewards.rings import find_rings, hold_rings
from koinon.rewards.trust import penalize_misleading, propagate_trust, voter_weights


@dataclass(frozen=True, eq=False)
class Tally:
    """Everything the mechanism computed for an epoch, before integer rounding."""

    trust: FloatArray  # per account, after the closure of trust clusters
    weight: FloatArray  # per account, voting weight in [0, 1]
    cluster: IntArray  # per account, its cluster label
    post_score: FloatArray  # per post, what its author is paid in proportion to
    author_weight: FloatArray  # per account, sum of its posts' scores
    curation_weight: FloatArray  # per account


def tally(epoch: EpochArrays, params: Params, penalized: IntArray | None = None) -> Tally:
    """Run the mechanism; `penalized` accounts (owners of slashed bonds) lose trust weight too."""
    n = epoch.n_accounts
    flow = propagate_trust(n, epoch.follow_src, epoch.follow_dst, epoch.seeds, params)
    first_weight = voter_weights(flow.trust, flow.restart, params)
    first = vote_mass(epoch, first_weight, params)
    up = first.up & (first.mass > 0.0)
    voter, post = epoch.vote_voter[up], epoch.vote_post[up]
    author = epoch.post_author[post]
    window_voter, window_author = _window_upvotes(epoch, voter, author, first_weight)
    # Two partitions: groups that keep their trust among themselves (directed, by where each
    # account's trust goes), and groups that vote for each other (undirected; follows left out,
    # since a vote ring that follows many honest accounts would hide among them).
    closed = label_clusters(
        n, epoch.follow_src, epoch.follow_dst, flow.edge_flow, params, directed=True
    )
    cluster = label_clusters(n, voter, author, first.mass[up], params)
    closure = closed_trust(closed, flow, epoch.follow_src, epoch.follow_dst, params)
    trust = closure.trust
    offenders = epoch.post_author[epoch.misleading]
    if penalized is not None:
        offenders = np.concatenate([offenders, penalized])
    weight = penalize_misleading(
        voter_weights(trust, flow.restart, params, closed), offenders, params
    )

    votes = vote_mass(epoch, weight, params)
    up = votes.up & (votes.mass > 0.0)
    voter, post, mass = epoch.vote_voter[up], epoch.vote_post[up], votes.mass[up]
    author = epoch.post_author[post]
    authors = sorted_unique(epoch.post_author)
    # reading: a vote for someone the voter follows, weighed by how open the voter's follows are
    reading = follows_author(epoch.follow_src, epoch.follow_dst, voter, author, n)
    cap = self_support_cap(
        cluster, voter, author, mass, authors, weight, params, reading * closure.openness[voter]
    )
    effective = mass * np.where(cluster[voter] == cluster[author], cap[cluster[voter]], 1.0)
    rings = find_rings(n, window_voter, window_author, cluster, first_weight, params)
    effective = hold_rings(
        rings, effective, voter, author, mass, authors, weight, params.ring_preference
    )

    knee = params.concave_knee * (float(mass.sum()) / mass.shape[0]) if mass.shape[0] else 1.0
    post_cluster = cluster[epoch.post_author]
    support = cluster_support(post, cluster[voter], effective, post_cluster, n, knee)
    down = votes.down & (votes.mass > 0.0)
    pressure = downvote_pressure(
        epoch.vote_post[down],
        cluster[epoch.vote_voter[down]],
        # a cluster caught supporting itself loses the same share of its downvotes
        votes.mass[down] * cap[cluster[epoch.vote_voter[down]]],
        post_cluster,
        n,
        params.downvote_knee * knee / params.concave_knee,
    )
    respent = respend_excess(cluster, voter, post, epoch.post_author, mass, effective)
    score = net_score(with_bridging(support, params.bridging_bonus) + respent, pressure)
    score[epoch.misleading] = 0.0
    author_weight = weighted_sum(epoch.post_author, score, n)
    curation = curation_rewards(
        voter, post, epoch.vote_time[up], effective, score, n, params.curation_floor
    )
    return Tally(
        trust=trust,
        weight=weight,
        cluster=cluster,
        post_score=score,
        author_weight=author_weight,
        curation_weight=curation,
    )


def _window_upvotes(
    epoch: EpochArrays, voter: IntArray, author: IntArray, weight: FloatArray
) -> tuple[IntArray, IntArray]:
    """This epoch's counted upvotes and the earlier epochs' upvotes by accounts that weigh
    something now (self-votes left out): the graph the ring detector reads."""
    past_voter, past_author = epoch.history_voter, epoch.history_author
    keep = (weight[past_voter] > 0.0) & (past_voter != past_author)
    return (
        np.concatenate([voter, past_voter[keep]]),
        np.concatenate([author, past_author[keep]]),
    )
