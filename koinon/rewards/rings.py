"""Rings: groups that upvote each other, found in several epochs of votes, held to their fair share.

One epoch's votes hide a ring of a few votes each among the communities around it: its members'
tie to each other is no stronger than readers' tie to the authors they read. Over several epochs
the ring's votes pile up on the same few hundred pairs while honest votes spread over new posts
of many authors, and the ring stands out in the leading eigenvectors of the normalized
who-upvoted-whom graph (docs/rewards.md, "Rings over several epochs").

`find_rings` takes the window's upvotes (this epoch's and the earlier epochs' that the node
supplies), computes the leading non-trivial eigenvectors of the graph's largest connected part,
and cuts each eigenvector at the prefix whose members share the most edges beyond chance (a
z-score against the configuration model). A group kept is one that is not already a vote cluster
(those are capped by `clusters.self_support_cap`) and whose members both give and receive the
votes inside it, as a ring does (readers of the same authors give, their authors receive).

`hold_rings` then holds each group's support for its own members to its fair share, as the
cluster cap does for clusters, but with no community's preference.

Determinism: the eigenvectors come from a fixed number of Chebyshev-filtered subspace steps
(sparse products in array order), Gram-Schmidt with sequential sums, and a Jacobi sweep on the
small projected matrix: only +, -, x, / and square roots, identical on every machine.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from koinon.rewards.arrays import BoolArray, FloatArray, IntArray, sorted_unique
from koinon.rewards.params import Params

_PASSES = 5  # filter passes, each followed by an orthonormalization
_DEGREE = 8  # Chebyshev degree of each pass
_FLOOR = -1.0  # the normalized adjacency's spectrum lies in [-1, 1]
_JACOBI_SWEEPS = 12
_MIN_GROUP = 11  # a group smaller than this is noise, whatever its z-score


def _sum(values: FloatArray) -> float:
    """Sum in array order (bincount adds sequentially; numpy's sum pairs up differently)."""
    if values.shape[0] == 0:
        return 0.0
    return float(np.bincount(np.zeros(values.shape[0], dtype=np.int64), weights=values)[0])


def _orthonormalize(block: FloatArray) -> FloatArray:
    """Modified Gram-Schmidt on the columns, with sequential sums."""
    out = block.copy()
    for j in range(out.shape[1]):
        for i in range(j):
            out[:, j] -= _sum(out[:, i] * out[:, j]) * out[:, i]
        norm = math.sqrt(_sum(out[:, j] * out[:, j]))
        out[:, j] = out[:, j] / norm if norm > 0.0 else 0.0
    return out


def _jacobi(matrix: list[list[float]]) -> tuple[list[float], list[list[float]]]:
    """Eigenvalues and eigenvectors (columns) of a small symmetric matrix, by cyclic Jacobi
    rotations: a fixed number of sweeps, so the same floats everywhere."""
    k = len(matrix)
    a = [row[:] for row in matrix]
    v = [[1.0 if i == j else 0.0 for j in range(k)] for i in range(k)]
    for _ in range(_JACOBI_SWEEPS):
        for p in range(k - 1):
            for q in range(p + 1, k):
                if a[p][q] == 0.0:
                    continue
                theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q])
                sign = 1.0 if theta >= 0.0 else -1.0
                t = sign / (abs(theta) + math.sqrt(theta * theta + 1.0))
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for r in range(k):
                    arp, arq = a[r][p], a[r][q]
                    a[r][p], a[r][q] = c * arp - s * arq, s * arp + c * arq
                for r in range(k):
                    apr, aqr = a[p][r], a[q][r]
                    a[p][r], a[q][r] = c * apr - s * aqr, s * apr + c * aqr
                for r in range(k):
                    vrp, vrq = v[r][p], v[r][q]
                    v[r][p], v[r][q] = c * vrp - s * vrq, s * vrp + c * vrq
    return [a[i][i] for i in range(k)], v


def _start_block(n: int, k: int) -> FloatArray:
    """A fixed, spread-out starting block: a multiplicative hash of each row and column."""
    rows = np.arange(n, dtype=np.uint64)[:, None] + np.uint64(1)
    cols = np.arange(k, dtype=np.uint64)[None, :] + np.uint64(1)
    mixed = (
        rows * np.uint64(0x9E3779B97F4A7C15) + cols * np.uint64(0xBF58476D1CE4E5B9)
    ) >> np.uint64(11)
    block: FloatArray = mixed.astype(np.float64) / float(2**53) - 0.5
    return np.ascontiguousarray(block)


def leading_vectors(
    graph: sp.csr_matrix, degree: FloatArray, k: int, edge: float
) -> tuple[list[float], FloatArray]:
    """The k leading non-trivial eigenpairs of D^-1/2 A D^-1/2 for a connected graph A with
    degrees `degree`, largest first; eigenvalues at or below `edge` are damped by the filter."""
    n = degree.shape[0]
    root = np.sqrt(degree)
    inverse = 1.0 / root
    trivial = root / math.sqrt(_sum(degree))  # eigenvalue 1: the stationary direction

    def product(block: FloatArray) -> FloatArray:
        out: FloatArray = inverse[:, None] * (graph @ (inverse[:, None] * block))
        return out

    def deflate(block: FloatArray) -> FloatArray:
        for j in range(block.shape[1]):
            block[:, j] -= _sum(trivial * block[:, j]) * trivial
        return block

    half_width = (edge - _FLOOR) / 2.0
    centre = (edge + _FLOOR) / 2.0
    block = _orthonormalize(deflate(_start_block(n, k)))
    for _ in range(_PASSES):
        # Chebyshev recurrence on [floor, edge]: what lies above the edge grows, the rest stays
        previous = block
        current = deflate((product(block) - centre * block) / half_width)
        for _ in range(_DEGREE - 1):
            following = deflate(2.0 * (product(current) - centre * current) / half_width - previous)
            previous, current = current, following
        block = _orthonormalize(current)
    image = product(block)
    matrix = [[_sum(block[:, i] * image[:, j]) for j in range(k)] for i in range(k)]
    for i in range(k):
        for j in range(i):
            matrix[i][j] = matrix[j][i] = (matrix[i][j] + matrix[j][i]) / 2.0
    values, rotation = _jacobi(matrix)
    order = sorted(range(k), key=lambda j: (-values[j], j))
    vectors = np.zeros((n, k), dtype=np.float64)
    for out, j in enumerate(order):
        for i in range(k):
            vectors[:, out] += rotation[i][j] * block[:, i]
    return [values[j] for j in order], vectors


def _best_prefix(
    position: FloatArray,
    row: IntArray,
    col: IntArray,
    links: FloatArray,
    degree: FloatArray,
    total: float,
) -> tuple[float, IntArray]:
    """The prefix of the accounts ordered by `position` (largest first, ties by number) whose
    members share the most edges beyond the configuration model's expectation, as a z-score."""
    n = position.shape[0]
    order = np.argsort(-position, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    # an edge is inside a prefix once the prefix reaches its later end
    inside = np.cumsum(np.bincount(np.maximum(rank[row], rank[col]), weights=links, minlength=n))
    volume = np.cumsum(degree[order])
    expected = volume * volume / total
    z = (inside - expected) / np.sqrt(np.maximum(expected, 1e-12))
    last = n // 2
    if last < _MIN_GROUP:
        return -math.inf, order[:0]
    window = z[_MIN_GROUP - 1 : last]
    best = int(np.argmax(window)) + _MIN_GROUP
    return float(z[best - 1]), order[:best]


def find_rings(
    n_accounts: int,
    voter: IntArray,
    author: IntArray,
    cluster: IntArray,
    weight: FloatArray,
    params: Params,
) -> list[BoolArray]:
    """Groups that upvote each other across the window of epochs, beyond what their vote
    clusters explain. `voter`, `author`: one entry per upvote in the window (self-votes and
    votes of weightless voters already left out)."""
    if params.ring_vectors == 0 or voter.shape[0] == 0:
        return []
    width = n_accounts
    # every upvote is an edge, both ways: pairs that vote for each other often weigh more
    key = np.concatenate([voter * width + author, author * width + voter])
    nodes = sorted_unique(np.concatenate([voter, author]))
    if nodes.shape[0] < 2 * _MIN_GROUP:
        return []
    local = np.full(n_accounts, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.shape[0], dtype=np.int64)
    src, dst = local[key // width], local[key % width]
    m = nodes.shape[0]
    graph = sp.csr_matrix((np.ones(src.shape[0]), (src, dst)), shape=(m, m))
    graph.sum_duplicates()
    count, part = connected_components(graph, directed=False)
    sizes = np.bincount(part, minlength=count)
    giant = part == int(np.argmax(sizes))
    keep = np.flatnonzero(giant)
    if keep.shape[0] < 2 * _MIN_GROUP + params.ring_vectors:
        return []
    graph = graph[keep][:, keep].tocsr()
    graph.sum_duplicates()
    graph.sort_indices()
    degree = np.asarray(graph.sum(axis=1)).ravel().astype(np.float64)
    # each linked pair once (the graph is symmetric, its diagonal empty), counting both ways
    pairs = sp.triu(graph, k=1).tocoo()
    row, col = pairs.row.astype(np.int64), pairs.col.astype(np.int64)
    links = 2.0 * pairs.data
    total = _sum(degree)
    _, vectors = leading_vectors(graph, degree, params.ring_vectors, params.ring_edge)
    members_of = nodes[keep]
    voting_weight = _sum(weight[sorted_unique(voter)])

    labels, label_of = np.unique(cluster, return_inverse=True)
    cluster_size = np.bincount(label_of, minlength=labels.shape[0])
    inverse_root = 1.0 / np.sqrt(degree)
    groups: list[BoolArray] = []
    for j in range(vectors.shape[1]):
        position = inverse_root * vectors[:, j]
        best_z, best = -math.inf, position[:0].astype(np.int64)
        for sign in (1.0, -1.0):
            z, prefix = _best_prefix(sign * position, row, col, links, degree, total)
            if z > best_z:
                best_z, best = z, prefix
        if best.shape[0] == 0 or best_z < params.ring_min_z:
            continue
        group = np.zeros(n_accounts, dtype=bool)
        group[members_of[best]] = True
        # a group with a large part of the voting weight is a faction or a camp, not a ring
        if _sum(weight[members_of[best]]) > params.ring_largest * voting_weight:
            continue
        # a group that is mostly whole vote clusters is capped as those clusters already
        # (an account alone in its cluster explains nothing)
        share = np.bincount(label_of[group], minlength=labels.shape[0]) / cluster_size
        share[cluster_size == 1] = 0.0
        explained = _sum(share[label_of[group]]) / float(best.shape[0])
        if explained >= params.ring_explained:
            continue
        if _balance(group, voter, author, n_accounts) < params.ring_balance:
            continue
        groups.append(group)
    return groups


def _balance(group: BoolArray, voter: IntArray, author: IntArray, n: int) -> float:
    """How much of the votes inside a group its members both give and receive: 1 when every
    member gets as many as it gives (a ring), near 0 when some only give and others only
    receive (readers and the authors they read)."""
    inside = group[voter] & group[author]
    given = np.bincount(voter[inside], minlength=n)
    received = np.bincount(author[inside], minlength=n)
    total = int(given.sum())
    return int(np.minimum(given, received).sum()) / total if total else 0.0


def hold_rings(
    groups: list[BoolArray],
    effective: FloatArray,
    voter: IntArray,
    author: IntArray,
    mass: FloatArray,
    authors: IntArray,
    weight: FloatArray,
    preference: float,
) -> FloatArray:
    """Scale each group's votes for its own members down to `preference` times its fair share:
    the share of everyone else's vote mass its members attract (or its share of authors'
    weight, if larger), times the mass its members spend."""
    if not groups:
        return effective
    out = effective.copy()
    author_weight = weight[authors]
    all_authors = _sum(author_weight)
    for group in groups:
        inside = group[voter] & group[author]
        own = _sum(mass[inside])
        if own <= 0.0:
            continue
        spent = _sum(mass[group[voter]])
        outsiders = ~group[voter]
        from_others = _sum(mass[outsiders])
        attracted = _sum(mass[outsiders & group[author]]) / from_others if from_others else 0.0
        if all_authors > 0.0:
            attracted = max(attracted, _sum(author_weight[group[authors]]) / all_authors)
        fair = preference * attracted * spent
        if own > fair:
            out[inside] *= fair / own
    return out
