"""Reading an epoch's events the slow, obvious way: the test oracle for koinon.rewards.events,
which reads reactions a column at a time (one event at a time here, records and dicts)."""

from __future__ import annotations

from koinon.core.event import Event, is_hex
from koinon.core.kinds import CONTACTS, LABEL
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import POST_KINDS, read_bond, read_outcome, read_vote
from koinon.rewards.model import Bond, EpochInput, Follow, NoteOutcome, Post, Vote


def newer(candidate: Event, current: Event | None) -> bool:
    """Later `created_at`, then the lowest id (NIP-01's order for replaceable events)."""
    if current is None:
        return True
    return (candidate.created_at, current.id) > (current.created_at, candidate.id)


def read_epoch(events: list[Event], config: RewardsConfig, epoch: int) -> EpochInput:
    """What `epoch_input` must return: docs/rewards.md "Inputs", one event at a time."""
    start, end = config.window(epoch)
    posts: dict[str, Post] = {}
    votes: dict[tuple[str, str], tuple[Event, Vote]] = {}
    contacts: dict[str, Event] = {}
    bonds: dict[tuple[str, str], tuple[Event, Bond]] = {}
    outcomes: dict[str, tuple[Event, NoteOutcome]] = {}
    for event in events:
        if event.created_at >= end:
            continue
        in_epoch = event.created_at >= start
        vote = read_vote(event) if in_epoch else None
        if vote is not None:
            key = (vote.voter, vote.post_id)
            if key not in votes or newer(event, votes[key][0]):
                votes[key] = (event, vote)
        elif event.kind in POST_KINDS and in_epoch:
            posts[event.id] = Post(event.id, event.pubkey, event.created_at)
        elif event.kind == CONTACTS and newer(event, contacts.get(event.pubkey)):
            contacts[event.pubkey] = event
        elif (bond := read_bond(event)) is not None:
            bond_key = (bond.owner, bond.event_id)
            if bond_key not in bonds or newer(event, bonds[bond_key][0]):
                bonds[bond_key] = (event, bond)
        elif event.kind == LABEL and in_epoch and event.pubkey in config.note_labelers:
            outcome = read_outcome(event)
            if outcome is not None and (
                outcome.post_id not in outcomes or newer(event, outcomes[outcome.post_id][0])
            ):
                outcomes[outcome.post_id] = (event, outcome)
    follows = {
        Follow(author, name)
        for author, event in contacts.items()
        for name in event.tag_values("p")
        if name != author and is_hex(name, 64)
    }
    return EpochInput(
        epoch=epoch,
        start=start,
        end=end,
        pool=config.pool_per_epoch,
        trust_seeds=config.trust_seeds,
        posts=tuple(sorted(posts.values(), key=lambda p: p.id)),
        votes=tuple(
            sorted(
                (vote for _, vote in votes.values() if vote.post_id in posts),
                key=lambda v: (v.voter, v.post_id),
            )
        ),
        follows=tuple(sorted(follows, key=lambda f: (f.follower, f.followee))),
        bonds=tuple(b for key, (_, b) in sorted(bonds.items()) if key[1] in outcomes),
        outcomes=tuple(o for _, (_, o) in sorted(outcomes.items())),
    )
