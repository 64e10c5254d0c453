"""Clusters: groups of accounts that vote for each other, or that keep their trust among
themselves.

Clusters come from label propagation that maximizes modularity (LPAm, Barber and Clark 2009).
Vote clusters use the undirected voter-author graph weighted by vote mass, so a group lands in one
cluster when it votes for its own members more than chance would, whether or not its members
follow each other (a ring that follows many honest accounts would otherwise hide among them).
Trust clusters use the directed follow graph weighted by the trust each follow carries: an account
joins the group that receives most of the trust it passes on, so accounts that hand all their
trust to a farm land in the farm's cluster even though honest accounts follow them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from koinon.rewards.arrays import BoolArray, FloatArray, IntArray, sorted_unique, weighted_sum
from koinon.rewards.median import weighted_median
from koinon.rewards.order import stable_order
from koinon.rewards.params import Params

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _movers(n: int, round_no: int) -> BoolArray:
    """The half of the accounts that may move in this round: a fixed hash, so runs agree.

    Moving everyone at once lets two neighbours swap labels forever; moving a pseudo-random half
    breaks such cycles while staying deterministic.
    """
    mixed = (np.arange(n, dtype=np.uint64) + np.uint64(round_no + 1)) * _GOLDEN
    return ((mixed >> np.uint64(32)) & np.uint64(1)).astype(bool)


_SLOTS = 32  # label slots per account; labels sharing a slot are told apart or skipped


def _slot_hash(label: IntArray, salt: int) -> IntArray:
    mixed = (label.astype(np.uint64) + np.uint64(salt)) * _GOLDEN
    return (mixed >> np.uint64(40)).astype(np.int64)


def label_clusters(
    n_accounts: int,
    src: IntArray,
    dst: IntArray,
    weight: FloatArray,
    params: Params,
    directed: bool = False,
) -> IntArray:
    """A cluster label per account (an account number); unlinked accounts stay alone.

    Two levels, as in Louvain: accounts first join neighbouring labels, then the groups found are
    merged as units on the graph of links between them, which converges in a few rounds where
    account-level moves would need dozens. `directed`: an account weighs only the links it makes
    (src to dst) against the links the other groups receive (directed modularity), so it joins
    the group its links go to, not the groups that link to it.
    """
    labels = np.arange(n_accounts, dtype=np.int64)
    keep = (weight > 0.0) & (src != dst)
    if not keep.any() or params.cluster_rounds == 0:
        return labels
    if directed:
        row, col, mass = src[keep], dst[keep], weight[keep]
        out_degree = weighted_sum(row, mass, n_accounts)
        in_degree = weighted_sum(col, mass, n_accounts)
    else:
        row = np.concatenate([src[keep], dst[keep]])
        col = np.concatenate([dst[keep], src[keep]])
        mass = np.concatenate([weight[keep], weight[keep]])
        out_degree = in_degree = weighted_sum(row, mass, n_accounts)
    total = float(mass.sum())
    graph = _Graph(row, col, mass, out_degree, in_degree)
    labels = _propagate(labels, graph, total, params)
    # the graph of groups: nodes are labels, links summed, links inside a group dropped
    groups, member_of = np.unique(labels, return_inverse=True)
    count = groups.shape[0]
    if count == n_accounts:
        return labels
    pair, pair_of = np.unique(member_of[row] * count + member_of[col], return_inverse=True)
    pair_mass = weighted_sum(pair_of, mass, pair.shape[0])
    group_src, group_dst = pair // count, pair % count
    between = group_src != group_dst
    merged = _propagate(
        np.arange(count, dtype=np.int64),
        _Graph(
            group_src[between],
            group_dst[between],
            pair_mass[between],
            weighted_sum(member_of, out_degree, count),
            weighted_sum(member_of, in_degree, count),
        ),
        total,
        params,
    )
    return groups[merged][member_of]


@dataclass(frozen=True, eq=False)
class _Graph:
    """Links to propagate labels over: a node weighs its links `row -> col`; the null model of
    modularity pairs its out-degree with the in-degree of the label it might join."""

    row: IntArray
    col: IntArray
    mass: FloatArray
    out_degree: FloatArray
    in_degree: FloatArray


def _propagate(labels: IntArray, graph: _Graph, total: float, params: Params) -> IntArray:
    """LPAm rounds: each node (half of them per round) moves to the neighbouring label with the
    largest modularity gain, if that beats staying. Labels are node numbers.

    Each round sums a node's link weight per neighbouring label without sorting labels: they
    are hashed into a few slots per node, and a slot that two labels share (rare once clusters
    form) is recognised by its label sum and skipped. The slots in use are numbered by one sort
    of the links' cells, so that the sums fill arrays as long as the links, not n * _SLOTS.
    """
    n = labels.shape[0]
    row, col, mass = graph.row, graph.col, graph.mass
    scale = params.cluster_resolution * graph.out_degree / total
    every = np.arange(n, dtype=np.int64)
    slot_of = _slot_hash(every, 0) % _SLOTS  # labels are node numbers, so hash them once
    check_of = (_slot_hash(every, 1) % 1024).astype(np.float64)
    linked = graph.out_degree > 0.0
    stable = 0
    for round_no in range(params.cluster_rounds):
        movers = _movers(n, round_no) & linked
        # only the links of the nodes that may move this round are looked at
        mine = movers[row]
        r, c, m = row[mine], col[mine], mass[mine]
        label_degree = weighted_sum(labels, graph.in_degree, n)
        near = labels[c]
        cell = r * _SLOTS + slot_of[near]
        if cell.shape[0] == 0:
            break
        # only filled slots from here on, numbered in cell order (so sorted by node); each sum
        # adds its links in their order, as a sum over every cell would
        order = stable_order(cell)
        ordered = cell[order]
        new = np.r_[True, ordered[1:] != ordered[:-1]]
        filled = ordered[new]
        slot = np.empty_like(cell)
        slot[order] = np.cumsum(new) - 1
        link_total = weighted_sum(slot, m, filled.shape[0])
        sums = weighted_sum(slot, near.astype(np.float64), filled.shape[0])
        check_sum = weighted_sum(slot, check_of[near], filled.shape[0])
        hits = np.bincount(slot, minlength=filled.shape[0]).astype(np.float64)
        node = filled // _SLOTS
        guess = np.clip(np.round(sums / hits), 0, n - 1).astype(np.int64)
        # a slot holds one label when the labels' mean is a label whose checksum matches too;
        # two labels sharing a slot almost never pass both, and such a slot is skipped
        clean = (sums == guess * hits) & (check_sum == check_of[guess] * hits)
        clean &= guess != labels[node]
        gain = np.where(clean, link_total - scale[node] * label_degree[guess], -np.inf)
        to_own = weighted_sum(r, np.where(near == labels[r], m, 0.0), n)
        own_gain = to_own - scale * (label_degree[labels] - graph.in_degree)
        starts = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
        nodes = node[starts]
        best_of = np.maximum.reduceat(gain, starts)
        at_best = gain == np.repeat(best_of, np.diff(np.r_[starts, gain.shape[0]]))
        best_label_of = np.minimum.reduceat(np.where(at_best, guess, n), starts)
        best = np.full(n, -np.inf)
        best[nodes] = best_of
        best_label = np.full(n, n, dtype=np.int64)
        best_label[nodes] = best_label_of
        moving = (best > own_gain) & movers
        if not moving.any():
            stable += 1
            if stable >= 2:
                break
            continue
        stable = 0
        labels = np.where(moving, best_label, labels)
    return labels


def in_cluster_factor(
    labels: IntArray,
    voter: IntArray,
    author: IntArray,
    mass: FloatArray,
    authors: IntArray,
    weight: FloatArray,
    params: Params,
    reading: FloatArray | None = None,
) -> FloatArray:
    """Per upvote, the factor its mass counts with: 1 across clusters, at most 1 within one."""
    cap = self_support_cap(labels, voter, author, mass, authors, weight, params, reading)
    voter_cluster = labels[voter]
    return np.where(voter_cluster == labels[author], cap[voter_cluster], 1.0)


def follows_author(
    follow_src: IntArray, follow_dst: IntArray, voter: IntArray, author: IntArray, n: int
) -> BoolArray:
    """Per vote, whether its voter follows the post's author."""
    edges = sorted_unique(follow_src * n + follow_dst)
    if edges.shape[0] == 0:
        return np.zeros(voter.shape[0], dtype=bool)
    key = voter * n + author
    # look the keys up in ascending order: far fewer cache misses than in vote order
    order = np.argsort(key)
    ordered = key[order]
    at = np.minimum(np.searchsorted(edges, ordered), edges.shape[0] - 1)
    found = np.empty(key.shape[0], dtype=bool)
    found[order] = edges[at] == ordered
    return found


def self_support_cap(
    labels: IntArray,
    voter: IntArray,
    author: IntArray,
    mass: FloatArray,
    authors: IntArray,
    weight: FloatArray,
    params: Params,
    reading: FloatArray | None = None,
) -> FloatArray:
    """Per cluster, the factor its votes for its own authors count with (1 for most).

    A cluster's fair share of its own vote mass is the share of everyone else's vote mass that its
    posts attract (or, if larger, its authors' share of all authors' weight, so that a giant
    cluster is never judged by a few outsiders alone). Communities like their own a bit more than
    that; a cluster may support itself up to its fair share times the typical community's
    preference (the vote-weighted median, at most `in_cluster_tolerance`). Beyond that its
    self-support is scaled down: a ring gets from itself what a community would, however large
    it is and however it camouflages.

    A community likes its own because its members read each other: most of what they vote for
    among their own comes from people they follow. `reading` tells, per vote, how far it is such
    a vote: 1 for a vote for someone the voter follows, less when the voter's follows are
    themselves a closed group (closure.Closure.openness), 0 otherwise. A cluster whose votes for
    its own read less than the typical cluster's earns the preference only in proportion, down
    to none (its fair share exactly) for a group that votes for each other without reading each
    other, however much of its honest-looking votes elsewhere read.
    """
    n = labels.shape[0]
    voter_cluster = labels[voter]
    author_cluster = labels[author]
    same = voter_cluster == author_cluster
    spent = weighted_sum(voter_cluster, mass, n)
    inside = weighted_sum(voter_cluster[same], mass[same], n)
    received_from_others = weighted_sum(author_cluster[~same], mass[~same], n)
    others_spent = float(spent.sum()) - spent
    appraisal = np.divide(
        received_from_others, others_spent, out=np.zeros(n), where=others_spent > 0.0
    )
    supply = weighted_sum(labels[authors], weight[authors], n)
    total_supply = float(supply.sum())
    if total_supply > 0.0:
        appraisal = np.maximum(appraisal, supply / total_supply)
    fair = appraisal * spent
    active = np.flatnonzero(inside > 0.0)
    if active.shape[0] == 0:
        return np.ones(n, dtype=np.float64)
    ratio = np.divide(
        inside[active], fair[active], out=np.full(active.shape[0], np.inf), where=fair[active] > 0.0
    )
    typical = weighted_median(ratio, spent[active])
    preference = np.full(n, min(max(typical, 1.0), params.in_cluster_tolerance) - 1.0)
    if reading is not None:
        # how far a cluster's votes for its own are votes for people its voters follow
        read = weighted_sum(voter_cluster[same], (mass * reading)[same], n)[active] / inside[active]
        usual = weighted_median(read, spent[active])
        if usual > 0.0:
            preference[active] *= np.minimum(read / usual, 1.0)
    allowed = (1.0 + preference) * fair
    cap = np.ones(n, dtype=np.float64)
    over = inside > allowed
    cap[over] = allowed[over] / inside[over]
    return cap


def respend_excess(
    labels: IntArray,
    voter: IntArray,
    post: IntArray,
    post_author: IntArray,
    mass: FloatArray,
    effective: FloatArray,
) -> FloatArray:
    """Per post, the mass that clusters' capped self-support is spent on instead.

    Mass a cluster could not spend on itself is spent the way everyone else spends theirs: on
    posts outside the cluster, in proportion to their support. Otherwise a ring that votes only
    for itself would still gain, by withholding its votes from everyone else's posts.
    """
    n_posts = post_author.shape[0]
    n = labels.shape[0]
    excess = weighted_sum(labels[voter], mass - effective, n)
    support = weighted_sum(post, effective, n_posts)
    total = float(support.sum())
    if total <= 0.0 or not (excess > 0.0).any():
        return np.zeros(n_posts, dtype=np.float64)
    author_cluster = labels[post_author]
    own_support = weighted_sum(author_cluster, support, n)
    room = total - own_support
    rate = np.divide(excess, room, out=np.zeros(n), where=room > 0.0)
    # each post receives from every cluster but its author's
    return support * (float(rate.sum()) - rate[author_cluster])
