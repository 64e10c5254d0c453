"""Closure: what a group that keeps its trust among itself gains, taken back and passed on.

Seeded PageRank lets a group multiply the trust that reaches it by following its own members:
trust that would have flowed on to everyone else circulates inside. A ring that follows only
itself doubles what it receives (at damping 0.5), and it also withholds from everyone else what
it would have passed on, so everyone else's share shrinks. Honest communities follow each other
too, more than their size alone explains. So each trust cluster (clusters.label_clusters on the
directed follow graph) may keep as much of its outflow inside as its size and the typical
cluster's exclusivity explain; it holds no more than that lets the trust flowing into it
circulate, and the trust it should have passed on is given to everyone else, as the typical
cluster would have passed it: in proportion to the trust they receive from follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.rewards.arrays import FloatArray, IntArray, weighted_sum
from koinon.rewards.median import weighted_median
from koinon.rewards.params import Params
from koinon.rewards.trust import TrustFlow


@dataclass(frozen=True, eq=False)
class Closure:
    """Per account: trust after the closure, and how open its cluster's follows are."""

    trust: FloatArray  # after the closure of its cluster, plus its part of what was owed
    openness: FloatArray  # 1, or closure_tolerance / exclusivity of a cluster beyond it


def closed_trust(
    labels: IntArray, flow: TrustFlow, src: IntArray, dst: IntArray, params: Params
) -> Closure:
    """Per account, its trust after the closure of its cluster, plus its part of the trust
    that closed clusters should have passed on; and the openness of its cluster.

    For a cluster holding a share h of all trust, the share of its outflow that stays inside is
    its internal share i; its exclusivity is (i - h) / (1 - h): 0 when its members follow each
    other no more than its size explains, 1 when they follow nobody else. It may keep
    h + min(exclusivity, `closure_tolerance`) x (1 - h) of its outflow inside; with d the share
    of its trust it passes on at all, it then holds at most inflow / (1 - d x that), where inflow
    is what reaches it from outside (seed restarts and follows from other clusters).
    """
    n = labels.shape[0]
    cross = labels[src] != labels[dst]
    held = weighted_sum(labels, flow.trust, n)
    inflow = flow.restart + weighted_sum(dst[cross], flow.edge_flow[cross], n)
    received = weighted_sum(labels, inflow, n)
    passed = weighted_sum(labels[src], flow.edge_flow, n)
    passed_out = weighted_sum(labels[src][cross], flow.edge_flow[cross], n)
    live = np.flatnonzero((held > 0.0) & (passed > 0.0))
    openness = np.ones(n, dtype=np.float64)
    if live.shape[0] == 0:
        return Closure(trust=flow.trust.copy(), openness=openness)
    h = held[live] / float(held.sum())
    rate = passed[live] / held[live]
    internal = 1.0 - passed_out[live] / passed[live]
    exclusivity = (internal - h) / np.maximum(1.0 - h, 1e-12)
    # a cluster may keep inside what its size explains plus `closure_tolerance` of the rest
    allowed_internal = h + np.maximum(np.minimum(exclusivity, params.closure_tolerance), 0.0) * (
        1.0 - h
    )
    allowed = received[live] / (1.0 - rate * allowed_internal)
    factor = np.ones(n, dtype=np.float64)
    factor[live] = np.minimum(allowed / held[live], 1.0)
    beyond = exclusivity > params.closure_tolerance
    openness[live[beyond]] = params.closure_tolerance / exclusivity[beyond]

    # What each cluster should have passed on at the allowed internal share, less what it did.
    owed = np.zeros(n, dtype=np.float64)
    kept = held[live] * factor[live]
    owed[live] = np.maximum(
        rate * kept * (1.0 - allowed_internal) - passed_out[live] * factor[live], 0.0
    )
    trust: FloatArray = flow.trust * factor[labels]
    total_owed = float(owed.sum())
    takers = np.maximum(flow.trust - flow.restart, 0.0) * (owed[labels] == 0.0)
    if total_owed > 0.0 and float(takers.sum()) > 0.0:
        # trust passed on circulates among its takers as it does in the typical cluster
        circulation = weighted_median(held[live] / np.maximum(received[live], 1e-300), held[live])
        trust = trust + total_owed * circulation * takers / float(takers.sum())
    return Closure(trust=trust, openness=openness[labels])
