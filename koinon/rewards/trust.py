"""Voter weight from seeded trust: personalized PageRank over the follow graph.

Trust starts at the seeds and flows along follows, each account splitting what it passes on
equally among the accounts it follows. A sybil farm receives only what flows over the few edges
real users gave it, however many accounts it creates (the SybilRank argument), and following many
accounts gives none of them more. What a closed group gains by following only itself is taken
back per cluster (closure.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from koinon.rewards.arrays import FloatArray, IntArray, weighted_sum
from koinon.rewards.median import weighted_median
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


def voter_weights(
    trust: FloatArray, restart: FloatArray, params: Params, labels: IntArray | None = None
) -> FloatArray:
    """Voting weight: trust, capped at `trust_cap` times the typical trust.

    "Typical" is the median of the trust accounts receive from follows, weighted by that trust:
    a sybil farm of many accounts with tiny trust cannot drag it down, and the seeds' restart mass
    does not count. The cap keeps the seeds and a few hubs from outvoting everyone (and from being
    the obvious accounts to buy votes from). Below it weight is linear in trust.

    A cap per account rewards splitting: a farm that spreads its trust over a thousand accounts
    keeps all of it, where ten accounts would have been capped. So with trust clusters (`labels`)
    the weight the cap takes from a member is given back to the others of its cluster in
    proportion to their weight: a cluster weighs what its members received, however many there
    are. Only the seeds' restart mass, which the operators hand out, stays capped.
    """
    received = trust - restart
    values = received[received > 0.0]
    if values.shape[0] == 0:
        return trust.copy()
    cap = params.trust_cap * weighted_median(values, values)
    weight: FloatArray = np.minimum(trust, cap)
    if labels is None:
        return weight
    n = trust.shape[0]
    own = np.minimum(np.minimum(restart, cap) + np.maximum(received, 0.0), trust)
    whole = weighted_sum(labels, own, n)
    kept = weighted_sum(labels, weight, n)
    give_back = np.divide(whole, kept, out=np.ones(n), where=kept > 0.0)
    weighted: FloatArray = weight * np.maximum(give_back, 1.0)[labels]
    return weighted


def penalize_misleading(weight: FloatArray, offenders: IntArray, params: Params) -> FloatArray:
    """Cut the weight of authors whose posts notes settled as misleading (once per epoch)."""
    if offenders.shape[0] == 0:
        return weight
    weight = weight.copy()
    weight[np.unique(offenders)] *= params.misleading_trust_factor
    return weight
