"""Earlier epochs for Koinon's ring detector: the same network drawn again, attackers repeating
their strategy, their upvotes handed to the log being settled."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from koinon.sim.attacks import Strategy, assemble
from koinon.sim.log import EventLog
from koinon.sim.world import World, next_epoch


def earlier_worlds(world: World, epochs: int, seed: int) -> list[World]:
    """`epochs` earlier epochs of `world`'s network, each with its own posts and honest votes."""
    return [next_epoch(world, np.random.default_rng([seed, 9, k])) for k in range(epochs)]


def with_history(
    log: EventLog, earlier: list[World], strategy: Strategy, fakes: int, seed: int, index: int
) -> EventLog:
    """`log` with the upvotes of the earlier epochs, where the attackers played `strategy` too
    (with fresh randomness: a ring repeats its pattern, not its exact votes)."""
    voters, authors = [], []
    for k, world in enumerate(earlier):
        rng = np.random.default_rng([seed, 8, k, index, fakes])
        past = assemble(world, strategy(world, fakes, rng))
        up = past.vote_direction > 0
        voter, author = past.vote_voter[up], past.post_author[past.vote_post[up]]
        mine = voter != author
        voters.append(voter[mine])
        authors.append(author[mine])
    if not voters:
        return log
    return replace(
        log, history_voter=np.concatenate(voters), history_author=np.concatenate(authors)
    )
