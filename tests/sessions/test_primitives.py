"""X25519 and KDF building blocks, checked against `cryptography` as the oracle."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from koinon.sessions import KeyPair, SessionError
from koinon.sessions.primitives import dh, hkdf, hmac_sha256, kdf_ck, message_nonce

from .pairing import seeded


@given(
    ikm=st.binary(max_size=100),
    salt=st.binary(max_size=64),
    info=st.binary(max_size=64),
    length=st.integers(1, 200),
)
def test_hkdf_matches_cryptography(ikm: bytes, salt: bytes, info: bytes, length: int) -> None:
    expected = HKDF(hashes.SHA256(), length, salt or None, info).derive(ikm)
    assert hkdf(ikm, salt, info, length) == expected


def test_kdf_ck_uses_signal_constants() -> None:
    chain_key = bytes(range(32))
    next_chain, message_key = kdf_ck(chain_key)
    assert next_chain == hmac.new(chain_key, b"\x02", hashlib.sha256).digest()
    assert message_key == hmac.new(chain_key, b"\x01", hashlib.sha256).digest()


def test_dh_agrees_both_ways() -> None:
    rand = seeded(3)
    a, b = KeyPair.generate(rand), KeyPair.generate(rand)
    assert dh(a, b.public) == dh(b, a.public)


@pytest.mark.parametrize(
    "public",
    [
        bytes(32),
        b"\x01" + bytes(31),
        b"\x00" * 31,
        b"\x00" * 33,
        b"\x09" + bytes(30) + b"\x80",
        b"\xed" + b"\xff" * 30 + b"\x7f",
    ],
    ids=["zero", "order-1", "short", "long", "bit-255", "p"],
)
def test_dh_rejects_bad_public_keys(public: bytes) -> None:
    with pytest.raises(SessionError):
        dh(KeyPair.generate(seeded(4)), public)


def test_secret_must_be_32_bytes() -> None:
    with pytest.raises(SessionError):
        KeyPair.from_secret(b"short")


@given(key=st.binary(max_size=130), message=st.binary(max_size=200))
def test_hmac_matches_the_standard_library(key: bytes, message: bytes) -> None:
    assert hmac_sha256(key, message) == hmac.new(key, message, hashlib.sha256).digest()


def test_message_nonce_is_a_hash_of_the_message_key() -> None:
    message_key = bytes(range(32))
    expected = hashlib.sha256(b"koinon/ratchet/v1/nonce" + message_key).digest()[:12]
    assert message_nonce(message_key) == expected
