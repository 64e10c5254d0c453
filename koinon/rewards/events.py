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
The caller verifies signatures; this module only selects and interprets.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

from koinon.core.event import Event, is_hex
from koinon.core.kinds import CONTACTS, LABEL, LONG_FORM, REACTION, TEXT_NOTE
from koinon.rewards.columns import EpochColumns, FollowColumns, PostColumns, VoteColumns
from koinon.rewards.config import RewardsConfig
from koinon.rewards.model import Bond, EpochInput, NoteOutcome, NoteStatus, Vote
from koinon.rewards.settle import collector_paused

BOND_DECLARATION = 3964
POST_KINDS = (TEXT_NOTE, LONG_FORM)
NOTES_NAMESPACE = "koinon.notes"


def _newer(candidate: Event, current: Event | None) -> bool:
    """NIP-01's order for replaceable events: later `created_at`, then the lowest id."""
    if current is None:
        return True
    if candidate.created_at != current.created_at:
        return candidate.created_at > current.created_at
    return candidate.id < current.id


_DIRECTIONS = {"+": 1, "": 1, "-": -1}


def _vote_parts(event: Event) -> tuple[str, int, float] | None:
    """The (target, direction, weight) of a reaction, or None when it is no vote; the target is
    the last `e` tag's value, not yet checked to be an event id."""
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
    return target, direction, weight


def read_vote(event: Event) -> Vote | None:
    """The vote a kind-7 reaction casts, or None when it is not a vote."""
    parts = _vote_parts(event) if event.kind == REACTION else None
    if parts is None or not is_hex(parts[0], 64):
        return None
    target, direction, weight = parts
    return Vote(event.id, event.pubkey, target, direction, weight, event.created_at)


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
    """The settlement input of `epoch` as columns (what a node settles); the order of `events`
    changes the order of the rows, never the settlement."""
    with collector_paused():
        return _epoch_columns(events, config, epoch)


def _epoch_columns(events: Iterable[Event], config: RewardsConfig, epoch: int) -> EpochColumns:
    start, end = config.window(epoch)
    labelers = set(config.note_labelers)
    posts: dict[str, Event] = {}
    # (voter, post id) -> the newest vote as a row: id, voter, post id, direction, weight, time
    votes: dict[tuple[str, str], tuple[str, str, str, int, float, int]] = {}
    contacts: dict[str, Event] = {}
    bonds: dict[tuple[str, str], tuple[Event, Bond]] = {}
    outcomes: dict[str, tuple[Event, NoteOutcome]] = {}
    for event in events:
        created, kind = event.created_at, event.kind
        if created >= end:
            continue
        in_epoch = start <= created
        if kind == REACTION:  # most events are votes: they are read without making records
            parts = _vote_parts(event) if in_epoch else None
            if parts is not None:
                key = (event.pubkey, parts[0])
                known = votes.get(key)
                # _newer on the row: later, or as late with a lower id
                if known is None or (created, known[0]) > (known[5], event.id):
                    votes[key] = (event.id, *key, parts[1], parts[2], created)
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
    # A vote whose target is not a post of the epoch is dropped here; a target that is not hex
    # never names one, so it needs no check of its own.
    cast = [row for row in votes.values() if row[2] in posts]
    ids, voters, targets, directions, weights, times = zip(*cast, strict=True) if cast else [()] * 6
    followers: list[str] = []
    followees: list[str] = []
    for author, event in contacts.items():
        named = dict.fromkeys(event.tag_values("p"))  # a name given twice is one edge
        named.pop(author, None)
        followers.extend([author] * len(named))
        followees.extend(named)
    malformed = {name for name in set(followees) if not is_hex(name, 64)}
    if malformed:
        edges = [(a, b) for a, b in zip(followers, followees, strict=True) if b not in malformed]
        followers, followees = [a for a, _ in edges], [b for _, b in edges]
    settled = set(outcomes)
    return EpochColumns(
        epoch=epoch,
        start=start,
        end=end,
        pool=config.pool_per_epoch,
        trust_seeds=config.trust_seeds,
        # every value below comes from a parsed event or was checked above, so the columns need
        # not check a million of them again
        posts=PostColumns(
            tuple(posts),
            tuple(e.pubkey for e in posts.values()),
            tuple(e.created_at for e in posts.values()),
            check=False,
        ),
        votes=VoteColumns(ids, voters, targets, directions, weights, times, check=False),
        follows=FollowColumns(tuple(followers), tuple(followees), check=False),
        bonds=tuple(b for _, (_, b) in sorted(bonds.items()) if b.event_id in settled),
        outcomes=tuple(o for _, (_, o) in sorted(outcomes.items())),
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
