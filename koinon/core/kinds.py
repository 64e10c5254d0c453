"""NIP-01 kind ranges and what a relay does with each."""

from __future__ import annotations

from enum import Enum

METADATA = 0
TEXT_NOTE = 1
CONTACTS = 3
DELETION = 5
REPOST = 6
REACTION = 7
GENERIC_REPOST = 16
SEAL = 13
GIFT_WRAP = 1059
REPORT = 1984
LABEL = 1985
CLIENT_AUTH = 22242
LONG_FORM = 30023

MAX_KIND = 65535


class KindClass(Enum):
    """How the store keeps events of a kind (NIP-01 "Kinds")."""

    REGULAR = "regular"
    REPLACEABLE = "replaceable"
    EPHEMERAL = "ephemeral"
    ADDRESSABLE = "addressable"


def classify(kind: int) -> KindClass:
    """The storage class of `kind` by the NIP-01 ranges."""
    if kind in (METADATA, CONTACTS) or 10000 <= kind < 20000:
        return KindClass.REPLACEABLE
    if 20000 <= kind < 30000:
        return KindClass.EPHEMERAL
    if 30000 <= kind < 40000:
        return KindClass.ADDRESSABLE
    return KindClass.REGULAR


def is_ephemeral(kind: int) -> bool:
    """Whether events of `kind` are passed on without being stored (a faster `classify` test)."""
    return 20000 <= kind < 30000
