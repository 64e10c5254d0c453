"""Concave, cluster-aware support for a post, with a bonus for support that bridges clusters.

Support is first summed within each voter cluster, then each cluster's sum goes through a concave
curve (linear up to a knee of several ordinary votes, square-root beyond), so one group that piles
onto a post counts about once however large it is. A post liked both by the author's own cluster
and by people outside it, who usually vote differently, earns a bridging bonus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.rewards.arrays import FloatArray, IntArray, weighted_sum


@dataclass(frozen=True, eq=False)
class Support:
    """Per post: the concave sum over clusters, and the part of it from the author's cluster."""

    total: FloatArray
    own: FloatArray


def concave(x: FloatArray, knee: float) -> FloatArray:
    """x up to `knee`, then 2·sqrt(x·knee) − knee: continuous, with slope 1 at the knee."""
    above = x > knee
    out = x.copy()
    out[above] = 2.0 * np.sqrt(x[above] * knee) - knee
    return out


def cluster_support(
    post: IntArray,
    cluster: IntArray,
    mass: FloatArray,
    author_cluster: IntArray,
    n_clusters: int,
    knee: float,
) -> Support:
    """Sum `mass` per (post, cluster), bend each sum with `concave`, and add up per post.

    `author_cluster` is the cluster of each post's author (one entry per post).
    """
    n_posts = author_cluster.shape[0]
    if post.shape[0] == 0:
        zero = np.zeros(n_posts, dtype=np.float64)
        return Support(total=zero, own=zero.copy())
    keys, group = np.unique(post * n_clusters + cluster, return_inverse=True)
    bent = concave(weighted_sum(group, mass, keys.shape[0]), knee)
    group_post = keys // n_clusters
    own = (keys % n_clusters) == author_cluster[group_post]
    total = weighted_sum(group_post, bent, n_posts)
    return Support(total=total, own=weighted_sum(group_post[own], bent[own], n_posts))


def with_bridging(support: Support, bonus: float) -> FloatArray:
    """Score from support: the concave total plus `bonus` times the support a post has both from
    its author's own cluster and from outside it (the smaller of the two)."""
    outside = support.total - support.own
    return support.total + bonus * np.minimum(support.own, np.maximum(outside, 0.0))
