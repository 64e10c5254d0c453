"""Payout addresses: the Ethereum account that a Nostr key controls.

A Nostr public key is x-only (BIP-340): it names the point with that x and an even y. The
payout address of a user is the Ethereum address of that point, so anyone can compute it from an
npub, and the user's nsec controls it: the matching Ethereum secret is d when d·G has an even y,
else n − d (the secret of the negated point, which is the even one).
"""

from __future__ import annotations

from coincurve import PrivateKey, PublicKey
from eth_hash.backends.pysha3 import keccak256 as keccak  # the fast backend, as in tree.py

from koinon.errors import invalid

# secp256k1 group order
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_EVEN = b"\x02"


def payout_address(pubkey: bytes) -> bytes:
    """The 20-byte Ethereum address of x-only public key `pubkey` (lifted with an even y)."""
    if len(pubkey) != 32:
        raise invalid("an x-only public key is 32 bytes")
    try:
        point = PublicKey(_EVEN + pubkey)
    except ValueError as exc:
        raise invalid("not a valid x-only public key") from exc
    return keccak(point.format(compressed=False)[1:])[12:]


def ethereum_secret(secret: bytes) -> bytes:
    """The Ethereum secret key that controls `payout_address` of the Nostr key `secret`."""
    if len(secret) != 32 or not 0 < int.from_bytes(secret, "big") < N:
        raise invalid("secret key out of range")
    if PrivateKey(secret).public_key.format(compressed=True)[:1] == _EVEN:
        return secret
    return (N - int.from_bytes(secret, "big")).to_bytes(32, "big")


def checksum_address(address: bytes) -> str:
    """The EIP-55 mixed-case hex form ("0xAbC…") of a 20-byte address."""
    if len(address) != 20:
        raise invalid("an Ethereum address is 20 bytes")
    digits = address.hex()
    nibbles = keccak(digits.encode("ascii")).hex()[:40]
    return "0x" + "".join(
        digit.upper() if int(nibble, 16) >= 8 else digit
        for digit, nibble in zip(digits, nibbles, strict=True)
    )
