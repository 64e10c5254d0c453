"""Clusters of accounts that vote for each other, and how much of that support counts.

Clusters come from label propagation that maximizes modularity (LPAm, Barber and Clark 2009) on
the undirected voter-author graph weighted by vote mass: a group lands in one cluster when it votes
for its own members more than chance would, whether or not its members follow each other.

A cluster may then support its own authors only up to its fair share: the part of its vote mass
that its authors' share of all authors' weight would attract from an unbiased voter. Support beyond
that is scaled down, so a ring gets from itself what it would have got by voting honestly, however
many members it has and however it camouflages; support across clusters counts in full.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from koinon.rewards.arrays import BoolArray, FloatArray, IntArray, weighted_sum
from koinon.rewards.params import Params

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _movers(n: int, round_no: int) -> BoolArray:
    """The half of the accounts that may move in this round: a fixed hash, so runs agree.

    Moving everyone at once lets two neighbours swap labels forever; moving a pseudo-random half
    breaks such cycles while staying deterministic.
    """
    mixed = (np.arange(n, dtype=np.uint64) + np.uint64(round_no + 1)) * _GOLDEN
    return ((mixed >> np.uint64(32)) & np.uint64(1)).astype(bool)


def label_clusters(
    n_accounts: int, voter: IntArray, author: IntArray, mass: FloatArray, params: Params
) -> IntArray:
    """A cluster label per account (the index of one member); accounts without votes stay alone."""
    labels = np.arange(n_accounts, dtype=np.int64)
    if voter.shape[0] == 0 or params.cluster_rounds == 0:
        return labels
    graph = sp.csr_matrix(
        (
            np.concatenate([mass, mass]),
            (np.concatenate([voter, author]), np.concatenate([author, voter])),
        ),
        shape=(n_accounts, n_accounts),
    )
    graph.sum_duplicates()
    rows = np.repeat(np.arange(n_accounts, dtype=np.int64), np.diff(graph.indptr))
    degree = weighted_sum(rows, graph.data, n_accounts)
    two_m = float(degree.sum())
    if two_m <= 0.0:
        return labels
    linked = np.flatnonzero(degree > 0)
    scale = params.cluster_resolution * degree / two_m
    stable = 0
    for round_no in range(params.cluster_rounds):
        label_degree = weighted_sum(labels, degree, n_accounts)
        # Weight from each account to each neighbouring label, plus its own label at zero.
        cand = sp.csr_matrix(
            (
                np.concatenate([graph.data, np.zeros(linked.shape[0])]),
                (
                    np.concatenate([rows, linked]),
                    np.concatenate([labels[graph.indices], labels[linked]]),
                ),
            ),
            shape=(n_accounts, n_accounts),
        )
        cand.sum_duplicates()
        cand_rows = np.repeat(np.arange(n_accounts, dtype=np.int64), np.diff(cand.indptr))
        cand_labels = cand.indices.astype(np.int64)
        own = cand_labels == labels[cand_rows]
        # Modularity gain of joining a label, counting the account itself out of its own label.
        others = label_degree[cand_labels] - np.where(own, degree[cand_rows], 0.0)
        gain = cand.data - scale[cand_rows] * others
        starts = cand.indptr[linked]
        best = np.maximum.reduceat(gain, starts)
        own_gain = np.full(n_accounts, -np.inf)
        own_gain[cand_rows[own]] = gain[own]
        at_best = gain >= best[np.searchsorted(linked, cand_rows)]
        best_label = np.minimum.reduceat(np.where(at_best, cand_labels, n_accounts), starts)
        moving = (best > own_gain[linked]) & _movers(n_accounts, round_no)[linked]
        move, moved_to = linked[moving], best_label[moving]
        if move.shape[0] == 0:
            stable += 1
            if stable >= 2:
                break
            continue
        stable = 0
        labels = labels.copy()
        labels[move] = moved_to
    return labels


def in_cluster_factor(
    labels: IntArray,
    voter: IntArray,
    author: IntArray,
    mass: FloatArray,
    authors: IntArray,
    weight: FloatArray,
    params: Params,
) -> FloatArray:
    """Per upvote, the factor its mass counts with: 1 across clusters, at most 1 within one.

    `authors` are the accounts with posts in the epoch and `weight` the voter weights; a cluster's
    fair share is its authors' part of all authors' weight.
    """
    n = labels.shape[0]
    voter_cluster = labels[voter]
    same = voter_cluster == labels[author]
    supply = weighted_sum(labels[authors], weight[authors], n)
    total_supply = float(supply.sum())
    if total_supply <= 0.0:
        return np.ones_like(mass)
    spent = weighted_sum(voter_cluster, mass, n)
    inside = weighted_sum(voter_cluster[same], mass[same], n)
    allowed = params.in_cluster_tolerance * (supply / total_supply) * spent
    cap = np.ones(n, dtype=np.float64)
    over = inside > allowed
    cap[over] = allowed[over] / inside[over]
    return np.where(same, cap[voter_cluster], 1.0)
