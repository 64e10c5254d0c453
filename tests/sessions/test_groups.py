"""Sender-key groups wired together in memory: exchange, ordering, forgery, membership changes."""

from __future__ import annotations

import contextlib
import hashlib
import random as stdlib_random
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.sessions import DecryptError, ReplayError, SessionError, StateError, TooManySkipped
from koinon.sessions.group_wire import MAX_MEMBERS, message_header
from koinon.sessions.groups import (
    GroupError,
    GroupMessage,
    GroupState,
    Member,
    MissingSenderKey,
    Roster,
    SenderKeyDistribution,
)
from koinon.sessions.primitives import kdf_ck
from koinon.sessions.sender_keys import MAX_SKIP, seal, signed_bytes

from .pairing import seeded


def member(index: int, device: int = 0) -> Member:
    """A member device with a made-up Nostr pubkey."""
    return Member(hashlib.sha256(b"member %d" % index).hexdigest(), device)


def distribute(sender: GroupState, recipients: list[GroupState]) -> None:
    """What the transport does: send `sender`'s distribution as bytes over each pairwise session."""
    wire = sender.distribution().to_bytes()
    for recipient in recipients:
        if recipient.own != sender.own:
            recipient.receive_distribution(sender.own, SenderKeyDistribution.from_bytes(wire))


def make_group(size: int, seed: int = 1) -> list[GroupState]:
    """`size` members of one new group, every sender key delivered to every other member."""
    creator = GroupState.create(member(0), [member(i) for i in range(1, size)], seeded(seed))
    roster = Roster.from_bytes(creator.roster.to_bytes())
    states = [creator] + [
        GroupState.join(member(i), roster, seeded(seed + i)) for i in range(1, size)
    ]
    for state in states:
        distribute(state, states)
    return states


def wire(message: GroupMessage) -> GroupMessage:
    return GroupMessage.from_bytes(message.to_bytes())


def test_members_exchange_messages() -> None:
    states = make_group(5)
    for count, sender in enumerate(states * 2):
        text = b"message %d from %s" % (count, sender.own.pubkey[:8].encode())
        message = wire(sender.encrypt(text))
        for recipient in states:
            if recipient is not sender:
                assert recipient.decrypt(message) == text
    assert all(state.missing_senders == () for state in states)


def test_out_of_order_within_window_and_replay_rejected() -> None:
    alice, bob, _ = make_group(3)
    messages = [alice.encrypt(b"%d" % i) for i in range(10)]
    for i in (9, 3, 0, 5, 1, 2, 4, 8, 7, 6):
        assert bob.decrypt(messages[i]) == b"%d" % i
    for message in messages:
        with pytest.raises(ReplayError):
            bob.decrypt(message)


def test_too_far_ahead_rejected_and_state_unchanged() -> None:
    alice, bob = make_group(2)
    messages = [alice.encrypt(b"%d" % i) for i in range(MAX_SKIP + 2)]
    before = bob.to_bytes()
    with pytest.raises(TooManySkipped):
        bob.decrypt(messages[-1])
    assert bob.to_bytes() == before
    assert bob.decrypt(messages[MAX_SKIP]) == b"%d" % MAX_SKIP


def test_tampered_rejected_and_state_usable() -> None:
    alice, bob, carol = make_group(3)
    message = alice.encrypt(b"pay carol 5")
    before = bob.to_bytes()
    body = bytearray(message.to_bytes())
    for position in (5, 80, len(body) - 70, len(body) - 1):
        forged = bytearray(body)
        forged[position] ^= 1
        with pytest.raises(DecryptError):
            bob.decrypt(GroupMessage.from_bytes(bytes(forged)))
        assert bob.to_bytes() == before
    with pytest.raises(DecryptError):
        bob.decrypt(replace(message, iteration=1))
    assert bob.to_bytes() == before
    assert bob.decrypt(message) == b"pay carol 5"
    assert carol.decrypt(message) == b"pay carol 5"


def test_member_cannot_impersonate_another() -> None:
    alice, bob, carol = make_group(3, seed=7)
    # Bob holds Alice's chain key, so he can build a message that Alice's key would decrypt...
    alice_chain = alice.distribution()
    _, message_key = kdf_ck(alice_chain.chain_key)
    header = message_header(alice.group_id, alice.epoch, alice.own, alice_chain.iteration)
    ciphertext = seal(message_key, header, b"alice owes bob 100")
    # ...but he can only sign it with a key that is not Alice's.
    impostor = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signature = impostor.sign(signed_bytes(header, ciphertext))
    forged = GroupMessage(alice.group_id, 0, alice.own, 0, ciphertext, signature)
    with pytest.raises(DecryptError, match="signature"):
        carol.decrypt(forged)
    # Nor can he re-sign Alice's genuine message or claim Alice's genuine signature for his own.
    genuine = alice.encrypt(b"hi")
    with pytest.raises(DecryptError):
        carol.decrypt(replace(genuine, sender=bob.own))
    assert carol.decrypt(genuine) == b"hi"


def test_removed_member_cannot_read_after_removal() -> None:
    states = make_group(4, seed=3)
    alice, bob, carol, dave = states
    before = alice.encrypt(b"before")
    carol_old = GroupState.from_bytes(carol.to_bytes(), seeded(99))  # carol keeps her state
    remaining = [alice, bob, dave]
    for state in remaining:
        state.remove(carol.own)
        assert state.epoch == 1 and carol.own not in state.members
    for state in remaining:
        distribute(state, remaining)
    after = alice.encrypt(b"after carol left")
    assert bob.decrypt(after) == dave.decrypt(after) == b"after carol left"
    for old in (carol, carol_old):
        assert old.decrypt(before) == b"before"
        with pytest.raises(DecryptError):
            old.decrypt(after)
        # Relabelling the message as epoch 0 does not help: the keys and signature differ.
        with pytest.raises(DecryptError):
            old.decrypt(replace(after, epoch=0))
    # A late old-epoch message is refused by the remaining members.
    with pytest.raises(DecryptError):
        bob.decrypt(carol.encrypt(b"still here?"))
    with pytest.raises(GroupError):
        bob.receive_distribution(carol.own, carol.distribution())


def test_added_member_cannot_read_earlier_messages() -> None:
    states = make_group(3, seed=5)
    alice, bob, _ = states
    earlier = [alice.encrypt(b"secret plans"), bob.encrypt(b"more plans")]
    for state in states:
        state.add(member(3))
    dave = GroupState.join(member(3), Roster.from_bytes(alice.roster.to_bytes()), seeded(50))
    everyone = [*states, dave]
    for state in everyone:
        distribute(state, everyone)
    for message in earlier:
        with pytest.raises(ReplayError):
            dave.decrypt(message)
    later = alice.encrypt(b"welcome dave")
    assert dave.decrypt(later) == bob.decrypt(later) == b"welcome dave"
    assert bob.decrypt(dave.encrypt(b"thanks")) == b"thanks"
    assert dave.epoch == alice.epoch == 0


def test_multi_device_members_and_pending_keys() -> None:
    phone, laptop = member(0, 1), member(0, 2)
    group = GroupState.create(phone, [laptop, member(1)], seeded(1))
    other = GroupState.join(laptop, group.roster, seeded(2))
    distribution = group.distribution()
    message = group.encrypt(b"sync")  # overtakes the distribution in transit
    with pytest.raises(MissingSenderKey):
        other.decrypt(message)
    assert set(other.missing_senders) == {phone, member(1)}
    other.receive_distribution(phone, distribution)
    assert other.decrypt(message) == b"sync"
    other.receive_distribution(phone, distribution)  # a retransmission does not rewind the chain
    with pytest.raises(ReplayError):
        other.decrypt(message)


def test_hundred_members() -> None:
    states = make_group(MAX_MEMBERS, seed=11)
    for sender in (states[0], states[42], states[-1]):
        message = wire(sender.encrypt(b"to all"))
        assert all(s.decrypt(message) == b"to all" for s in states if s is not sender)
    with pytest.raises(GroupError):
        states[0].add(member(MAX_MEMBERS))


def test_state_round_trip_keeps_skipped_keys() -> None:
    alice, bob = make_group(2)
    messages = [alice.encrypt(b"%d" % i) for i in range(4)]
    assert bob.decrypt(messages[3]) == b"3"
    restored = GroupState.from_bytes(bob.to_bytes(), seeded(2))
    assert restored.to_bytes() == bob.to_bytes()
    assert [restored.decrypt(m) for m in messages[:3]] == [b"0", b"1", b"2"]
    alice_restored = GroupState.from_bytes(alice.to_bytes(), seeded(3))
    assert restored.decrypt(alice_restored.encrypt(b"next")) == b"next"


def test_misuse_raises_group_errors() -> None:
    alice, bob = make_group(2)
    with pytest.raises(GroupError):
        alice.remove(alice.own)
    with pytest.raises(GroupError):
        alice.remove(member(9))
    with pytest.raises(GroupError):
        alice.add(bob.own)
    with pytest.raises(GroupError):
        alice.receive_distribution(member(9), bob.distribution())
    with pytest.raises(GroupError):
        alice.receive_distribution(bob.own, replace(bob.distribution(), signing_public=bytes(32)))
    with pytest.raises(GroupError):
        Member("AB" * 32)
    with pytest.raises(GroupError):
        GroupState.create(member(0), [member(i) for i in range(1, MAX_MEMBERS + 1)], seeded(1))
    with pytest.raises(DecryptError):
        alice.decrypt(alice.encrypt(b"self"))


def _group_for_junk() -> tuple[GroupState, bytes]:
    alice, bob = make_group(2, seed=21)
    return bob, alice.encrypt(b"x").to_bytes()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 400), st.integers(1, 255))
def test_junk_raises_only_our_errors(junk: bytes, position: int, flip: int) -> None:
    bob, genuine = _group_for_junk()
    mutated = bytearray(genuine)
    mutated[position % len(mutated)] ^= flip
    before = bob.to_bytes()
    for data in (junk, bytes(mutated), genuine[: position % len(genuine)]):
        for parse in (
            lambda d: bob.decrypt(GroupMessage.from_bytes(d)),
            SenderKeyDistribution.from_bytes,
            Roster.from_bytes,
            lambda d: GroupState.from_bytes(d, seeded(1)),
            lambda d: bob.receive_distribution(bob.members[0], SenderKeyDistribution.from_bytes(d)),
        ):
            with contextlib.suppress(SessionError):
                parse(data)
    assert bob.to_bytes() == before


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**16), st.integers(0, 10_000))
def test_mutated_state_raises_only_state_errors(seed: int, position: int) -> None:
    states = make_group(3, seed=seed)
    states[1].decrypt(states[0].encrypt(b"a"))
    data = bytearray(states[1].to_bytes())
    rng = stdlib_random.Random(seed)
    data[position % len(data)] ^= rng.randrange(1, 256)
    for candidate in (bytes(data), bytes(data[: position % len(data)])):
        with contextlib.suppress(StateError):
            GroupState.from_bytes(candidate, seeded(1))
