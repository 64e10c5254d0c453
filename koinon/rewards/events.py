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

import math
from collections.abc import Iterable
from typing import Any

from koinon.core.event import Event, is_hex
from koinon.core.kinds import CONTACTS, LABEL, LONG_FORM, REACTION, TEXT_NOTE
from koinon.rewards.config import RewardsConfig
from koinon.rewards.model import Bond, EpochInput, Follow, NoteOutcome, NoteStatus, Post, Vote

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


def read_vote(event: Event) -> Vote | None:
    """The vote a kind-7 reaction casts, or None when it is not a vote."""
    if event.kind != REACTION:
        return None
    direction = {"+": 1, "": 1, "-": -1}.get(event.content)
    targets = event.tag_values("e")
    if direction is None or not targets or not is_hex(targets[-1], 64):
        return None
    weight = 1.0
    raw_weight = event.first_tag("weight")
    if raw_weight is not None:
        try:
            weight = float(raw_weight)
        except ValueError:
            return None
        if not (math.isfinite(weight) and 0.0 < weight <= 1.0):
            return None
    return Vote(event.id, event.pubkey, targets[-1], direction, weight, event.created_at)


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


def epoch_input(events: Iterable[Event], config: RewardsConfig, epoch: int) -> EpochInput:
    """The settlement input of `epoch`: the order of `events` never changes the result."""
    start, end = config.window(epoch)
    labelers = set(config.note_labelers)
    posts: dict[str, Post] = {}
    votes: dict[tuple[str, str], tuple[Event, Vote]] = {}
    contacts: dict[str, Event] = {}
    bonds: dict[tuple[str, str], tuple[Event, Bond]] = {}
    outcomes: dict[str, tuple[Event, NoteOutcome]] = {}
    for event in events:
        in_epoch = start <= event.created_at < end
        if event.created_at >= end:
            continue
        if event.kind in POST_KINDS and in_epoch:
            posts[event.id] = Post(event.id, event.pubkey, event.created_at)
        elif event.kind == REACTION and in_epoch:
            vote = read_vote(event)
            key = (vote.voter, vote.post_id) if vote else ("", "")
            if vote is not None and _newer(event, votes.get(key, (None,))[0]):
                votes[key] = (event, vote)
        elif event.kind == CONTACTS:
            if _newer(event, contacts.get(event.pubkey)):
                contacts[event.pubkey] = event
        elif event.kind == BOND_DECLARATION:
            bond = read_bond(event)
            bond_key = (bond.owner, bond.event_id) if bond else ("", "")
            if bond is not None and _newer(event, bonds.get(bond_key, (None,))[0]):
                bonds[bond_key] = (event, bond)
        elif event.kind == LABEL and in_epoch and event.pubkey in labelers:
            outcome = read_outcome(event)
            if outcome is not None and _newer(event, outcomes.get(outcome.post_id, (None,))[0]):
                outcomes[outcome.post_id] = (event, outcome)
    follows = {
        (author, followee)
        for author, event in contacts.items()
        for followee in event.tag_values("p")
        if is_hex(followee, 64) and followee != author
    }
    settled = {post_id for post_id in outcomes}
    return EpochInput(
        epoch=epoch,
        start=start,
        end=end,
        pool=config.pool_per_epoch,
        trust_seeds=config.trust_seeds,
        posts=tuple(posts[i] for i in sorted(posts)),
        votes=tuple(v for _, (_, v) in sorted(votes.items()) if v.post_id in posts),
        follows=tuple(Follow(a, b) for a, b in sorted(follows)),
        bonds=tuple(b for _, (_, b) in sorted(bonds.items()) if b.event_id in settled),
        outcomes=tuple(o for _, (_, o) in sorted(outcomes.items())),
    )
