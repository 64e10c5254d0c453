"""Ids and pubkeys as numbers (koinon.rewards.keys) and the stable orders made of one plain sort
(koinon.rewards.order): the same answers as numpy's own stable argsort and a string-by-string
check, on keys and values made to share their high bits."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from koinon.core.event import is_hex
from koinon.rewards.keys import hex_keys, hex_of, keys_of, rank_keys
from koinon.rewards.order import stable_order, word_order

HEX = [hashlib.sha256(b"%d" % i).hexdigest() for i in range(40)]


def test_hex_keys_decode_what_keys_of_decodes() -> None:
    keys = hex_keys(HEX)
    assert keys is not None and (keys == keys_of(HEX)).all()
    assert hex_of(keys) == HEX
    empty = hex_keys([])
    assert empty is not None and empty.shape == (0, 4)


@pytest.mark.parametrize(
    "bad",
    [
        HEX[0].upper(),
        HEX[0][:-1] + "F",
        HEX[0][:-1],
        HEX[0] + "0",
        HEX[0][:-1] + " ",
        " " + HEX[0][1:],
        HEX[0][:-2] + " 0",
        HEX[0][:-1] + "\n",
        HEX[0][:-1] + "\t",
        HEX[0][:-1] + "é",
        HEX[0][:-1] + "\u00a0",
        "g" * 64,
        "",
        "nothex",
    ],
)
def test_hex_keys_refuse_anything_but_lowercase_hex(bad: str) -> None:
    assert not is_hex(bad, 64)
    for at in range(3):
        values = HEX[:2]
        values.insert(at, bad)
        assert hex_keys(values) is None
    assert hex_keys([bad]) is None


def test_hex_keys_refuse_lengths_that_make_up_for_each_other() -> None:
    short, long = HEX[0][:63], HEX[1] + "a"
    assert hex_keys([short, long]) is None
    assert hex_keys([short, " " + HEX[1]]) is None
    assert hex_keys([HEX[0] + " ", HEX[1][:63]]) is None
    assert hex_keys([7, HEX[0]]) is None  # type: ignore[list-item]


def test_word_order_is_the_stable_argsort() -> None:
    rng = np.random.default_rng(5)
    high = np.uint64(1) << np.uint64(60)
    for n in (0, 1, 2, 3, 17, 1000, 5000):
        samples = [
            rng.integers(0, 2**64, n, dtype=np.uint64),
            rng.integers(0, 4, n, dtype=np.uint64) * high,  # repeated words
            rng.integers(0, 2**20, n, dtype=np.uint64),  # all share their high bits
            rng.integers(0, 2**64, max(n // 8, 1), dtype=np.uint64)[
                rng.integers(0, max(n // 8, 1), n)
            ],
        ]
        for words in samples:
            order, ordered = word_order(words)
            assert (order == np.argsort(words, kind="stable")).all()
            assert (ordered == words[order]).all()


def test_stable_order_is_the_stable_argsort() -> None:
    rng = np.random.default_rng(6)
    for n in (0, 1, 2, 3, 1000):
        for top in (1, 3, 2**20, 2**62):  # the last does not pack with the row: argsort
            values = rng.integers(0, top, n)
            assert (stable_order(values) == np.argsort(values, kind="stable")).all()


def test_rank_keys_ranks_keys_that_share_their_first_word() -> None:
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**64, (30, 4), dtype=np.uint64)
    words[:10, 0] = words[0, 0]  # ten keys with the same first word
    keys = words[rng.integers(0, 30, 300)]
    ranks, first = rank_keys(keys)
    distinct = sorted(set(hex_of(keys)))
    assert [distinct[r] for r in ranks] == hex_of(keys)
    assert hex_of(keys[first]) == distinct
    assert all(not (keys[:at] == keys[at]).all(axis=1).any() for at in first.tolist())
