"""Voter weight from seeded trust: personalized PageRank over the follow graph.

Trust starts at the seeds and flows along follows, each account splitting what it passes on
equally among the accounts it follows. A sybil farm receives only what flows over the few edges
real users gave it, however many accounts it creates (the SybilRank argument), and following many
accounts gives none of them more. What a closed group gains by following only itself is taken
back per cluster (clusters.closure_factor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from koinon.rewards.arrays import FloatArray, IntArray, weighted_sum
from koinon.rewards.params import Params


@dataclass(frozen=True, eq=False)
class TrustFlow:
    """Trust per account (summing to 1), and what each follow edge carries."""

    trust: FloatArray
    restart: FloatArray  # per account: trust it gets from restarts (seeds only)
    edge_flow: FloatArray  # per follow edge: trust passed from follower to followee


def propagate_trust(
    n_accounts: int, src: IntArray, dst: IntArray, seeds: IntArray, params: Params
) -> TrustFlow:
    """Personalized PageRank restarting at `seeds` (all zero when there is no seed).

    A fixed number of iterations of plain sparse products keeps the floats identical on every
    machine: no convergence test, no BLAS reduction whose order depends on the CPU.
    """
    trust = np.zeros(n_accounts, dtype=np.float64)
    if seeds.shape[0] == 0:
        return TrustFlow(trust=trust, restart=trust.copy(), edge_flow=np.zeros(src.shape[0]))
    seed_share = np.zeros(n_accounts, dtype=np.float64)
    seed_share[seeds] = 1.0 / seeds.shape[0]
    out_degree = np.bincount(src, minlength=n_accounts).astype(np.float64)
    share = 1.0 / out_degree[src]
    # column-stochastic: trust[dst] += trust[src] / out_degree[src]
    flow = sp.csr_matrix((share, (dst, src)), shape=(n_accounts, n_accounts))
    dangling = out_degree == 0
    alpha = params.trust_damping
    trust = seed_share.copy()
    restart = seed_share
    for _ in range(params.trust_iterations):
        kept = float(trust[dangling].sum())  # accounts that follow nobody hand trust back
        restart = (1.0 - alpha + alpha * kept) * seed_share
        trust = alpha * (flow @ trust) + restart
    return TrustFlow(trust=trust, restart=restart, edge_flow=alpha * trust[src] * share)


def outside_inflow(flow: TrustFlow, src: IntArray, dst: IntArray, labels: IntArray) -> FloatArray:
    """Per account, trust from restarts and from followers in other clusters."""
    cross = labels[src] != labels[dst]
    inflow: FloatArray = flow.restart + weighted_sum(
        dst[cross], flow.edge_flow[cross], labels.shape[0]
    )
    return inflow


def voter_weights(trust: FloatArray, restart: FloatArray, params: Params) -> FloatArray:
    """Voting weight: trust, capped at `trust_cap` times the typical trust.

    "Typical" is the median of the trust accounts receive from follows, weighted by that trust:
    a sybil farm of many accounts with tiny trust cannot drag it down, and the seeds' restart mass
    does not count. The cap keeps the seeds and a few hubs from outvoting everyone (and from being
    the obvious accounts to buy votes from). Below it weight is linear in trust, so splitting trust
    over many accounts gains nothing.
    """
    received = trust - restart
    values = received[received > 0.0]
    if values.shape[0] == 0:
        return trust.copy()
    values = np.sort(values)
    cumulative = np.cumsum(values)
    typical = float(values[np.searchsorted(cumulative, 0.5 * cumulative[-1])])
    return np.minimum(trust, params.trust_cap * typical)


def penalize_misleading(weight: FloatArray, offenders: IntArray, params: Params) -> FloatArray:
    """Cut the weight of authors whose posts notes settled as misleading (once per epoch)."""
    if offenders.shape[0] == 0:
        return weight
    weight = weight.copy()
    weight[np.unique(offenders)] *= params.misleading_trust_factor
    return weight
