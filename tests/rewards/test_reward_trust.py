"""Seeded trust: hand-computed PageRank, sybil farms, the closure of trust clusters, weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from koinon.rewards.closure import closed_trust
from koinon.rewards.clusters import label_clusters
from koinon.rewards.params import Params
from koinon.rewards.trust import propagate_trust, voter_weights

PARAMS = Params()


def arr(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


@pytest.mark.parametrize("damping", [PARAMS.trust_damping, 0.5])
def test_seed_following_two_accounts_by_hand(damping: float) -> None:
    # s follows a and b, who follow nobody (their trust returns to the seed):
    # t_a = t_b = d * t_s / 2 and t_s + t_a + t_b = 1, so t_s = 1 / (1 + d) and
    # t_a = t_b = d / (2 (1 + d)); at d = 0.5, 2/3 and 1/6.
    params = dataclasses.replace(PARAMS, trust_damping=damping)
    flow = propagate_trust(3, arr([0, 0]), arr([1, 2]), arr([0]), params)
    side = damping / (2 * (1 + damping))
    assert flow.trust == pytest.approx([1 / (1 + damping), side, side], abs=1e-6)
    assert flow.edge_flow == pytest.approx([side, side], abs=1e-6)


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


def community_world(ring_follows_out: bool) -> tuple[list[int], list[int]]:
    """Two communities of ten (0-9 seeded at 0, 10-19), each member following the next three
    of its own and one of the other; four members of each also follow one of five accounts
    20-24. Those five follow each other only, or (`ring_follows_out`) like an open group: the
    next of their own and two each of 0-9 and 10-19."""
    src: list[int] = []
    dst: list[int] = []
    for base, other in ((0, 10), (10, 0)):
        for i in range(10):
            for step in (1, 2, 3):
                src.append(base + i)
                dst.append(base + (i + step) % 10)
            src.append(base + i)
            dst.append(other + i)
        for i in range(4):
            src.append(base + i)
            dst.append(20 + i)
    for i in range(5):
        if ring_follows_out:
            src += [20 + i] * 5
            dst += [20 + (i + 1) % 5, i, 5 + i, 10 + i, 15 + i]
        else:
            src += [20 + i] * 4
            dst += [20 + (i + step) % 5 for step in (1, 2, 3, 4)]
    return src, dst


LABELS = arr([0] * 10 + [1] * 10 + [2] * 5)


def settled(ring_follows_out: bool) -> tuple[np.ndarray, np.ndarray]:
    src, dst = community_world(ring_follows_out)
    flow = propagate_trust(25, arr(src), arr(dst), arr([0]), PARAMS)
    return flow.trust, closed_trust(LABELS, flow, arr(src), arr(dst), PARAMS).trust


def test_closing_a_group_keeps_no_more_trust_than_opening_it() -> None:
    raw_closed, closed = settled(ring_follows_out=False)
    _, opened = settled(ring_follows_out=True)
    # following only itself multiplies what the ring receives; the closure takes that back
    assert raw_closed[20:].sum() > opened[20:].sum()
    assert closed[20:].sum() <= opened[20:].sum() * (1 + 1e-9)
    # and what the ring should have passed on goes to the others
    assert closed[:20].sum() > raw_closed[:20].sum()


def test_an_open_group_keeps_its_trust() -> None:
    src, dst = community_world(ring_follows_out=True)
    flow = propagate_trust(25, arr(src), arr(dst), arr([0]), PARAMS)
    after = closed_trust(LABELS, flow, arr(src), arr(dst), PARAMS).trust
    # a group that follows its own members no more than its size explains is not cut (it may
    # receive what more exclusive ones should have passed on)
    assert (after[20:] >= flow.trust[20:]).all()


def test_an_account_put_in_a_closed_groups_cluster_keeps_what_its_followers_gave() -> None:
    src, dst = community_world(ring_follows_out=False)
    flow = propagate_trust(25, arr(src), arr(dst), arr([0]), PARAMS)
    labels = LABELS.copy()
    labels[10] = 2  # label propagation may pull an honest account into the ring's cluster
    after = closed_trust(labels, flow, arr(src), arr(dst), PARAMS).trust
    s, d = arr(src), arr(dst)
    from_outside = flow.edge_flow[(d == 10) & (labels[s] != 2)].sum()
    assert after[10] >= from_outside * (1 - 1e-12)
    assert after[10] < flow.trust[10]  # what the ring passed it is cut with the ring
    assert after[20:].sum() < flow.trust[20:].sum()


def test_beyond_twice_the_tolerance_a_group_keeps_no_leeway() -> None:
    # a ring that follows only itself keeps what its size explains, whatever the tolerance
    src, dst = community_world(ring_follows_out=False)
    flow = propagate_trust(25, arr(src), arr(dst), arr([0]), PARAMS)
    strict = closed_trust(LABELS, flow, arr(src), arr(dst), Params(closure_tolerance=0.2))
    loose = closed_trust(LABELS, flow, arr(src), arr(dst), Params(closure_tolerance=0.4))
    assert strict.trust[20:].sum() == pytest.approx(loose.trust[20:].sum(), rel=1e-12)
    assert (strict.openness[20:] < loose.openness[20:]).all()


def test_vouchers_land_in_their_farms_cluster() -> None:
    # 0-59 honest, each following six others and one of the vouchers 60-64; the vouchers follow
    # only the farm 65-164, which follows six of itself and one voucher
    rng = np.random.default_rng(7)
    src: list[int] = []
    dst: list[int] = []
    for i in range(60):
        src += [i] * 7
        dst += [int(j) for j in rng.choice(np.delete(np.arange(60), i), 6, replace=False)]
        dst.append(60 + i % 5)
    for v in range(60, 65):
        src += [v] * 20
        dst += [int(j) for j in rng.choice(np.arange(65, 165), 20, replace=False)]
    for f in range(65, 165):
        src += [f] * 7
        others = np.delete(np.arange(65, 165), f - 65)
        dst += [int(j) for j in rng.choice(others, 6, replace=False)] + [60 + f % 5]
    flow = propagate_trust(165, arr(src), arr(dst), arr([0]), PARAMS)
    labels = label_clusters(165, arr(src), arr(dst), flow.edge_flow, PARAMS, directed=True)
    assert len(set(labels[60:].tolist())) == 1  # vouchers and farm together
    assert labels[60] not in set(labels[:60].tolist())


def test_a_capped_farm_weighs_the_same_however_it_splits() -> None:
    # a seed (restart 0.5) and accounts receiving trust; cluster 1 holds 0.3 as 3 or 30 accounts
    def weights(parts: int) -> np.ndarray:
        trust = np.array([0.6] + [0.01] * 10 + [0.3 / parts] * parts)
        restart = np.array([0.5] + [0.0] * (10 + parts))
        labels = arr([0] * 11 + [1] * parts)
        return voter_weights(trust, restart, PARAMS, labels)

    few, many = weights(3), weights(30)
    assert few[11:].sum() == pytest.approx(many[11:].sum())
    assert few[11:].sum() == pytest.approx(0.3)
    assert few[0] < 0.6  # the seed's restart mass stays capped


def test_weights_are_linear_below_the_cap_and_capped_above() -> None:
    trust = np.array([0.5, 0.01, 0.01, 0.01, 0.01, 0.0])
    restart = np.array([0.4, 0.0, 0.0, 0.0, 0.0, 0.0])
    weight = voter_weights(trust, restart, Params(trust_cap=2.0))
    # received trust: 0.1, 0.01 x4; its trust-weighted median is 0.1 (half the mass), cap 0.2
    assert weight == pytest.approx([0.2, 0.01, 0.01, 0.01, 0.01, 0.0])
