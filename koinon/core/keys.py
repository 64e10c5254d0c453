"""User keys: secp256k1 secret keys, x-only public keys and their NIP-19 forms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from koinon.core import bech32, schnorr
from koinon.core.event import is_hex
from koinon.errors import invalid

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True, slots=True, repr=False)
class SecretKey:
    """A 32-byte secp256k1 secret key. Its repr never shows the key."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32 or not 0 < int.from_bytes(self.raw, "big") < schnorr.N:
            raise invalid("secret key out of range")

    def __repr__(self) -> str:
        return f"SecretKey(pubkey={self.public_key})"

    @classmethod
    def generate(cls, random_bytes: RandomBytes) -> SecretKey:
        """A fresh key from the given randomness source (e.g. `os.urandom`)."""
        while True:
            candidate = random_bytes(32)
            if 0 < int.from_bytes(candidate, "big") < schnorr.N:
                return cls(candidate)

    @classmethod
    def parse(cls, text: str) -> SecretKey:
        """From `nsec1…` or 64 hex characters."""
        text = text.strip()
        if text.lower().startswith("nsec1"):
            return cls(bytes.fromhex(bech32.decode_entity(text).value))
        if is_hex(text.lower(), 64):
            return cls(bytes.fromhex(text))
        raise invalid("secret key must be nsec1… or 64 hex characters")

    @property
    def public_key(self) -> str:
        """The x-only public key as hex."""
        return schnorr.public_key(self.raw).hex()

    @property
    def nsec(self) -> str:
        """The NIP-19 secret key string."""
        return bech32.encode_simple("nsec", self.raw.hex())

    @property
    def hex(self) -> str:
        """The secret key as hex."""
        return self.raw.hex()


def npub(pubkey_hex: str) -> str:
    """The NIP-19 form of a hex public key."""
    return bech32.encode_simple("npub", pubkey_hex)


def parse_public_key(text: str) -> str:
    """A hex public key from `npub1…`, `nprofile1…` or 64 hex characters."""
    text = text.strip()
    if text.lower().startswith(("npub1", "nprofile1")):
        return bech32.decode_entity(text).value
    if is_hex(text.lower(), 64):
        return text.lower()
    raise invalid("public key must be npub1… or 64 hex characters")


def parse_event_id(text: str) -> str:
    """A hex event id from `note1…`, `nevent1…` or 64 hex characters."""
    text = text.strip().removeprefix("nostr:")
    if text.lower().startswith(("note1", "nevent1")):
        return bech32.decode_entity(text).value
    if is_hex(text.lower(), 64):
        return text.lower()
    raise invalid("event id must be note1…, nevent1… or 64 hex characters")
