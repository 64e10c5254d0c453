"""Downvotes: drawn from their own budget (see budget.py) and aggregated like support, per
cluster and concavely, so that a brigade from one cluster cannot sink a post alone."""

from __future__ import annotations

import numpy as np

from koinon.rewards.arrays import FloatArray, IntArray
from koinon.rewards.bridging import cluster_support


def downvote_pressure(
    post: IntArray,
    cluster: IntArray,
    mass: FloatArray,
    author_cluster: IntArray,
    n_clusters: int,
    knee: float,
) -> FloatArray:
    """Per post, the concave per-cluster sum of downvote mass."""
    return cluster_support(post, cluster, mass, author_cluster, n_clusters, knee).total


def net_score(support: FloatArray, pressure: FloatArray) -> FloatArray:
    """Support minus downvote pressure, floored at zero: downvotes remove reward, add no debt."""
    return np.maximum(support - pressure, 0.0)
