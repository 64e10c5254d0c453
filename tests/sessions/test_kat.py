"""The known-answer file freezes the wire format; regenerating it must give identical bytes."""

from __future__ import annotations

import json

import pytest

from koinon.sessions import (
    InitialMessageHeader,
    PrekeyBundle,
    Ratchet,
    ReplayError,
    respond,
)
from koinon.sessions.ratchet import HEADER

from .make_kat import KAT_PATH, render
from .pairing import SIGNED_PREKEY_ID, make_responder, seeded

KAT = json.loads(KAT_PATH.read_text())


def test_regenerating_gives_byte_identical_output() -> None:
    assert render() == KAT_PATH.read_text()


def test_bundle_and_header_parse_and_re_serialize() -> None:
    bundle = PrekeyBundle.from_json(KAT["bob_bundle_json"])
    assert bundle.to_json() == KAT["bob_bundle_json"]
    header = InitialMessageHeader.from_bytes(bytes.fromhex(KAT["initial_header"]))
    assert header.to_bytes().hex() == KAT["initial_header"]
    assert header.initiator.hex() == KAT["alice_nostr_public"]
    assert header.one_time_prekey_id == bundle.one_time_prekeys[0][0]


def test_bob_decrypts_the_recorded_messages_from_his_keys_alone() -> None:
    bob = make_responder(seeded(KAT["seeds"]["bob"]))
    header = InitialMessageHeader.from_bytes(bytes.fromhex(KAT["initial_header"]))
    signed = {SIGNED_PREKEY_ID: bob.signed_prekey}
    secret, ad, _ = respond(bob.identity, signed, bob.one_time_prekeys, header)
    assert (secret.hex(), ad.hex()) == (KAT["shared_secret"], KAT["associated_data"])
    ratchet = Ratchet.responder(secret, ad, bob.signed_prekey, seeded(1))
    for entry in reversed(KAT["alice_to_bob"]):  # out of order on purpose
        assert ratchet.decrypt(bytes.fromhex(entry["message"])).decode() == entry["plaintext"]
    with pytest.raises(ReplayError):
        ratchet.decrypt(bytes.fromhex(KAT["alice_to_bob"][0]["message"]))


def test_message_layout() -> None:
    first = bytes.fromhex(KAT["alice_to_bob"][0]["message"])
    version, _, pn, n = HEADER.unpack(first[: HEADER.size])
    assert (version, pn, n) == (1, 0, 0)
    assert len(first) == HEADER.size + len(KAT["alice_to_bob"][0]["plaintext"]) + 16
    reply = bytes.fromhex(KAT["bob_to_alice"][2]["message"])
    assert HEADER.unpack(reply[: HEADER.size])[2:] == (0, 2)
