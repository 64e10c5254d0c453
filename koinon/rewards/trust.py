"""Voter weight from seeded trust: personalized PageRank over the follow graph.

Trust starts at the seeds and flows along follows, each account splitting what it holds equally
among the accounts it follows. A sybil farm receives only what flows over the few edges real users
gave it, however many accounts it creates (the SybilRank argument), and since every account splits
its trust, following many accounts gives none of them more.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from koinon.rewards.arrays import FloatArray, IntArray
from koinon.rewards.params import Params


def propagate_trust(
    n_accounts: int, src: IntArray, dst: IntArray, seeds: IntArray, params: Params
) -> FloatArray:
    """Personalized PageRank restarting at `seeds`; sums to 1 (all zero when there is no seed).

    A fixed number of iterations of plain sparse products keeps the floats identical on every
    machine: no convergence test, no BLAS reduction whose order depends on the CPU.
    """
    trust = np.zeros(n_accounts, dtype=np.float64)
    if seeds.shape[0] == 0:
        return trust
    restart = np.zeros(n_accounts, dtype=np.float64)
    restart[seeds] = 1.0 / seeds.shape[0]
    out_degree = np.bincount(src, minlength=n_accounts).astype(np.float64)
    share = 1.0 / out_degree[src]
    # column-stochastic: trust[dst] += trust[src] / out_degree[src]
    flow = sp.csr_matrix((share, (dst, src)), shape=(n_accounts, n_accounts))
    dangling = out_degree == 0
    alpha = params.trust_damping
    trust = restart.copy()
    for _ in range(params.trust_iterations):
        kept = float(trust[dangling].sum())  # accounts that follow nobody hand trust back
        trust = alpha * (flow @ trust) + (1.0 - alpha + alpha * kept) * restart
    return trust


def voter_weights(trust: FloatArray, params: Params) -> FloatArray:
    """Voting weight in [0, 1]: full for anyone with `trust_full` of the typical trust, less below.

    "Typical" is the trust-weighted mean trust (sum of squares, as trust sums to 1), which a sybil
    farm cannot drag down by adding many accounts of tiny trust. Capping at 1 means that a ring
    whose follows keep trust circulating among themselves gains nothing beyond full weight, and
    that the seeds, which hold the restart mass, vote like anyone else.
    """
    typical = float((trust * trust).sum())  # not np.dot: BLAS may sum in a CPU-dependent order
    if typical <= 0.0:
        return np.zeros_like(trust)
    return np.minimum(1.0, trust / (params.trust_full * typical))


def penalize_misleading(weight: FloatArray, offenders: IntArray, params: Params) -> FloatArray:
    """Cut the weight of authors whose posts notes settled as misleading (once per epoch)."""
    if offenders.shape[0] == 0:
        return weight
    weight = weight.copy()
    weight[np.unique(offenders)] *= params.misleading_trust_factor
    return weight
