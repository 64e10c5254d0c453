"""Forward secrecy and post-compromise security, shown by an attacker with stolen material."""

from __future__ import annotations

import dataclasses

import pytest

from koinon.sessions import (
    PrekeyError,
    Ratchet,
    SessionError,
    respond,
)

from .pairing import SIGNED_PREKEY_ID, handshake, seeded


def test_forward_secrecy_against_stolen_identity_keys_and_state() -> None:
    run = handshake(20)
    alice, bob = run.alice, run.bob_ratchet
    transcript = [alice.encrypt(b"first, carries the X3DH secret")]
    bob.decrypt(transcript[0])
    for turn in range(3):
        transcript.append(bob.encrypt(b"bob %d" % turn))
        alice.decrypt(transcript[-1])
        transcript.append(alice.encrypt(b"alice %d" % turn))
        bob.decrypt(transcript[-1])
    # Later the attacker steals both identity keys, Bob's signed prekey (not yet rotated away)
    # and both current session states; the consumed one-time prekey is gone.
    stolen_bob = Ratchet.from_bytes(bob.to_bytes(), seeded(666))
    stolen_alice = Ratchet.from_bytes(alice.to_bytes(), seeded(667))
    for message in transcript:
        for stolen in (stolen_bob, stolen_alice):
            with pytest.raises(SessionError):
                stolen.decrypt(message)
    # Re-running X3DH from the stolen keys: the one-time prekey is consumed...
    signed = {SIGNED_PREKEY_ID: run.bob.signed_prekey}
    with pytest.raises(PrekeyError):
        respond(run.bob.identity, signed, run.remaining, run.header)
    # ...and leaving it out of the computation yields another secret that opens nothing.
    without = dataclasses.replace(run.header, one_time_prekey_id=None)
    guess, ad, _ = respond(run.bob.identity, signed, run.remaining, without)
    assert guess != run.shared_secret
    replayed = Ratchet.responder(guess, ad, run.bob.signed_prekey, seeded(668))
    with pytest.raises(SessionError):
        replayed.decrypt(transcript[0])
    # Once the signed prekey is rotated out, even the X3DH inputs are unrecoverable.
    with pytest.raises(PrekeyError):
        respond(run.bob.identity, {}, run.remaining, without)


def test_post_compromise_security_after_the_peers_ratchet_step() -> None:
    run = handshake(21)
    alice, bob = run.alice, run.bob_ratchet
    bob.decrypt(alice.encrypt(b"hello"))
    alice.decrypt(bob.encrypt(b"hi"))
    stolen = Ratchet.from_bytes(bob.to_bytes(), seeded(666))  # Eve copies Bob's state at time t
    # Until Bob ratchets, Eve reads Alice's messages: the compromise is real.
    leaked = alice.encrypt(b"leaked")
    assert stolen.decrypt(leaked) == b"leaked" == bob.decrypt(leaked)
    # Bob's reply starts a new DH ratchet step with randomness Eve does not have.
    alice.decrypt(bob.encrypt(b"fresh ratchet key"))
    healed = [alice.encrypt(b"private %d" % i) for i in range(3)]
    for message in healed:
        with pytest.raises(SessionError):
            stolen.decrypt(message)
    assert [bob.decrypt(m) for m in healed] == [b"private 0", b"private 1", b"private 2"]
    # Eve cannot impersonate Bob to Alice after the step either.
    forged = stolen.encrypt(b"from eve")
    with pytest.raises(SessionError):
        alice.decrypt(forged)


def test_message_keys_are_single_use_even_for_the_holder() -> None:
    alice, bob = handshake(22).alice, handshake(22).bob_ratchet
    message = alice.encrypt(b"once")
    bob.decrypt(message)
    assert bob.skipped_count == 0
    with pytest.raises(SessionError):
        bob.decrypt(message)
