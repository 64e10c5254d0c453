"""Bonds: tokens an author stakes behind a factual post, slashed when community notes settle the
post as misleading. Part of a slash goes to the writers of the notes that settled it, the rest
back to the reward pool.

The notes scorer calls in through `NoteOutcome` records (model.py): one per post whose notes
reached a status, naming the writers of the notes that carried it.
"""

from __future__ import annotations

from collections.abc import Iterable

from koinon.rewards.model import Bond, NoteOutcome, NoteStatus, Slash
from koinon.rewards.params import Params

_PPM = 1_000_000


def misleading_posts(outcomes: Iterable[NoteOutcome]) -> dict[str, frozenset[str]]:
    """Posts settled misleading, each with the union of its note writers."""
    found: dict[str, set[str]] = {}
    for outcome in outcomes:
        if outcome.status == NoteStatus.MISLEADING:
            found.setdefault(outcome.post_id, set()).update(outcome.note_writers)
    return {post: frozenset(writers) for post, writers in found.items()}


def _fraction(amount: int, fraction: float) -> int:
    return amount * round(fraction * _PPM) // _PPM


def slash_bonds(
    bonds: Iterable[Bond], misleading: dict[str, frozenset[str]], params: Params
) -> tuple[tuple[Slash, ...], dict[str, int]]:
    """The slashes of bonds on misleading posts, and what each note writer receives from them.

    Bonds by the same owner on the same post are added up. A writer never receives a share of
    their own bond, and a slash without eligible writers goes wholly back to the pool.
    """
    staked: dict[tuple[str, str], int] = {}
    for bond in bonds:
        if bond.event_id in misleading:
            key = (bond.event_id, bond.owner)
            staked[key] = staked.get(key, 0) + bond.amount
    slashes: list[Slash] = []
    to_writers: dict[str, int] = {}
    for (event_id, owner), amount in sorted(staked.items()):
        slashed = _fraction(amount, params.slash_fraction)
        writers = sorted(misleading[event_id] - {owner})
        paid = _fraction(slashed, params.note_writer_share) if writers else 0
        each, extra = divmod(paid, len(writers)) if writers else (0, 0)
        for rank, writer in enumerate(writers):
            share = each + (1 if rank < extra else 0)
            if share:
                to_writers[writer] = to_writers.get(writer, 0) + share
        slashes.append(
            Slash(
                event_id=event_id,
                owner=owner,
                amount=slashed,
                to_writers=paid,
                to_pool=slashed - paid,
            )
        )
    return tuple(slashes), to_writers
