"""A device rotates its signed prekey weekly; the old one still answers handshakes until the grace
after a bundle without it is published, then it is deleted with the ephemeral keys seen on it
(handshakes on it are then forward-secret, and replays of them cannot be decrypted at all)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
import pytest

from koinon.messaging import dm
from koinon.messaging.signed_prekeys import (
    SIGNED_PREKEY_GRACE,
    SIGNED_PREKEY_ROTATION,
    SignedPrekeyRing,
)
from koinon.sessions.errors import DecryptError, PrekeyError, StateError
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, NOW, Party

ROTATED = NOW + SIGNED_PREKEY_ROTATION
GONE = ROTATED + SIGNED_PREKEY_GRACE


def test_the_signed_prekey_rotates_once_it_is_a_week_old() -> None:
    bob = Party(BOB, "bob-phone", 1)
    assert not bob.device.rotation_due(ROTATED - 1)
    assert not bob.device.rotate_signed_prekey(ROTATED - 1, bob.random)
    assert bob.device.signed_prekey_id == 1 and bob.bundle().signed_prekey_id == 1

    assert bob.device.rotation_due(ROTATED)
    assert bob.device.rotate_signed_prekey(ROTATED, bob.random)
    assert bob.device.signed_prekey_id == 2 and bob.bundle().signed_prekey_id == 2
    assert set(bob.device.signed_prekeys) == {1, 2}  # the old one still answers
    assert not bob.device.rotation_due(ROTATED + SIGNED_PREKEY_ROTATION - 1)
    assert bob.device.rotation_due(ROTATED + SIGNED_PREKEY_ROTATION)

    # Unpublished, the new key replaces nothing: initiators still read the old bundle.
    assert bob.device.forget_signed_prekeys(GONE * 10) == 0
    bob.device.bundle_published(bob.bundle(), ROTATED)
    assert bob.device.forget_signed_prekeys(GONE - 1) == 0
    assert bob.device.forget_signed_prekeys(GONE) == 1 and set(bob.device.signed_prekeys) == {2}
    assert bob.device.forget_signed_prekeys(GONE * 10) == 0  # the current one is never deleted


def test_an_old_signed_prekey_answers_within_the_grace_and_is_unknown_after() -> None:
    bob = Party(BOB, "bob-phone", 2)
    alice, carol = Party(ALICE, "alice-phone", 3), Party(CAROL, "carol-phone", 4)
    old = bob.bundle()
    from_alice = alice.send(bob, old, "a1")
    assert bob.receive(from_alice) == "a1"
    ((alice_ephemeral,),) = [e.ephemerals for e in bob.device.signed.entries.values()]

    bob.device.rotate_signed_prekey(ROTATED, bob.random)
    new = bob.bundle()
    bob.device.bundle_published(new, ROTATED)
    from_carol = carol.send(bob, old, "c1 from the old bundle")
    bob.device.forget_signed_prekeys(GONE - 1)
    assert bob.receive(from_carol) == "c1 from the old bundle"
    with pytest.raises(DecryptError):
        bob.receive(from_alice)  # a replay within the grace is refused
    from_mallory = Party(MALLORY, "mallory-phone", 5).send(bob, new, "m1")
    assert bob.receive(from_mallory) == "m1"
    assert len(bob.device.seen_ephemerals) == 3

    assert bob.device.forget_signed_prekeys(GONE) == 1
    assert set(bob.device.signed_prekeys) == {2}
    assert alice_ephemeral not in bob.device.seen_ephemerals  # pruned with signed prekey 1
    assert len(bob.device.seen_ephemerals) == 1  # Mallory's, on signed prekey 2
    late = Party(CAROL, "carol-tablet", 6)
    with pytest.raises(PrekeyError, match="signed prekey 1 unknown or expired"):
        bob.receive(late.send(bob, old, "after the grace"))
    with pytest.raises(PrekeyError, match="signed prekey 1 unknown or expired"):
        bob.receive(from_alice)  # a replay now cannot even be decrypted
    with pytest.raises(DecryptError):
        bob.receive(from_mallory)  # a replay on the current signed prekey stays refused

    # Sessions already open outlive the key they started on.
    assert bob.receive(alice.send(bob, old, "a2")) == "a2"
    assert alice.receive(bob.send(alice, alice.bundle(), "to alice")) == "to alice"


def test_rotation_survives_the_saved_state_and_old_states_migrate() -> None:
    bob = Party(BOB, "bob-phone", 7, one_time=1)
    alice = Party(ALICE, "alice-phone", 8)
    from_alice = alice.send(bob, bob.bundle(), "hi")
    assert bob.receive(from_alice) == "hi"
    bob.device.rotate_signed_prekey(ROTATED, bob.random)
    bob.device.bundle_published(bob.bundle(), ROTATED)

    raw = orjson.loads(orjson.dumps(bob.device.to_json()))
    restored = dm.LocalDevice.from_json(raw)
    assert restored.signed == bob.device.signed and restored.consumed == bob.device.consumed

    # A state saved before rotation: a map of keys and one flat set of ephemerals.
    legacy = {k: v for k, v in raw.items() if k != "signed"}
    legacy["signed_prekey_id"] = 1
    legacy["signed_prekeys"] = {"1": bob.device.signed.entries[1].key.secret.hex()}
    legacy["seen_ephemerals"] = [e.hex() for e in bob.device.seen_ephemerals]
    old = dm.LocalDevice.from_json(legacy)
    assert old.signed_prekeys == {1: bob.device.signed.entries[1].key}
    assert old.seen_ephemerals == bob.device.seen_ephemerals
    assert old.rotation_due(NOW)  # its age is unknown: rotate at the first chance
    bob.device = old
    with pytest.raises(DecryptError):
        bob.receive(from_alice)  # a replay of a handshake seen before the migration

    entry = raw["signed"][0]
    bad: Mapping[str, object]
    for bad in (
        {"signed_prekey_id": 9},
        {"signed_prekey_id": "2"},
        {"signed": {}},
        {"signed": [{**entry, "id": -1}]},
        {"signed": [{**entry, "secret": "00" * 31}]},
        {"signed": [{**entry, "created_at": "monday"}]},
        {"signed": [{**entry, "ephemerals": ["00" * 31]}]},
        {"signed": [entry, entry]},
    ):
        with pytest.raises(StateError):
            dm.LocalDevice.from_json({**raw, **bad})
    with pytest.raises(StateError):
        SignedPrekeyRing(3, {})
