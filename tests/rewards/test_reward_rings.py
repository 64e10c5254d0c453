"""The ring detector (koinon/rewards/rings.py): its eigen-solver, what it finds, what it holds."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from koinon.errors import Rejected
from koinon.rewards.params import Params
from koinon.rewards.rings import find_rings, hold_rings, leading_vectors

PARAMS = Params()


def readers_and_ring(
    seed: int, ring_size: int = 40, ring_votes: int = 12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """400 accounts upvoting authors by popularity (readers), and a ring of `ring_size`
    members who also upvote each other `ring_votes` times each. Returns voter, author, ring."""
    rng = np.random.default_rng(seed)
    n = 400
    popularity = rng.pareto(1.5, n) + 0.05
    popularity /= popularity.sum()
    voter = np.repeat(np.arange(n), 30)
    author = rng.choice(n, voter.shape[0], p=popularity)
    ring = np.sort(rng.choice(n, ring_size, replace=False))
    ring_voter = np.repeat(ring, ring_votes)
    ring_author = rng.choice(ring, ring_voter.shape[0])
    voter, author = np.concatenate([voter, ring_voter]), np.concatenate([author, ring_author])
    own = voter != author
    return voter[own].astype(np.int64), author[own].astype(np.int64), ring


def normalized(voter: np.ndarray, author: np.ndarray, n: int) -> tuple[sp.csr_matrix, np.ndarray]:
    graph = sp.csr_matrix(
        (np.ones(2 * voter.shape[0]), (np.r_[voter, author], np.r_[author, voter])), shape=(n, n)
    )
    graph.sum_duplicates()
    graph.sort_indices()
    return graph, np.asarray(graph.sum(axis=1)).ravel()


def test_leading_vectors_agree_with_lapack_above_the_edge() -> None:
    voter, author, _ = readers_and_ring(1)
    graph, degree = normalized(voter, author, 400)
    values, vectors = leading_vectors(graph, degree, 5, 0.2)
    scale = sp.diags(1.0 / np.sqrt(degree))
    exact, exact_vectors = np.linalg.eigh((scale @ graph @ scale).toarray())
    exact, exact_vectors = exact[::-1][1:6], exact_vectors[:, ::-1][:, 1:6]
    assert values == sorted(values, reverse=True)
    # the ring's eigenvalue stands clear of the bulk; it and its vector are found exactly
    assert values[0] == pytest.approx(exact[0], abs=1e-6)
    assert abs(float(vectors[:, 0] @ exact_vectors[:, 0])) == pytest.approx(1.0, abs=1e-6)
    # the others are Ritz values from inside the spectrum: never above the true ones
    assert all(v <= e + 1e-9 for v, e in zip(values, exact, strict=True))


def test_a_ring_among_readers_is_found_and_nobody_else() -> None:
    for seed in range(3):
        voter, author, ring = readers_and_ring(seed)
        weight = np.ones(400)
        groups = find_rings(400, voter, author, np.arange(400), weight, PARAMS)
        assert len(groups) == 1
        found = np.flatnonzero(groups[0])
        assert np.isin(found, ring).mean() >= 0.9  # precision
        assert np.isin(ring, found).mean() >= 0.8  # recall: a few members get few ring votes


def test_readers_of_the_same_authors_are_not_a_ring() -> None:
    rng = np.random.default_rng(5)
    voter, author, _ = readers_and_ring(5, ring_size=0, ring_votes=0)
    # 40 readers who all read the same 8 authors, who do not read them back
    readers, favourites = np.arange(100, 140), np.arange(300, 308)
    fan_voter = np.repeat(readers, 12)
    fan_author = rng.choice(favourites, fan_voter.shape[0])
    voter, author = np.r_[voter, fan_voter], np.r_[author, fan_author]
    weight = np.ones(400)
    assert find_rings(400, voter, author, np.arange(400), weight, PARAMS) == []
    # without the test of give and take they would be held as a group
    loose = replace(PARAMS, ring_balance=0.0)
    assert find_rings(400, voter, author, np.arange(400), weight, loose) != []


def test_a_ring_that_is_a_vote_cluster_is_left_to_the_cluster_cap() -> None:
    voter, author, ring = readers_and_ring(2)
    cluster = np.arange(400)
    cluster[ring] = ring[0]
    assert find_rings(400, voter, author, cluster, np.ones(400), PARAMS) == []


def test_a_faction_with_much_of_the_weight_is_not_a_ring() -> None:
    voter, author, ring = readers_and_ring(3)
    weight = np.full(400, 0.1)
    weight[ring] = 5.0  # the ring holds most of the voting weight
    assert find_rings(400, voter, author, np.arange(400), weight, PARAMS) == []


def test_the_detector_reads_inputs_in_any_order() -> None:
    voter, author, _ = readers_and_ring(4)
    order = np.random.default_rng(0).permutation(voter.shape[0])
    weight = np.ones(400)
    first = find_rings(400, voter, author, np.arange(400), weight, PARAMS)
    again = find_rings(400, voter[order], author[order], np.arange(400), weight, PARAMS)
    assert len(first) == len(again) == 1
    assert (first[0] == again[0]).all()


SCRIPT = """
import hashlib, sys
sys.path.insert(0, {root!r})
from tests.rewards.test_reward_rings import normalized, readers_and_ring
from koinon.rewards.rings import leading_vectors
voter, author, _ = readers_and_ring(7)
graph, degree = normalized(voter, author, 400)
values, vectors = leading_vectors(graph, degree, 5, 0.2)
print(hashlib.sha256(repr(values).encode() + vectors.tobytes()).hexdigest())
"""


def test_a_second_process_computes_the_same_floats() -> None:
    voter, author, _ = readers_and_ring(7)
    graph, degree = normalized(voter, author, 400)
    values, vectors = leading_vectors(graph, degree, 5, 0.2)
    here = hashlib.sha256(repr(values).encode() + vectors.tobytes()).hexdigest()
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    there = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(root=root)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert here == there


def test_a_ring_is_held_to_its_fair_share() -> None:
    # accounts 0, 1 are the group; 2, 3 outsiders. Votes (voter, author, mass):
    voter = np.array([0, 1, 0, 2, 3, 3], dtype=np.int64)
    author = np.array([1, 0, 2, 0, 2, 3], dtype=np.int64)
    mass = np.array([1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
    group = np.array([True, True, False, False])
    authors = np.array([0, 1, 2, 3], dtype=np.int64)
    weight = np.array([0.1, 0.1, 1.0, 1.0])
    held = hold_rings([group], mass.copy(), voter, author, mass, authors, weight, 1.0)
    # outsiders spend 2.0, of which 1.0 goes to the group: fair share 1/2 of the group's 3.0
    # spent, 1.5, against 2.0 given inside: inside votes scaled by 0.75, the rest untouched
    assert held == pytest.approx([0.75, 0.75, 1.0, 1.0, 0.5, 0.5])
    # with no group, or a group within its share, nothing moves
    assert hold_rings([], mass, voter, author, mass, authors, weight, 1.0) is mass
    roomy = hold_rings([group], mass.copy(), voter, author, mass, authors, weight, 2.0)
    assert roomy == pytest.approx(mass)


@pytest.mark.parametrize(
    "field,value",
    [("ring_epochs", 0), ("ring_vectors", -1), ("ring_edge", 1.0), ("ring_balance", 1.5),
     ("ring_largest", -0.1), ("ring_explained", 2.0), ("ring_preference", -1.0)],
)  # fmt: skip
def test_ring_parameters_are_checked(field: str, value: float) -> None:
    with pytest.raises(Rejected):
        replace(PARAMS, **{field: value})  # type: ignore[arg-type]
