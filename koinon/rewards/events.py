"""Reading signed Nostr events as the inputs of one epoch's settlement.

Which events count (`docs/rewards.md`, "Inputs"):
- posts: kinds 1 and 30023 created in the epoch;
- votes: NIP-25 reactions (kind 7) created in the epoch; `+` or empty content is up, `-` is down,
  anything else is a reaction but not a vote; the target is the last `e` tag; an optional
  `["weight", "0.5"]` tag in (0, 1] scales the vote; a voter's newest vote on a post wins;
- follows: each author's newest contact list (kind 3) created before the epoch ends;
- bonds: each owner's newest bond declaration (kind 3964) on a post, before the epoch ends;
- note outcomes: NIP-32 labels (kind 1985, namespace `koinon.notes`) created in the epoch by one of
  the configured labelers; the newest label on a post wins.
The ring detector also reads the upvotes the epochs before counted; the settlement takes those
from the earlier epochs' settlements (`koinon.rewards.settlement`), not from these events.
The caller verifies signatures; this module only selects and interprets.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

import numpy as np

from koinon.core.event import Event, is_hex
from koinon.core.kinds import CONTACTS, LABEL, LONG_FORM, REACTION, TEXT_NOTE
from koinon.rewards.columns import (
    EpochColumns,
    FollowColumns,
    PostColumns,
    VoteColumns,
)
from koinon.rewards.config import RewardsConfig
from koinon.rewards.keys import IntArray, Keys, hex_keys, keys_of, rank_keys
from koinon.rewards.model import Bond, EpochInput, NoteOutcome, NoteStatus, Vote
from koinon.rewards.order import stable_order
from koinon.rewards.settle import collector_paused

BOND_DECLARATION = 3964
POST_KINDS = (TEXT_NOTE, LONG_FORM)
NOTES_NAMESPACE = "koinon.notes"
T = TypeVar("T")


def _newer(candidate: Event, current: Event | None) -> bool:
    """NIP-01's order for replaceable events: later `created_at`, then the lowest id."""
    if current is None:
        return True
    if candidate.created_at != current.created_at:
        return candidate.created_at > current.created_at
    return candidate.id < current.id


_DIRECTIONS = {"+": 1, "": 1, "-": -1}


VoteRow = tuple[str, str, str, int, float, int]  # id, voter, target, direction, weight, time


def _vote_row(event: Event) -> VoteRow | None:
    """The vote a reaction casts as a row of `VoteColumns`, or None when it casts none; the
    target is the last `e` tag's value, not yet checked to be an event id."""
    direction = _DIRECTIONS.get(event.content)
    if direction is None:
        return None
    target = raw_weight = None
    for tag in event.tags:  # one pass: the last `e` tag and the first `weight` tag
        if len(tag) >= 2:
            name = tag[0]
            if name == "e":
                target = tag[1]
            elif name == "weight" and raw_weight is None:
                raw_weight = tag[1]
    if target is None:
        return None
    weight = 1.0
    if raw_weight is not None:
        try:
            weight = float(raw_weight)
        except ValueError:
            return None
        if not (math.isfinite(weight) and 0.0 < weight <= 1.0):
            return None
    return event.id, event.pubkey, target, direction, weight, event.created_at


def read_vote(event: Event) -> Vote | None:
    """The vote a kind-7 reaction casts, or None when it is not a vote."""
    row = _vote_row(event) if event.kind == REACTION else None
    if row is None or not is_hex(row[2], 64):
        return None
    return Vote(*row)


def read_bond(event: Event) -> Bond | None:
    """The bond a kind-3964 declaration states, or None when it is malformed."""
    post_id, amount = event.first_tag("e"), event.first_tag("amount")
    if event.kind != BOND_DECLARATION or post_id is None or not is_hex(post_id, 64):
        return None
    if amount is None or not (amount.isascii() and amount.isdigit()) or len(amount) > 78:
        return None
    value = int(amount)
    return Bond(post_id, event.pubkey, value) if 0 < value < 2**256 else None


def read_outcome(event: Event) -> NoteOutcome | None:
    """The note outcome a `koinon.notes` label states, or None when it is not one."""
    if event.kind != LABEL or NOTES_NAMESPACE not in event.tag_values("L"):
        return None
    statuses = [t[1] for t in event.tags if len(t) >= 3 and t[0] == "l" and t[2] == NOTES_NAMESPACE]
    post_id = event.first_tag("e")
    if len(statuses) != 1 or post_id is None or not is_hex(post_id, 64):
        return None
    try:
        status = NoteStatus(statuses[0])
    except ValueError:
        return None
    writers = sorted({w for w in event.tag_values("writer") if is_hex(w, 64)})
    return NoteOutcome(post_id, status, tuple(writers))


def epoch_filters(config: RewardsConfig, epoch: int) -> list[dict[str, Any]]:
    """NIP-01 filters that fetch every event `epoch_input` may use (and a few it will drop)."""
    start, end = config.window(epoch)
    filters: list[dict[str, Any]] = [
        {"kinds": [*POST_KINDS, REACTION], "since": start, "until": end - 1},
        {"kinds": [CONTACTS], "until": end - 1},
        {"kinds": [BOND_DECLARATION], "until": end - 1},
    ]
    if config.note_labelers:
        filters.append(
            {
                "kinds": [LABEL],
                "authors": list(config.note_labelers),
                "since": start,
                "until": end - 1,
            }
        )
    return filters


def epoch_columns(events: Iterable[Event], config: RewardsConfig, epoch: int) -> EpochColumns:
    """The settlement input of `epoch` as columns (what a node settles), without the earlier
    epochs' upvotes; the order of `events` changes the order of the rows, never the settlement."""
    with collector_paused():
        return _epoch_columns(events, config, epoch)


def _epoch_columns(events: Iterable[Event], config: RewardsConfig, epoch: int) -> EpochColumns:
    start, end = config.window(epoch)
    labelers = set(config.note_labelers)
    votes: list[VoteRow] = []
    posts: dict[str, Event] = {}
    contacts: dict[str, Event] = {}
    bonds: dict[tuple[str, str], tuple[Event, Bond]] = {}
    outcomes: dict[str, tuple[Event, NoteOutcome]] = {}
    for event in events:
        created, kind = event.created_at, event.kind
        if created >= end:
            continue
        in_epoch = start <= created
        if kind == REACTION:  # most events are reactions: rows now, a column at a time below
            if in_epoch and (row := _vote_row(event)) is not None:
                votes.append(row)
        elif kind in POST_KINDS and in_epoch:
            posts[event.id] = event
        elif kind == CONTACTS:
            if _newer(event, contacts.get(event.pubkey)):
                contacts[event.pubkey] = event
        elif kind == BOND_DECLARATION:
            bond = read_bond(event)
            bond_key = (bond.owner, bond.event_id) if bond else ("", "")
            if bond is not None and _newer(event, bonds.get(bond_key, (None,))[0]):
                bonds[bond_key] = (event, bond)
        elif kind == LABEL and in_epoch and event.pubkey in labelers:
            outcome = read_outcome(event)
            if outcome is not None and _newer(event, outcomes.get(outcome.post_id, (None,))[0]):
                outcomes[outcome.post_id] = (event, outcome)
    settled = set(outcomes)
    post_ids = tuple(posts)
    post_keys = keys_of(post_ids)
    return EpochColumns(
        epoch=epoch,
        start=start,
        end=end,
        pool=config.pool_per_epoch,
        trust_seeds=config.trust_seeds,
        # every value below comes from a parsed event or was checked here, so the columns need
        # not check a million of them again; the keys made here are handed over with them
        posts=PostColumns(
            post_ids,
            tuple(map(attrgetter("pubkey"), posts.values())),
            tuple(map(attrgetter("created_at"), posts.values())),
            check=False,
            known={"id": post_keys},
        ),
        votes=_votes(votes, post_keys),
        follows=_follows(contacts),
        bonds=tuple(b for _, (_, b) in sorted(bonds.items()) if b.event_id in settled),
        outcomes=tuple(o for _, (_, o) in sorted(outcomes.items())),
    )


def _votes(rows: list[VoteRow], post_keys: Keys) -> VoteColumns:
    """Each voter's newest vote on each post (`post_keys`) among the epoch's vote `rows`.

    Targets and voters become keys (`koinon.rewards.keys`), targets ranked together with the
    posts: matching a million targets to posts and finding a voter's repeats on a post take a
    few sorts of numbers rather than a dict look-up of a fresh string per vote.
    """
    target_keys = hex_keys(list(map(itemgetter(2), rows)))
    if target_keys is None:  # a target that is not an event id names no post: drop those first
        rows = [row for row in rows if is_hex(row[2], 64)]
        target_keys = keys_of(list(map(itemgetter(2), rows)))
    ranks, _ = rank_keys(np.concatenate([post_keys, target_keys]))
    post_of_rank = np.full(int(ranks.max(initial=-1)) + 1, -1, dtype=np.int64)
    post_of_rank[ranks[: post_keys.shape[0]]] = np.arange(post_keys.shape[0])
    post = post_of_rank[ranks[post_keys.shape[0] :]]
    on_post = np.flatnonzero(post >= 0)
    if on_post.shape[0] < post.shape[0]:
        rows = _take(on_post.tolist(), rows)
        post, target_keys = post[on_post], np.take(target_keys, on_post, axis=0)
    if not rows:
        return VoteColumns(check=False)
    voter_keys = keys_of(list(map(itemgetter(1), rows)))
    voter, _ = rank_keys(voter_keys)
    kept = _newest(rows, post * (int(voter.max()) + 1) + voter)
    if kept is not None:
        rows = _take(kept.tolist(), rows)
        voter_keys = np.take(voter_keys, kept, axis=0)
        target_keys = np.take(target_keys, kept, axis=0)
    ids, voters, targets, directions, weights, times = (
        tuple(map(itemgetter(field), rows)) for field in range(6)
    )
    return VoteColumns(
        ids,
        voters,
        targets,
        directions,
        weights,
        times,
        check=False,
        known={"voter": voter_keys, "post_id": target_keys},
    )


def _take(rows: list[int], values: list[T]) -> list[T]:
    """The values at `rows`, in that order."""
    return list(map(values.__getitem__, rows))


def _newest(rows: list[VoteRow], pair: IntArray) -> IntArray | None:
    """The positions in `rows` to keep, ascending: the newest vote of each (voter, post) `pair`,
    as late with the lowest id (as `_newer`); None when no pair repeats and all are kept."""
    order = stable_order(pair)
    ordered = pair[order]
    repeats = ordered[1:] == ordered[:-1]
    if not repeats.any():
        return None
    in_repeat = np.zeros(len(rows), dtype=bool)
    in_repeat[1:] |= repeats
    in_repeat[:-1] |= repeats
    keep = np.ones(len(rows), dtype=bool)
    keep[order[in_repeat]] = False
    winner: dict[int, int] = {}
    repeated = order[in_repeat].tolist()  # each pair's votes together, in input order
    for at, key in zip(repeated, pair[repeated].tolist(), strict=True):
        known = winner.get(key)
        # later, or as late with a lower id
        if known is None or (rows[at][5], rows[known][0]) > (rows[known][5], rows[at][0]):
            winner[key] = at
    keep[list(winner.values())] = True
    kept: IntArray = np.flatnonzero(keep)
    return kept


def _follows(contacts: dict[str, Event]) -> FollowColumns:
    """The follow edges of each author's newest contact list: every `p` tag naming a key once,
    the author and names that are no key left out."""
    followers: list[str] = []
    followees: list[str] = []
    edges: list[int] = []  # per author
    for author, event in contacts.items():
        # a name given twice is one edge
        named = dict.fromkeys([t[1] for t in event.tags if len(t) >= 2 and t[0] == "p"])
        named.pop(author, None)
        followers += [author] * len(named)
        followees += named
        edges.append(len(named))
    # an author's key is made once and repeated for each of its edges
    follower_keys = np.repeat(keys_of(list(contacts)), edges, axis=0)
    followee_keys = hex_keys(followees)
    if followee_keys is None:
        rows = [i for i, name in enumerate(followees) if is_hex(name, 64)]
        followers, followees = _take(rows, followers), _take(rows, followees)
        follower_keys, followee_keys = np.take(follower_keys, rows, axis=0), keys_of(followees)
    return FollowColumns(
        tuple(followers),
        tuple(followees),
        check=False,
        known={"follower": follower_keys, "followee": followee_keys},
    )


def epoch_input(events: Iterable[Event], config: RewardsConfig, epoch: int) -> EpochInput:
    """The settlement input of `epoch` as records, each tuple sorted: the same for the same
    events in any order."""
    records = epoch_columns(events, config, epoch).records()
    return dataclasses.replace(
        records,
        posts=tuple(sorted(records.posts, key=lambda p: p.id)),
        votes=tuple(sorted(records.votes, key=lambda v: (v.voter, v.post_id))),
        follows=tuple(sorted(records.follows, key=lambda f: (f.follower, f.followee))),
    )
