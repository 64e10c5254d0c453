"""Ids and pubkeys as numbers: each 64-char hex string becomes four big-endian 64-bit words, so
that a million of them are sorted, told apart and matched by numpy rather than one dict look-up
at a time. Comparing the words as numbers compares the bytes, which compares the lowercase hex."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from koinon.rewards.order import word_order

Keys = npt.NDArray[np.uint64]  # shape (n, 4): one row of words per key
IntArray = npt.NDArray[np.int64]


def keys_of(values: Sequence[str]) -> Keys:
    """The keys of 64-char lowercase hex strings (which the caller has checked)."""
    return _decode(bytes.fromhex("".join(values)))


def hex_keys(values: Sequence[str]) -> Keys | None:
    """The keys of `values` if every one is a 64-char lowercase hex string, else None.

    The values are joined once, a space between each two, and that text is checked and decoded
    whole: the spaces must sit every 65 characters, no hex digit may be uppercase, and decoding
    (which takes only hex digits and skips whitespace between bytes) must give 32 bytes per
    value, so the text holds no whitespace but the n - 1 separators and each value is 64 hex
    digits.
    """
    count = len(values)
    try:
        joined = " ".join(values)  # only strings join
    except TypeError:
        return None
    if len(joined) != max(65 * count - 1, 0) or joined[64::65] != " " * max(count - 1, 0):
        return None
    if any(upper in joined for upper in "ABCDEF"):
        return None
    try:
        raw = bytes.fromhex(joined)
    except ValueError:  # a character that is no hex digit, or a byte split by a space
        return None
    return _decode(raw) if len(raw) == 32 * count else None


def _decode(raw: bytes) -> Keys:
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 4).astype(np.uint64)


def hex_of(keys: Keys) -> list[str]:
    """The lowercase hex strings of keys."""
    text = keys.astype(">u8").tobytes().hex()
    return [text[i : i + 64] for i in range(0, len(text), 64)]


def rank_keys(keys: Keys) -> tuple[IntArray, IntArray]:
    """The rank of each key among the distinct keys in ascending order, and the position of the
    first occurrence of each distinct key, in rank order.

    Keys are ranked by their first word, and each is then checked to equal the key its rank
    names; only when two different keys share a first word (one in 2**64 for hashes, or made on
    purpose) are all four words sorted, which gives the same ranks slower.
    """
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order, ordered = word_order(np.ascontiguousarray(keys[:, 0]))
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    ranks = np.empty(keys.shape[0], dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    first: IntArray = order[new]
    # every key must equal the key its rank names (np.take: rows of a 2-D array several times
    # faster than indexing with [])
    if (keys != np.take(np.take(keys, first, axis=0), ranks, axis=0)).any():
        order = np.lexsort((keys[:, 3], keys[:, 2], keys[:, 1], keys[:, 0]))
        ordered_keys = keys[order]
        new = np.r_[True, (ordered_keys[1:] != ordered_keys[:-1]).any(axis=1)]
        ranks[order] = np.cumsum(new) - 1
        first = order[new]
    return ranks, first
