"""Ids and pubkeys as numbers: each 64-char hex string becomes four big-endian 64-bit words, so
that a million of them are sorted, told apart and matched by numpy rather than one dict look-up
at a time. Comparing the words as numbers compares the bytes, which compares the lowercase hex."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.uint64]  # shape (n, 4): one row of words per key
IntArray = npt.NDArray[np.int64]


def keys_of(values: Sequence[str]) -> Keys:
    """The keys of 64-char lowercase hex strings (which the caller has checked)."""
    if not values:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(values)), dtype=">u8")
    return raw.reshape(-1, 4).astype(np.uint64)


def hex_of(keys: Keys) -> list[str]:
    """The lowercase hex strings of keys."""
    text = keys.astype(">u8").tobytes().hex()
    return [text[i : i + 64] for i in range(0, len(text), 64)]


def rank_keys(keys: Keys) -> tuple[IntArray, IntArray]:
    """The rank of each key among the distinct keys in ascending order, and the position of one
    occurrence of each distinct key, in rank order.

    Keys are ranked by their first word, and each is then checked to equal the key its rank
    names; only when two different keys share a first word (one in 2**64 for hashes, or made on
    purpose) are all four words sorted, which gives the same ranks slower.
    """
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first_word = np.ascontiguousarray(keys[:, 0])
    order = np.argsort(first_word)
    ordered = first_word[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    ranks = np.empty(keys.shape[0], dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    first: IntArray = order[new]
    # every key must equal the key its rank names; the distinct keys are few, so this reads
    # them in order, a column at a time
    named = keys[first]
    if any((keys[:, word] != named[ranks, word]).any() for word in (1, 2, 3)):
        order = np.lexsort((keys[:, 3], keys[:, 2], keys[:, 1], keys[:, 0]))
        ordered_keys = keys[order]
        new = np.r_[True, (ordered_keys[1:] != ordered_keys[:-1]).any(axis=1)]
        ranks[order] = np.cumsum(new) - 1
        first = order[new]
    return ranks, first
