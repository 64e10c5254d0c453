"""koinon.rewards.accounts: a Nostr key's payout address, and the nsec that controls it."""

from __future__ import annotations

import pytest
from coincurve import PrivateKey
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from koinon.core.schnorr import N, public_key
from koinon.errors import Rejected
from koinon.rewards.accounts import checksum_address, ethereum_secret, payout_address

secrets = st.integers(min_value=1, max_value=N - 1).map(lambda d: d.to_bytes(32, "big"))


def odd_y(secret: bytes) -> bool:
    return PrivateKey(secret).public_key.format()[0] == 3


@given(secrets)
def test_the_nsec_controls_the_npub_payout_address(secret: bytes) -> None:
    # eth_account is the independent side: the address Ethereum itself derives from the secret.
    eth_secret = ethereum_secret(secret)
    address = payout_address(public_key(secret))

    assert Account.from_key(eth_secret).address == checksum_address(address)
    assert public_key(eth_secret) == public_key(secret)  # the same x-only Nostr key
    assert eth_secret == secret or int.from_bytes(eth_secret, "big") == N - int.from_bytes(
        secret, "big"
    )


def test_both_parities_are_covered() -> None:
    keys = [d.to_bytes(32, "big") for d in range(1, 40)]
    even = [k for k in keys if not odd_y(k)]
    odd = [k for k in keys if odd_y(k)]
    assert even and odd

    for secret in even:
        assert ethereum_secret(secret) == secret
    for secret in odd:
        negated = ethereum_secret(secret)
        assert int.from_bytes(negated, "big") == N - int.from_bytes(secret, "big")
        # The secret as is controls the odd point, whose address is not the payout address.
        assert Account.from_key(secret).address != checksum_address(
            payout_address(public_key(secret))
        )
        assert Account.from_key(negated).address == checksum_address(
            payout_address(public_key(secret))
        )


def test_known_address_of_the_generator() -> None:
    # Secret key 1: its point is G, whose y is even; its Ethereum address is well known.
    pubkey = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    assert checksum_address(payout_address(pubkey)) == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"


@pytest.mark.parametrize(
    "address",
    [
        # The examples of EIP-55.
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0xde709f2102306220921060314715629080e2fb77",
    ],
)
def test_eip55_examples(address: str) -> None:
    assert checksum_address(bytes.fromhex(address[2:])) == address


@pytest.mark.parametrize(
    "pubkey",
    [
        bytes(31),
        bytes(33),
        # x = 5 is not on the curve (5³ + 7 is not a square mod p).
        (5).to_bytes(32, "big"),
        bytes.fromhex("ff" * 32),
    ],
    ids=["short", "long", "not on the curve", "past the field"],
)
def test_invalid_public_keys(pubkey: bytes) -> None:
    with pytest.raises(Rejected):
        payout_address(pubkey)


@pytest.mark.parametrize(
    "secret",
    [bytes(32), N.to_bytes(32, "big"), b"\x01" * 31],
    ids=["zero", "order", "short"],
)
def test_invalid_secrets(secret: bytes) -> None:
    with pytest.raises(Rejected):
        ethereum_secret(secret)


def test_short_address_is_rejected() -> None:
    with pytest.raises(Rejected):
        checksum_address(bytes(19))
