"""Test helpers: two users with seeded randomness, a handshake between them, a connected pair."""

from __future__ import annotations

import random
from dataclasses import dataclass

from koinon.sessions import (
    IdentityKeys,
    InitialMessageHeader,
    KeyPair,
    OneTimePrekeys,
    PrekeyBundle,
    Random,
    Ratchet,
    initiate,
    respond,
)

SIGNED_PREKEY_ID = 7


def seeded(seed: int) -> Random:
    """Deterministic randomness for tests and known answers."""
    return random.Random(seed).randbytes


@dataclass
class Responder:
    """Bob's long-term and prekey material, as his device would keep it."""

    identity: IdentityKeys
    signed_prekey: KeyPair
    one_time_prekeys: OneTimePrekeys
    bundle: PrekeyBundle


def make_responder(rand: Random, one_time_count: int = 3) -> Responder:
    """A responder with a fresh identity, signed prekey 7 and one-time prekeys 1.."""
    identity = IdentityKeys.generate(rand(32), rand)
    signed_prekey = KeyPair.generate(rand)
    one_time = OneTimePrekeys.generate(1, one_time_count, rand)
    bundle = PrekeyBundle.create(identity, SIGNED_PREKEY_ID, signed_prekey, one_time, rand)
    return Responder(identity, signed_prekey, one_time, bundle)


@dataclass
class Handshake:
    """Both ends of one X3DH run, before any ratchet message."""

    alice_identity: IdentityKeys
    bob: Responder
    header: InitialMessageHeader
    alice: Ratchet
    bob_ratchet: Ratchet
    shared_secret: bytes
    remaining: OneTimePrekeys


def handshake(seed: int = 1, use_one_time_prekey: bool = True) -> Handshake:
    """Alice initiates to Bob's bundle (via its JSON) and Bob responds, all from `seed`."""
    alice_rand, bob_rand = seeded(seed), seeded(seed + 10_000)
    bob = make_responder(bob_rand)
    alice_identity = IdentityKeys.generate(alice_rand(32), alice_rand)
    bundle = PrekeyBundle.from_json(bob.bundle.to_json())
    secret, ad, header = initiate(alice_identity, bundle, alice_rand, use_one_time_prekey)
    wire_header = InitialMessageHeader.from_bytes(header.to_bytes())
    bob_secret, bob_ad, remaining = respond(
        bob.identity, {SIGNED_PREKEY_ID: bob.signed_prekey}, bob.one_time_prekeys, wire_header
    )
    assert (bob_secret, bob_ad) == (secret, ad)
    alice = Ratchet.initiator(secret, ad, bundle.signed_prekey, alice_rand)
    bob_ratchet = Ratchet.responder(bob_secret, bob_ad, bob.signed_prekey, bob_rand)
    return Handshake(alice_identity, bob, header, alice, bob_ratchet, secret, remaining)


def connected_pair(seed: int = 1) -> tuple[Ratchet, Ratchet]:
    """Alice and Bob after Alice's first message has reached Bob, so either may send."""
    run = handshake(seed)
    assert run.bob_ratchet.decrypt(run.alice.encrypt(b"hello bob")) == b"hello bob"
    return run.alice, run.bob_ratchet
