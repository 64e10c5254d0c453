"""Closure: what a group that keeps its trust among itself gains, taken back and passed on.

Seeded PageRank lets a group multiply the trust that reaches it by following its own members:
trust that would have flowed on to everyone else circulates inside. A ring that follows only
itself doubles what it receives (at damping 0.5), and it also withholds from everyone else what
it would have passed on, so everyone else's share shrinks. Honest communities follow each other
too, more than their size alone explains. So each trust cluster (clusters.label_clusters on the
directed follow graph) may keep as much of its outflow inside as its size and a community's
exclusivity explain; it holds no more than that lets the trust flowing into it circulate (only
what its members passed to each other is cut), and the trust it should have passed on is given
to everyone else, as the typical cluster would have passed it: in proportion to the trust they
receive from follows.
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
    h + s x (1 - h) of its outflow inside, where the slack s is its exclusivity up to
    `closure_tolerance` and shrinks beyond it, to none at twice the tolerance; with d the share
    of its trust it passes on at all, it then holds at most inflow / (1 - d x that), where inflow
    is what reaches it from outside (seed restarts and follows from other clusters).

    What is cut is what circulated inside: every member keeps what reached it from outside, and
    only the trust members passed to each other is scaled down to fit. Label propagation may put
    honest accounts that follow a farm's vouchers in the farm's cluster; they keep what their own
    followers gave them, and their inflow no longer stretches what the farm may keep.
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
    tolerance = params.closure_tolerance
    # a community's leeway, which a group following itself twice as exclusively has not earned
    slack = np.clip(np.minimum(exclusivity, 2.0 * tolerance - exclusivity), 0.0, tolerance)
    allowed_internal = h + slack * (1.0 - h)
    allowed = received[live] / (1.0 - rate * allowed_internal)
    beyond = exclusivity > tolerance
    closed = live[beyond]
    openness[closed] = tolerance / exclusivity[beyond]

    # Cut what circulated inside the closed clusters down to what they may hold.
    outside = np.minimum(flow.trust, inflow)  # what reached each account from outside
    circulated = flow.trust - outside
    inside = weighted_sum(labels, circulated, n)
    keep = np.ones(n, dtype=np.float64)
    room = np.maximum(allowed[beyond] - weighted_sum(labels, outside, n)[closed], 0.0)
    keep[closed] = np.minimum(
        np.divide(room, inside[closed], out=np.ones(closed.shape[0]), where=inside[closed] > 0.0),
        1.0,
    )
    trust: FloatArray = flow.trust - circulated * (1.0 - keep[labels])

    # What each closed cluster should have passed on at the allowed internal share, less what
    # it passes on after the cut.
    scale = np.divide(trust, flow.trust, out=np.ones(n), where=flow.trust > 0.0)
    passed_on = weighted_sum(labels[src][cross], flow.edge_flow[cross] * scale[src][cross], n)
    kept = weighted_sum(labels, trust, n)
    owed = np.zeros(n, dtype=np.float64)
    owed[closed] = np.maximum(
        rate[beyond] * kept[closed] * (1.0 - allowed_internal[beyond]) - passed_on[closed], 0.0
    )
    total_owed = float(owed.sum())
    takers = np.maximum(flow.trust - flow.restart, 0.0) * (owed[labels] == 0.0)
    if total_owed > 0.0 and float(takers.sum()) > 0.0:
        # trust passed on circulates among its takers as it does in the typical cluster
        circulation = weighted_median(held[live] / np.maximum(received[live], 1e-300), held[live])
        trust = trust + total_owed * circulation * takers / float(takers.sum())
    return Closure(trust=trust, openness=openness[labels])
