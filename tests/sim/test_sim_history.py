"""Earlier epochs in the simulation: the same network drawn again, read by Koinon's ring
detector, which holds a ring that one epoch hides."""

from __future__ import annotations

import numpy as np

from koinon.sim.attacks import assemble
from koinon.sim.evasion import ring_choosy7_follow
from koinon.sim.history import earlier_worlds, with_history
from koinon.sim.koinon_scheme import settle_koinon
from koinon.sim.log import ATTACKER
from koinon.sim.world import WorldConfig, generate_world, next_epoch

CONFIG = WorldConfig(accounts=300)


def test_an_earlier_epoch_is_the_same_network_with_new_posts() -> None:
    world = generate_world(CONFIG, np.random.default_rng(0))
    before = next_epoch(world, np.random.default_rng(1))
    assert (before.follow_src == world.follow_src).all() and (before.role == world.role).all()
    assert (
        before.post_author.shape != world.post_author.shape
        or (before.post_quality != world.post_quality).any()
    )
    assert before.votes.voter.shape[0] > 0


def test_history_holds_the_upvotes_of_the_earlier_epochs() -> None:
    world = generate_world(CONFIG, np.random.default_rng(0))
    earlier = earlier_worlds(world, 2, seed=0)
    log = assemble(world, ring_choosy7_follow(world, 0, np.random.default_rng(2)))
    read = with_history(log, earlier, ring_choosy7_follow, 0, 0, 7)
    expected = 0
    for k, past_world in enumerate(earlier):
        rng = np.random.default_rng([0, 8, k, 7, 0])
        past = assemble(past_world, ring_choosy7_follow(past_world, 0, rng))
        up = past.vote_direction > 0
        expected += int((past.vote_voter[up] != past.post_author[past.vote_post[up]]).sum())
    assert read.history_voter.shape[0] == read.history_author.shape[0] == expected > 0
    assert (read.history_voter != read.history_author).all()
    assert with_history(log, [], ring_choosy7_follow, 0, 0, 7) is log


def attacker_share(log) -> float:  # type: ignore[no-untyped-def]
    rewards = settle_koinon(log)
    return float(rewards.account[log.role == ATTACKER].sum() / rewards.account.sum())


def test_a_ring_one_epoch_hides_is_held_once_five_more_are_read() -> None:
    world = generate_world(CONFIG, np.random.default_rng([3, 0]))
    log = assemble(world, ring_choosy7_follow(world, 0, np.random.default_rng([3, 1])))
    read = with_history(log, earlier_worlds(world, 5, seed=3), ring_choosy7_follow, 0, 3, 7)
    assert attacker_share(read) < attacker_share(log) - 0.01
