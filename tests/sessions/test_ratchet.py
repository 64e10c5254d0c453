"""The Double Ratchet: conversations, out-of-order and lost messages, bounds, replays, tampering."""

from __future__ import annotations

import pytest

from koinon.sessions import (
    MAX_SKIP,
    MAX_STORED_SKIPPED,
    DecryptError,
    Ratchet,
    ReplayError,
    SessionError,
    StateError,
    TooManySkipped,
)
from koinon.sessions.ratchet import HEADER

from .pairing import connected_pair, handshake, seeded


def test_conversation_both_ways_with_ratchet_steps() -> None:
    alice, bob = connected_pair(1)
    for turn in range(5):
        for i in range(3):
            text = f"a{turn}.{i}".encode()
            assert bob.decrypt(alice.encrypt(text)) == text
        for i in range(2):
            text = f"b{turn}.{i}".encode()
            assert alice.decrypt(bob.encrypt(text)) == text


def test_headers_carry_ratchet_key_pn_and_n() -> None:
    alice, bob = connected_pair(2)
    first, second = alice.encrypt(b"1"), alice.encrypt(b"2")
    assert HEADER.unpack(second[: HEADER.size])[2:] == (0, 2)
    bob.decrypt(first)
    bob.decrypt(second)
    reply = bob.encrypt(b"r")
    alice.decrypt(reply)
    version, key, pn, n = HEADER.unpack(alice.encrypt(b"3")[: HEADER.size])
    assert (version, pn, n) == (1, 3, 0)
    assert key != HEADER.unpack(first[: HEADER.size])[1]


def test_responder_cannot_send_first() -> None:
    with pytest.raises(SessionError):
        handshake(3).bob_ratchet.encrypt(b"too early")


def test_out_of_order_and_dropped_messages() -> None:
    alice, bob = connected_pair(4)
    sent = [alice.encrypt(bytes([i])) for i in range(6)]
    for i in (3, 0, 5, 1):  # 2 and 4 never arrive
        assert bob.decrypt(sent[i]) == bytes([i])
    assert bob.skipped_count == 2
    reply = bob.encrypt(b"r")
    late = alice.encrypt(b"after ratchet")
    assert alice.decrypt(reply) == b"r"
    assert bob.decrypt(late) == b"after ratchet"
    assert bob.decrypt(sent[4]) == bytes([4])  # from the previous chain, still stored


def test_messages_from_a_previous_chain_arrive_after_the_ratchet() -> None:
    alice, bob = connected_pair(5)
    old = [alice.encrypt(b"old%d" % i) for i in range(3)]
    bob.decrypt(old[0])
    alice.decrypt(bob.encrypt(b"ping"))
    new = alice.encrypt(b"new")
    assert bob.decrypt(new) == b"new"  # skips old[1], old[2] via pn
    assert [bob.decrypt(m) for m in old[:0:-1]] == [b"old2", b"old1"]


def test_max_skip_exceeded_rejected_without_state_change() -> None:
    alice, bob = connected_pair(6)
    sent = [alice.encrypt(b"%d" % i) for i in range(MAX_SKIP + 2)]
    before = bob.to_bytes()
    with pytest.raises(TooManySkipped):
        bob.decrypt(sent[-1])
    assert bob.to_bytes() == before
    assert bob.decrypt(sent[MAX_SKIP]) == b"%d" % MAX_SKIP  # exactly MAX_SKIP skipped is fine
    assert bob.skipped_count == MAX_SKIP
    assert bob.decrypt(sent[-1]) == b"%d" % (MAX_SKIP + 1)


def test_stored_skipped_keys_are_capped_oldest_first() -> None:
    alice, bob = connected_pair(7)
    chains = []
    for _ in range(3):
        sent = [alice.encrypt(b"x") for _ in range(MAX_SKIP)]
        bob.decrypt(sent[-1])
        chains.append(sent)
        alice.decrypt(bob.encrypt(b"turn"))
    assert bob.skipped_count == MAX_STORED_SKIPPED
    with pytest.raises(ReplayError):
        bob.decrypt(chains[0][0])  # forgotten to make room
    assert bob.decrypt(chains[2][0]) == b"x"


def test_replay_rejected_and_state_unchanged() -> None:
    alice, bob = connected_pair(8)
    first, second = alice.encrypt(b"1"), alice.encrypt(b"2")
    bob.decrypt(second)
    bob.decrypt(first)  # from the skipped store
    for message in (first, second):
        before = bob.to_bytes()
        with pytest.raises(ReplayError):
            bob.decrypt(message)
        assert bob.to_bytes() == before
    alice.decrypt(bob.encrypt(b"r"))
    assert bob.decrypt(alice.encrypt(b"3")) == b"3"
    with pytest.raises(ReplayError):  # a chain retired by the ratchet step
        bob.decrypt(second)


@pytest.mark.parametrize(
    "position",
    [0, 1, 20, 33, 36, 37, 40, 41, 45, -1],
    ids=["version", "key0", "key20", "pn0", "pn3", "n0", "n3", "ct0", "ct4", "tag"],
)
def test_tampered_message_rejected_and_session_still_usable(position: int) -> None:
    alice, bob = connected_pair(9)
    message = bytearray(alice.encrypt(b"attack at dawn"))
    message[position] ^= 0x01
    before = bob.to_bytes()
    with pytest.raises(DecryptError):
        bob.decrypt(bytes(message))
    assert bob.to_bytes() == before
    assert bob.decrypt(alice.encrypt(b"still fine")) == b"still fine"


def test_tampered_ratchet_step_rejected_and_session_still_usable() -> None:
    alice, bob = connected_pair(10)
    alice.decrypt(bob.encrypt(b"r"))
    message = bytearray(alice.encrypt(b"new chain"))
    message[-1] ^= 0x80
    before = bob.to_bytes()
    with pytest.raises(DecryptError):
        bob.decrypt(bytes(message))
    assert bob.to_bytes() == before
    message[-1] ^= 0x80
    assert bob.decrypt(bytes(message)) == b"new chain"


def test_wrong_associated_data_rejected() -> None:
    alice, bob = connected_pair(11)
    state = bytearray(bob.to_bytes())
    state[3 + 5] ^= 0x01  # a byte of the AD, which follows version and length
    other = Ratchet.from_bytes(bytes(state), seeded(0))
    assert other.associated_data != bob.associated_data
    message = alice.encrypt(b"for bob only")
    with pytest.raises(DecryptError):
        other.decrypt(message)
    assert bob.decrypt(message) == b"for bob only"


def test_message_of_another_session_rejected() -> None:
    alice, _ = connected_pair(12)
    _, bob = connected_pair(13)
    with pytest.raises(DecryptError):
        bob.decrypt(alice.encrypt(b"x"))


@pytest.mark.parametrize("junk", [b"", b"\x01" * 56, b"\x02" + bytes(60)], ids=["empty", "x", "v2"])
def test_short_or_unknown_messages_rejected(junk: bytes) -> None:
    _, bob = connected_pair(14)
    with pytest.raises(DecryptError):
        bob.decrypt(junk)


def test_state_round_trip_mid_conversation() -> None:
    alice, bob = connected_pair(15)
    pending = [alice.encrypt(b"%d" % i) for i in range(4)]
    bob.decrypt(pending[3])
    restored = Ratchet.from_bytes(bob.to_bytes(), seeded(16))
    assert restored.to_bytes() == bob.to_bytes()
    assert [restored.decrypt(m) for m in pending[:3]] == [b"0", b"1", b"2"]
    assert alice.decrypt(restored.encrypt(b"back")) == b"back"


@pytest.mark.parametrize("cut", [0, 1, 10, 100, -1], ids=lambda c: f"cut{c}")
def test_truncated_state_rejected(cut: int) -> None:
    _, bob = connected_pair(17)
    with pytest.raises(StateError):
        Ratchet.from_bytes(bob.to_bytes()[:cut], seeded(0))


def test_unknown_state_version_rejected() -> None:
    _, bob = connected_pair(18)
    with pytest.raises(StateError, match="version"):
        Ratchet.from_bytes(b"\x02" + bob.to_bytes()[1:], seeded(0))
