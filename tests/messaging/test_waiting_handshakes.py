"""A handshake one command leaves for another keeps the prekeys it names past their grace until it
is read, or until it has waited `MAX_WAIT`; only well-formed, unanswered handshakes are noted."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from koinon.messaging import dm
from koinon.messaging.consumed_prekeys import CONSUMED_PREKEY_GRACE
from koinon.messaging.giftwrap import Rumor
from koinon.messaging.group_control import Device
from koinon.messaging.group_message import control_rumor
from koinon.messaging.signed_prekeys import SIGNED_PREKEY_GRACE, SIGNED_PREKEY_ROTATION
from koinon.messaging.waiting_handshakes import (
    MAX_AHEAD,
    MAX_WAIT,
    MAX_WAITING,
    WaitingHandshake,
    WaitingHandshakes,
)
from koinon.sessions.errors import PrekeyError, StateError
from koinon.sessions.prekeys import PrekeyBundle
from tests.messaging.parties import ALICE, BOB, CAROL, NOW, Party

ROTATED = NOW + SIGNED_PREKEY_ROTATION
GONE = ROTATED + SIGNED_PREKEY_GRACE


def control(sender: Party, to: Party, bundle: PrekeyBundle, text: str, at: int = NOW) -> Rumor:
    """A group control rumor (kind 1449) from `sender` to `to`, encrypted on `bundle`."""
    content = sender.content(to, bundle, text)
    own = Device(sender.me, sender.device.device_id)
    return control_rumor(own, Device(to.me, to.device.device_id), content, at)


def rotate(bob: Party) -> None:
    bob.device.rotate_signed_prekey(ROTATED, bob.random)
    bob.device.bundle_published(bob.bundle(), ROTATED)


def test_a_waiting_handshake_keeps_its_signed_prekey_until_it_is_read() -> None:
    bob, alice = Party(BOB, "bob-phone", 11), Party(ALICE, "alice-phone", 12)
    welcome = control(alice, bob, bob.bundle(), "welcome")
    rotate(bob)

    assert dm.note_unread_handshake(bob.device, welcome, GONE)
    assert dm.note_unread_handshake(bob.device, welcome, GONE)  # fetched again: still waiting
    assert len(bob.device.waiting) == 1  # once
    assert bob.device.forget_signed_prekeys(GONE) == 0
    assert set(bob.device.signed_prekeys) == {1, 2}

    assert bob.receive(welcome) == "welcome"  # what `group read` does, later
    assert bob.device.forget_signed_prekeys(GONE) == 1
    assert set(bob.device.signed_prekeys) == {2} and len(bob.device.waiting) == 0


def test_a_waiting_handshake_keeps_a_consumed_one_time_prekey() -> None:
    bob = Party(BOB, "bob-phone", 13, one_time=1)
    alice, carol = Party(ALICE, "alice-phone", 14), Party(CAROL, "carol-phone", 15)
    bundle = bob.bundle()
    assert bob.receive(carol.send(bob, bundle, "from carol")) == "from carol"  # consumes key 1
    welcome = control(alice, bob, bundle, "welcome", at=NOW + 5)  # picked key 1 too
    assert dm.note_unread_handshake(bob.device, welcome, NOW + 10)
    bob.device.top_up(1, bob.random)
    bob.device.bundle_published(bob.bundle(), NOW + 10)  # without key 1

    after = NOW + 10 + CONSUMED_PREKEY_GRACE
    assert bob.device.forget_consumed(after) == 0 and set(bob.device.consumed.entries) == {1}
    assert bob.receive(welcome) == "welcome"
    assert bob.device.forget_consumed(after) == 1 and len(bob.device.consumed) == 0


def test_a_handshake_waits_at_most_max_wait_and_is_not_noted_again() -> None:
    bob, alice = Party(BOB, "bob-phone", 16), Party(ALICE, "alice-phone", 17)
    welcome = control(alice, bob, bob.bundle(), "welcome")
    rotate(bob)
    assert dm.note_unread_handshake(bob.device, welcome, GONE)
    expired = NOW + MAX_WAIT
    assert expired > GONE
    assert bob.device.forget_signed_prekeys(expired - 1) == 0
    assert bob.device.forget_signed_prekeys(expired) == 1 and len(bob.device.waiting) == 0
    assert not dm.note_unread_handshake(bob.device, welcome, expired)  # its key is gone
    with pytest.raises(PrekeyError, match="signed prekey 1 unknown or expired"):
        bob.receive(welcome)

    # Seen again after MAX_WAIT, a handshake on a key still held is not noted either.
    late = control(Party(CAROL, "carol-phone", 18), bob, bob.bundle(), "late", at=expired)
    assert not dm.note_unread_handshake(bob.device, late, expired + MAX_WAIT)
    assert dm.note_unread_handshake(bob.device, late, expired + MAX_WAIT - 1)


def test_only_well_formed_unanswered_handshakes_from_their_author_are_noted() -> None:
    bob, alice = Party(BOB, "bob-phone", 19), Party(ALICE, "alice-phone", 20)
    bundle = bob.bundle()
    first = control(alice, bob, bundle, "first")
    for junk in (
        dataclasses.replace(first, content="not base64!"),
        dataclasses.replace(first, content=""),
        dataclasses.replace(first, content=first.content[:40]),  # truncated header
        dataclasses.replace(first, pubkey=CAROL.public_key),  # not the header's initiator
        dataclasses.replace(first, created_at=NOW + MAX_AHEAD + 1),  # from the future
    ):
        assert not dm.note_unread_handshake(bob.device, junk, NOW), junk
    assert dm.note_unread_handshake(bob.device, dataclasses.replace(first, created_at=NOW), NOW)

    assert bob.receive(first) == "first"
    assert not dm.note_unread_handshake(bob.device, first, NOW)  # answered
    bob.device.forget_signed_prekeys(NOW)
    assert len(bob.device.waiting) == 0  # pruned once answered
    reply = bob.send(alice, alice.bundle(), "reply")
    assert alice.receive(reply) == "reply"
    assert not dm.note_unread_handshake(bob.device, control(alice, bob, bundle, "no header"), NOW)


def test_at_most_max_waiting_are_kept_the_newest() -> None:
    waiting = WaitingHandshakes()
    for i in range(MAX_WAITING + 1):
        waiting = waiting.noted(WaitingHandshake(1, None, bytes([i]) * 32, NOW), NOW)
    assert len(waiting) == MAX_WAITING
    assert waiting.entries[0].ephemeral == bytes([1]) * 32


def test_waiting_handshakes_survive_the_saved_state_and_bad_ones_are_refused() -> None:
    bob, alice = Party(BOB, "bob-phone", 21, one_time=1), Party(ALICE, "alice-phone", 22)
    assert dm.note_unread_handshake(bob.device, control(alice, bob, bob.bundle(), "w"), NOW)
    raw = orjson.loads(orjson.dumps(bob.device.to_json()))
    restored = dm.LocalDevice.from_json(raw)
    assert restored.waiting == bob.device.waiting and len(restored.waiting) == 1
    assert restored.waiting.one_time_prekey_ids() == {1}

    older = {k: v for k, v in raw.items() if k != "waiting"}  # saved before it came
    assert len(dm.LocalDevice.from_json(older).waiting) == 0
    (entry,) = raw["waiting"]
    bad: object
    for bad in (
        {},
        [{**entry, "ephemeral": "00" * 31}],
        [{**entry, "ephemeral": "zz" * 32}],
        [{**entry, "signed_prekey": -1}],
        [{**entry, "one_time_prekey": "1"}],
        [{**entry, "sent_at": None}],
        [{k: v for k, v in entry.items() if k != "sent_at"}],
        [entry] * (MAX_WAITING + 1),
    ):
        with pytest.raises(StateError):
            dm.LocalDevice.from_json({**raw, "waiting": bad})
