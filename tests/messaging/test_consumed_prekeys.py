"""Two initiators who pick the same one-time prekey both get a session; a replayed initial message
is still refused; a consumed prekey is forgotten once a bundle without it has been published and
the grace period has passed (then the handshakes that used it are forward-secret)."""

from __future__ import annotations

import orjson
import pytest

from koinon.messaging import dm
from koinon.messaging.consumed_prekeys import CONSUMED_PREKEY_GRACE, ConsumedPrekeys
from koinon.sessions.errors import DecryptError, PrekeyError, StateError
from tests.messaging.parties import ALICE, BOB, CAROL, MALLORY, NOW, Party


def test_two_initiators_with_the_same_one_time_prekey_both_get_a_session() -> None:
    bob = Party(BOB, "bob-phone", 1, one_time=1)
    old = bob.bundle()  # one one-time prekey: every initiator picks it
    ((prekey_id, _),) = old.one_time_prekeys
    alice, carol = (
        Party(ALICE, "alice-phone", 2, one_time=1),
        Party(CAROL, "carol-phone", 3, one_time=1),
    )
    from_alice, from_carol = alice.send(bob, old, "a1"), carol.send(bob, old, "c1")

    assert bob.receive(from_alice) == "a1"
    assert len(bob.device.one_time) == 0 and set(bob.device.consumed.entries) == {prekey_id}
    assert bob.receive(from_carol) == "c1"  # the key was consumed, and still answers
    for peer, text in ((alice, "to alice"), (carol, "to carol")):
        assert peer.receive(bob.send(peer, peer.bundle(), text)) == text
        assert bob.receive(peer.send(bob, old, f"{text}, answered")) == f"{text}, answered"

    seen = set(bob.device.seen_ephemerals)
    for replay in (from_alice, from_carol):
        with pytest.raises(DecryptError):
            bob.receive(replay)
    assert bob.device.seen_ephemerals == seen and set(bob.device.consumed.entries) == {prekey_id}


def test_a_consumed_prekey_is_forgotten_after_the_grace_that_follows_its_replacement() -> None:
    bob = Party(BOB, "bob-phone", 4, one_time=1)
    old = bob.bundle()
    alice, carol, mallory = (
        Party(ALICE, "alice-phone", 5, one_time=1),
        Party(CAROL, "carol-phone", 6, one_time=1),
        Party(MALLORY, "mallory-phone", 7, one_time=1),
    )
    from_alice = alice.send(bob, old, "a1")
    assert bob.receive(from_alice) == "a1"

    # Not replaced yet: kept however long it takes, since initiators still read the old bundle.
    assert bob.device.forget_consumed(NOW + 100 * CONSUMED_PREKEY_GRACE) == 0
    bob.device.bundle_published(old, NOW)  # republishing a bundle that lists it replaces nothing
    assert bob.device.forget_consumed(NOW + 100 * CONSUMED_PREKEY_GRACE) == 0

    bob.device.top_up(1, bob.random)
    new = bob.bundle()
    bob.device.bundle_published(new, NOW + 10)
    assert bob.device.forget_consumed(NOW + 10 + CONSUMED_PREKEY_GRACE - 1) == 0
    assert carol.receive(bob.send(carol, carol.bundle(), "x")) == "x"  # unrelated sessions go on
    assert bob.receive(mallory.send(bob, old, "inside the grace")) == "inside the grace"

    assert bob.device.forget_consumed(NOW + 10 + CONSUMED_PREKEY_GRACE) == 1
    assert len(bob.device.consumed) == 0 and len(bob.device.one_time) == 1
    late = Party(CAROL, "carol-tablet", 8, one_time=1)
    with pytest.raises(PrekeyError):
        bob.receive(late.send(bob, old, "after the grace"))  # the old bundle's key is gone
    with pytest.raises(DecryptError):
        bob.receive(from_alice)  # a replay stays refused
    fresh = Party(CAROL, "carol-laptop", 12, one_time=1)
    assert bob.receive(fresh.send(bob, new, "from the new bundle")) == "from the new bundle"


def test_consumed_prekeys_survive_the_sealed_state_round_trip() -> None:
    bob = Party(BOB, "bob-phone", 9, one_time=2)
    old = bob.bundle()
    alice = Party(ALICE, "alice-phone", 10, one_time=1)
    assert bob.receive(alice.send(bob, old, "hi")) == "hi"
    new = bob.bundle()
    bob.device.bundle_published(new, NOW)
    assert bob.receive(Party(CAROL, "carol-phone", 11, one_time=1).send(bob, new, "hey")) == "hey"

    raw = orjson.loads(orjson.dumps(bob.device.to_json()))
    restored = dm.LocalDevice.from_json(raw)
    assert restored.consumed == bob.device.consumed and restored.one_time == bob.device.one_time
    assert restored.seen_ephemerals == bob.device.seen_ephemerals
    replaced = {e.replaced_at for e in restored.consumed.entries.values()}
    assert replaced == {NOW, None} and len(restored.one_time) == 0

    del raw["consumed"]  # a state written before consumed keys were kept
    assert len(dm.LocalDevice.from_json(raw).consumed) == 0
    malformed: tuple[object, ...] = (
        {},
        [{"id": 1, "secret": "00" * 31, "replaced_at": None}],
        [{"id": -1, "secret": "00" * 32, "replaced_at": None}],
        [{"id": 1, "secret": "00" * 32, "replaced_at": "soon"}],
        [{"id": 1, "secret": "00" * 32, "replaced_at": 1}] * 2,
        [{"id": 1, "secret": "zz" * 32, "replaced_at": 1}],
        [{"id": True, "secret": "00" * 32, "replaced_at": 1}],
    )
    for bad in malformed:
        with pytest.raises(StateError):
            ConsumedPrekeys.from_json(bad)
        with pytest.raises(StateError):
            dm.LocalDevice.from_json({**raw, "consumed": bad})
