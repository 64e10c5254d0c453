"""Seeded trust: hand-computed PageRank, sybil farms, the closure cap, voter weights."""

from __future__ import annotations

import numpy as np
import pytest

from koinon.rewards.clusters import closure_factor
from koinon.rewards.params import Params
from koinon.rewards.trust import outside_inflow, propagate_trust, voter_weights

PARAMS = Params()


def arr(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_seed_following_two_accounts_by_hand() -> None:
    # s follows a and b, who follow nobody (their trust returns to the seed):
    # t_a = t_b = 0.5 * t_s / 2 and t_s + t_a + t_b = 1, so t_s = 2/3 and t_a = t_b = 1/6.
    flow = propagate_trust(3, arr([0, 0]), arr([1, 2]), arr([0]), PARAMS)
    assert flow.trust == pytest.approx([2 / 3, 1 / 6, 1 / 6], abs=1e-6)
    assert flow.edge_flow == pytest.approx([1 / 6, 1 / 6], abs=1e-6)


def test_no_seed_means_no_trust() -> None:
    flow = propagate_trust(3, arr([0, 1]), arr([1, 2]), arr([]), PARAMS)
    assert not flow.trust.any()


def test_a_farm_nobody_real_follows_gets_nothing() -> None:
    # accounts 0..9 honest in a cycle, seeded at 0; 10..59 a farm following itself and the honest
    src = [i for i in range(10)] + [10 + i for i in range(50)] + [10 + i for i in range(50)]
    dst = (
        [(i + 1) % 10 for i in range(10)]
        + [10 + (i + 1) % 50 for i in range(50)]
        + [i % 10 for i in range(50)]
    )
    flow = propagate_trust(60, arr(src), arr(dst), arr([0]), PARAMS)
    assert flow.trust[10:].sum() == 0.0


def farm_trust(fakes: int) -> float:
    """Ten honest accounts in a cycle, seeded at 0; account 5 is fooled into following a farm
    of `fakes` accounts that follow each other in a cycle."""
    src = [*range(10), 5, *(10 + i for i in range(fakes))]
    dst = [*((i + 1) % 10 for i in range(10)), 10, *(10 + (i + 1) % fakes for i in range(fakes))]
    flow = propagate_trust(10 + fakes, arr(src), arr(dst), arr([0]), PARAMS)
    return float(flow.trust[10:].sum())


@pytest.mark.parametrize("fakes", [100, 1000])
def test_a_farm_holds_the_same_trust_whatever_its_size(fakes: int) -> None:
    assert farm_trust(fakes) == pytest.approx(farm_trust(10), rel=1e-6)
    assert farm_trust(fakes) < 0.2


def test_the_closure_cap_takes_back_what_a_closed_group_keeps() -> None:
    # a seed follows one member of a closed ring of five; the ring follows only itself
    src = [0] + [1 + i for i in range(5)]
    dst = [1] + [1 + (i + 1) % 5 for i in range(5)]
    flow = propagate_trust(6, arr(src), arr(dst), arr([0]), PARAMS)
    labels = arr([0, 1, 1, 1, 1, 1])
    inflow = outside_inflow(flow, arr(src), arr(dst), labels)
    assert inflow[1:].sum() == pytest.approx(flow.edge_flow[0])
    factor = closure_factor(labels, flow.trust, inflow, flow.restart, PARAMS)
    capped = flow.trust * factor
    assert factor[0] == 1.0  # the seed's own cluster keeps its trust
    assert capped[1:].sum() == pytest.approx(PARAMS.closure_tolerance * inflow[1:].sum())
    assert flow.trust[1:].sum() > capped[1:].sum()


def test_weights_are_linear_below_the_cap_and_capped_above() -> None:
    trust = np.array([0.5, 0.01, 0.01, 0.01, 0.01, 0.0])
    restart = np.array([0.4, 0.0, 0.0, 0.0, 0.0, 0.0])
    weight = voter_weights(trust, restart, Params(trust_cap=2.0))
    # received trust: 0.1, 0.01 x4; its trust-weighted median is 0.1 (half the mass), cap 0.2
    assert weight == pytest.approx([0.2, 0.01, 0.01, 0.01, 0.01, 0.0])
