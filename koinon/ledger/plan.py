"""Proofs over stored complete subtrees: which nodes a proof needs, then how to combine them.

A node is named (level, index): the hash of leaves [index·2^level, (index+1)·2^level). Every hash a
proof needs is either such a complete subtree or a right-edge range made of a few of them, so a
proof costs O(log n) look-ups that a store can fetch in one query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from koinon.ledger.merkle import EMPTY_ROOT, node_hash, split_point

NodeId = tuple[int, int]
Range = tuple[NodeId, ...]  # complete subtrees, left to right, whose fold is one proof hash


def decompose(start: int, end: int) -> Range:
    """The complete aligned subtrees covering leaves [start, end), largest first."""
    nodes = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return tuple(nodes)


def fold(range_: Range, hashes: Mapping[NodeId, bytes]) -> bytes:
    """MTH of a range from its complete subtrees (RFC 9162 splits put the big ones left)."""
    if not range_:
        return EMPTY_ROOT
    result = hashes[range_[-1]]
    for node in reversed(range_[:-1]):
        result = node_hash(hashes[node], result)
    return result


def root_plan(size: int) -> Range:
    """The subtrees whose fold is the root of a tree of `size` leaves."""
    return decompose(0, size)


def inclusion_plan(index: int, size: int) -> list[Range]:
    """PATH(index, D[size]) as ranges, in proof order."""
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(decompose(start + k, end))
            end = start + k
        else:
            path.append(decompose(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_plan(first: int, second: int) -> list[Range]:
    """PROOF(first, D[second]) as ranges, in proof order."""
    if first == 0 or first >= second:
        return []
    path: list[Range] = []
    start, end, whole = 0, second, True
    m = first
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            path.append(decompose(start + k, end))
            end = start + k
        else:
            path.append(decompose(start, start + k))
            m -= k
            start += k
            whole = False
    if not whole:
        path.append(decompose(start, end))
    path.reverse()
    return path


def needed(plans: Sequence[Range]) -> set[NodeId]:
    """Every stored node the plans refer to."""
    return {node for plan in plans for node in plan}
