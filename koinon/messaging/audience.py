"""Who a franked group message was sent to, as one digest the sender's node can stamp as its
recipient without learning who they are.

The sender draws a fresh audience key per message. Each member person gets a salt (HMAC of their
key under the audience key) and a leaf (a hash of salt and key); the digest hashes the sorted
leaves. Without the audience key a leaf hides its member, and a fresh key per message makes the
digests of one group's messages unlinkable. Members receive the key and the member list inside the
encryption; one member proves to a moderator that the message was addressed to them by revealing
only their own salt and the other leaves (`AudienceProof`), which tells the moderator how many
people were addressed but not who. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from koinon.core.event import is_hex
from koinon.core.keys import RandomBytes
from koinon.errors import invalid
from koinon.messaging.primitives import HASH_LEN, hmac_sha256
from koinon.sessions.group_wire import MAX_MEMBERS

AUDIENCE_KEY_LEN = 32
MAX_AUDIENCE = MAX_MEMBERS
"""A group has at most this many member devices, so at most this many people."""

_SALT_LABEL = b"koinon/franking/audience-salt/v1"
_LEAF_LABEL = b"koinon/franking/audience-leaf/v1"
_DIGEST_LABEL = b"koinon/franking/audience/v1"


def _leaf(salt: bytes, pubkey: str) -> bytes:
    return hashlib.sha256(_LEAF_LABEL + salt + bytes.fromhex(pubkey)).digest()


def _digest(leaves: Iterable[bytes]) -> str:
    ordered = sorted(leaves)
    data = _DIGEST_LABEL + struct.pack(">I", len(ordered)) + b"".join(ordered)
    return hashlib.sha256(data).hexdigest()


def _check(value: object, length: int, what: str, count: int, most: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise invalid(f"{what} is {length} bytes")
    if count > most:
        raise invalid(f"an audience has at most {MAX_AUDIENCE} people")


def _chunks(data: bytes, what: str) -> tuple[bytes, ...]:
    if len(data) % HASH_LEN or len(data) > MAX_AUDIENCE * HASH_LEN:
        raise invalid(f"{what} must be at most {MAX_AUDIENCE} values of {HASH_LEN} bytes")
    return tuple(data[i : i + HASH_LEN] for i in range(0, len(data), HASH_LEN))


@dataclass(frozen=True, slots=True)
class AudienceProof:
    """One member's evidence that a digest includes them: their salt and everyone else's leaf."""

    salt: bytes
    others: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check(self.salt, HASH_LEN, "an audience salt", len(self.others), MAX_AUDIENCE - 1)
        if any(not isinstance(leaf, bytes) or len(leaf) != HASH_LEN for leaf in self.others):
            raise invalid(f"an audience leaf is {HASH_LEN} bytes")

    @property
    def size(self) -> int:
        """How many people the message was addressed to."""
        return len(self.others) + 1

    def digest_for(self, pubkey: str) -> str:
        """The audience digest this proof gives when `pubkey` is the member proving."""
        if not is_hex(pubkey, 64):
            raise invalid("an audience member is a 64-character lowercase hex public key")
        return _digest((*self.others, _leaf(self.salt, pubkey)))

    def encode(self) -> bytes:
        """The salt, then the other leaves in order."""
        return self.salt + b"".join(self.others)

    @classmethod
    def decode(cls, data: bytes) -> AudienceProof:
        """Parse `encode` output; anything else raises `Rejected(INVALID)`."""
        if len(data) < HASH_LEN:
            raise invalid("an audience proof starts with a 32-byte salt")
        return cls(data[:HASH_LEN], _chunks(data[HASH_LEN:], "an audience proof's leaves"))


@dataclass(frozen=True, slots=True)
class Audience:
    """The people a group message was sent to (sorted keys) and the message's audience key."""

    key: bytes
    members: tuple[str, ...]

    def __post_init__(self) -> None:
        _check(self.key, AUDIENCE_KEY_LEN, "an audience key", len(self.members), MAX_AUDIENCE)
        if not all(is_hex(member, 64) for member in self.members):
            raise invalid("an audience member is a 64-character lowercase hex public key")
        if list(self.members) != sorted(set(self.members)):
            raise invalid("audience members are sorted and appear once each")

    def _salt(self, pubkey: str) -> bytes:
        return hmac_sha256(self.key, _SALT_LABEL + bytes.fromhex(pubkey))

    def digest(self) -> str:
        """What the node stamps as the message's recipient (64 hex characters)."""
        return _digest(_leaf(self._salt(member), member) for member in self.members)

    def proof(self, pubkey: str) -> AudienceProof:
        """The proof that `pubkey`, a member, was addressed; revealing it names no one else."""
        if pubkey not in self.members:
            raise invalid("not a member of this audience")
        others = sorted(_leaf(self._salt(m), m) for m in self.members if m != pubkey)
        return AudienceProof(self._salt(pubkey), tuple(others))

    def encode(self) -> bytes:
        """The key, then each member's 32-byte key in order."""
        return self.key + b"".join(bytes.fromhex(member) for member in self.members)

    @classmethod
    def decode(cls, data: bytes) -> Audience:
        """Parse `encode` output; anything else raises `Rejected(INVALID)`."""
        if len(data) < AUDIENCE_KEY_LEN:
            raise invalid("an audience starts with a 32-byte key")
        members = _chunks(data[AUDIENCE_KEY_LEN:], "an audience's members")
        return cls(data[:AUDIENCE_KEY_LEN], tuple(member.hex() for member in members))


def make_audience(members: Iterable[str], random_bytes: RandomBytes) -> Audience:
    """A fresh audience of these people, for one message."""
    return Audience(random_bytes(AUDIENCE_KEY_LEN), tuple(sorted(set(members))))


__all__ = ["AUDIENCE_KEY_LEN", "MAX_AUDIENCE", "Audience", "AudienceProof", "make_audience"]
