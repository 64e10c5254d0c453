"""X3DH: agreement, prekey consumption and rotation, identity binding, strict headers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koinon.sessions import (
    HandshakeError,
    IdentityKeys,
    InitialMessageHeader,
    KeyPair,
    PrekeyBundle,
    PrekeyError,
    SessionError,
    initiate,
    respond,
)

from .pairing import SIGNED_PREKEY_ID, handshake, make_responder, seeded


def test_both_sides_agree_and_first_message_decrypts() -> None:
    run = handshake(2)
    assert run.header.one_time_prekey_id == 1
    assert len(run.remaining) == 2
    assert run.bob_ratchet.decrypt(run.alice.encrypt(b"hi")) == b"hi"
    ad = run.bob_ratchet.associated_data
    assert ad[:32] == run.alice_identity.nostr_public
    assert ad[64:96] == run.bob.identity.nostr_public and len(ad) == 128


def test_handshake_without_one_time_prekey() -> None:
    run = handshake(3, use_one_time_prekey=False)
    assert run.header.one_time_prekey_id is None
    assert len(run.remaining) == 3
    assert run.bob_ratchet.decrypt(run.alice.encrypt(b"hi")) == b"hi"


def test_one_time_prekey_reuse_rejected() -> None:
    run = handshake(4)
    signed = {SIGNED_PREKEY_ID: run.bob.signed_prekey}
    with pytest.raises(PrekeyError, match="already used"):
        respond(run.bob.identity, signed, run.remaining, run.header)


def test_unknown_or_expired_signed_prekey_rejected() -> None:
    run = handshake(5)
    with pytest.raises(PrekeyError, match="signed prekey"):
        respond(run.bob.identity, {}, run.bob.one_time_prekeys, run.header)


def test_old_signed_prekey_works_during_grace_period() -> None:
    rand = seeded(6)
    bob = make_responder(rand)
    alice = IdentityKeys.generate(rand(32), rand)
    secret, _, header = initiate(alice, bob.bundle, rand)
    rotated = KeyPair.generate(rand)
    signed = {SIGNED_PREKEY_ID: bob.signed_prekey, SIGNED_PREKEY_ID + 1: rotated}
    assert respond(bob.identity, signed, bob.one_time_prekeys, header)[0] == secret
    with pytest.raises(PrekeyError):
        respond(bob.identity, {SIGNED_PREKEY_ID + 1: rotated}, bob.one_time_prekeys, header)


def test_initiate_rejects_bad_signature() -> None:
    rand = seeded(7)
    bob = make_responder(rand)
    forged = dataclasses.replace(bob.bundle, signed_prekey=KeyPair.generate(rand).public)
    with pytest.raises(SessionError, match="signature"):
        initiate(IdentityKeys.generate(rand(32), rand), forged, rand)


def test_bundle_signed_by_another_identity_rejected() -> None:
    rand = seeded(8)
    bob, mallory = make_responder(rand), make_responder(rand)
    claimed = dataclasses.replace(mallory.bundle, identity=bob.bundle.identity)
    with pytest.raises(SessionError):
        PrekeyBundle.from_json(claimed.to_json())


def test_initiator_identity_key_must_be_signed_by_its_nostr_key() -> None:
    run = handshake(9)
    mallory = IdentityKeys.generate(seeded(99)(32), seeded(98))
    forged = dataclasses.replace(run.header, initiator_dh=mallory.dh.public)
    signed = {SIGNED_PREKEY_ID: run.bob.signed_prekey}
    with pytest.raises(HandshakeError, match="not signed"):
        respond(run.bob.identity, signed, run.bob.one_time_prekeys, forged)


def test_header_round_trip_and_size() -> None:
    header = handshake(10).header
    wire = header.to_bytes()
    assert len(wire) == InitialMessageHeader.SIZE == 170
    assert InitialMessageHeader.from_bytes(wire) == header


@given(st.binary(max_size=200))
def test_junk_headers_raise_session_errors_only(junk: bytes) -> None:
    run = _RUN
    signed = {SIGNED_PREKEY_ID: run.bob.signed_prekey}
    try:
        header = InitialMessageHeader.from_bytes(junk)
        respond(run.bob.identity, signed, run.bob.one_time_prekeys, header)
    except SessionError:
        pass


@given(st.integers(0, 169), st.integers(1, 255))
def test_corrupted_header_bytes_never_agree_silently(position: int, flip: int) -> None:
    run = _RUN
    wire = bytearray(run.header.to_bytes())
    wire[position] ^= flip
    signed = {SIGNED_PREKEY_ID: run.bob.signed_prekey}
    try:
        header = InitialMessageHeader.from_bytes(bytes(wire))
        secret, _, _ = respond(run.bob.identity, signed, run.bob.one_time_prekeys, header)
    except SessionError:
        return
    assert secret != run.shared_secret


_RUN = handshake(11)
