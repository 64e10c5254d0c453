"""Concave, cluster-aware support for a post, with a bonus for support from several clusters.

Support is first summed within each voter cluster, then each cluster's sum goes through a concave
curve (linear up to a knee of a few ordinary votes, square-root beyond), so one tight group that
piles onto a post counts about once however large it is. Support from clusters other than the
post's largest supporting cluster, people who usually vote differently, earns a bridging bonus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.rewards.arrays import FloatArray, IntArray, weighted_sum


@dataclass(frozen=True, eq=False)
class Support:
    """Per post: the concave sum over clusters, and the largest single cluster's term."""

    total: FloatArray
    largest: FloatArray


def concave(x: FloatArray, knee: float) -> FloatArray:
    """x up to `knee`, then 2·sqrt(x·knee) − knee: continuous, with slope 1 at the knee."""
    above = x > knee
    out = x.copy()
    out[above] = 2.0 * np.sqrt(x[above] * knee) - knee
    return out


def cluster_support(
    post: IntArray, cluster: IntArray, mass: FloatArray, n_posts: int, n_clusters: int, knee: float
) -> Support:
    """Sum `mass` per (post, cluster), bend each sum with `concave`, and add up per post."""
    total = np.zeros(n_posts, dtype=np.float64)
    largest = np.zeros(n_posts, dtype=np.float64)
    if post.shape[0] == 0:
        return Support(total=total, largest=largest)
    keys, group = np.unique(post * n_clusters + cluster, return_inverse=True)
    bent = concave(weighted_sum(group, mass, keys.shape[0]), knee)
    group_post = keys // n_clusters
    total = weighted_sum(group_post, bent, n_posts)
    # groups are sorted by post, so each post's groups are one contiguous run
    starts = np.flatnonzero(np.r_[True, group_post[1:] != group_post[:-1]])
    largest[group_post[starts]] = np.maximum.reduceat(bent, starts)
    return Support(total=total, largest=largest)


def with_bridging(support: Support, bonus: float) -> FloatArray:
    """Score from support: the concave total plus `bonus` times what came from beyond the largest
    cluster."""
    return support.total + bonus * np.maximum(support.total - support.largest, 0.0)
