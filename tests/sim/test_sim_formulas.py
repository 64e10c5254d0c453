"""Hive-current and Steem-HF21 as the simulation implements them, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from koinon.sim.hive import curation_window, settle_hive
from koinon.sim.log import DAY, HONEST, EventLog
from koinon.sim.mana import ManaRules, vote_rshares
from koinon.sim.steem import CONTENT_CONSTANT, convergent_linear, convergent_sqrt, settle_steem

RULES = ManaRules()
S = CONTENT_CONSTANT


def log_of(
    stake: list[float],
    posts: list[tuple[int, int]],
    votes: list[tuple[int, int, int, int]],  # voter, post, direction, time
) -> EventLog:
    def ints(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    n = len(stake)
    return EventLog(
        role=np.full(n, HONEST, dtype=np.int64),
        camp=np.zeros(n, dtype=np.int64),
        stake=np.array(stake, dtype=np.float64),
        post_author=ints([a for a, _ in posts]),
        post_time=ints([t for _, t in posts]),
        post_quality=np.full(len(posts), 0.5),
        vote_voter=ints([v[0] for v in votes]),
        vote_post=ints([v[1] for v in votes]),
        vote_direction=ints([v[2] for v in votes]),
        vote_weight=np.ones(len(votes)),
        vote_time=ints([v[3] for v in votes]),
        vote_bought=np.zeros(len(votes), dtype=bool),
        follow_src=ints([]),
        follow_dst=ints([]),
        seeds=ints([]),
        end=30 * DAY,
    )


def test_each_full_vote_spends_two_percent_of_current_mana_minus_dust() -> None:
    log = log_of([1000.0, 1.0], [(0, 0), (0, 0)], [(0, 0, 1, 10), (0, 1, 1, 10), (1, 0, 1, 10)])
    rshares = vote_rshares(log, RULES)
    first = 0.02 * 1000 * RULES.rshares_per_stake - RULES.dust
    second = 0.02 * 980 * RULES.rshares_per_stake - RULES.dust
    assert rshares[:2] == pytest.approx([first, second])  # same second: input order
    assert rshares[2] == 0.0  # 0.02 HP of mana is below the dust threshold


def test_mana_refills_over_five_days() -> None:
    log = log_of([1000.0], [(0, 0)] * 2, [(0, 0, 1, 0), (0, 1, 1, 5 * DAY // 2)])
    rshares = vote_rshares(log, RULES)
    # 980 left, +500 over 2.5 days, capped at 1000
    assert rshares[1] == pytest.approx(0.02 * 1000 * RULES.rshares_per_stake - RULES.dust)


def test_downvotes_use_their_own_mana_at_full_strength() -> None:
    log = log_of([1000.0], [(0, 0)] * 2, [(0, 0, -1, 0), (0, 1, 1, 0)])
    rshares = vote_rshares(log, RULES)
    value = 0.02 * 1000 * RULES.rshares_per_stake - RULES.dust
    assert sorted(rshares.tolist()) == pytest.approx([-value, value])


def test_hive_curation_window() -> None:
    ages = np.array([0.0, DAY - 1.0, DAY, 3 * DAY - 1.0, 3 * DAY])
    assert curation_window(ages) == pytest.approx([1, 1, 0.5, 0.5, 0.125])


def test_hive_is_linear_and_splits_half_and_half() -> None:
    # one post, its author votes on it (self-votes count on Hive) and one curator votes a day late
    log = log_of([1000.0, 1000.0], [(0, 0)], [(0, 0, 1, 0), (1, 0, 1, DAY)])
    rewards = settle_hive(log)
    r = 0.02 * 1000 * RULES.rshares_per_stake - RULES.dust
    # author half: 1; curators: 0.5 * (r + r/2) / 2r = 0.375; the unclaimed 0.125 returns to pool
    author, curation0, curation1 = 0.5, 0.5 * 0.5, 0.5 * 0.25
    total = author + curation0 + curation1
    assert rewards.account == pytest.approx([(author + curation0) / total, curation1 / total])
    assert rewards.post_author == pytest.approx([author / total])
    assert r > 0


def test_steem_curves() -> None:
    assert convergent_linear(np.array([0.0, S]))[0] == 0.0
    assert convergent_linear(np.array([S]))[0] == pytest.approx(3 * S / 5)
    assert convergent_linear(np.array([1e6 * S]))[0] == pytest.approx(1e6 * S, rel=1e-5)
    assert convergent_sqrt(np.array([2 * S]))[0] == pytest.approx(np.sqrt(S))


def test_steem_reverse_auction_halves_a_vote_at_150_seconds() -> None:
    early = settle_steem(log_of([1000.0, 1000.0], [(0, 0)], [(1, 0, 1, 150)]))
    late = settle_steem(log_of([1000.0, 1000.0], [(0, 0)], [(1, 0, 1, 600)]))
    # curator's claim is half the post's curation half when early, all of it when late
    assert early.account[1] / early.account[0] == pytest.approx(0.5)
    assert late.account[1] / late.account[0] == pytest.approx(1.0)
