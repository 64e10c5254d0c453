"""Bond holdings: what StakeBonds really held, at one block, for the bonds an epoch declares.

A kind-3964 declaration states an amount; only the chain knows what was bonded. A node with a
chain reads `bond_of` for every declaration the epoch settles at one block it names, and a bond
counts for min(declared, held): a declaration with nothing behind it counts nothing. The block
and a digest of the reading go into the kind-3963 record, the reading itself is kept beside the
epoch's inputs, and a verifier re-reads the same block to check it (`docs/decisions.md`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from koinon.core.event import is_hex
from koinon.errors import invalid
from koinon.rewards.model import Bond

Holding = tuple[str, str, int]  # bonded event id, owner's x-only key (hex), KOIN held


@dataclass(frozen=True)
class BondHoldings:
    """KOIN each (event id, owner) held in StakeBonds at `block`, sorted by event id and owner."""

    block: int
    held: tuple[Holding, ...]

    def __post_init__(self) -> None:
        if isinstance(self.block, bool) or not isinstance(self.block, int) or self.block < 0:
            raise invalid("the holdings block must be a non-negative integer")
        keys = [(event_id, owner) for event_id, owner, _ in self.held]
        if keys != sorted(set(keys)):
            raise invalid("bond holdings must be sorted and name each bond once")
        for event_id, owner, amount in self.held:
            if not (is_hex(event_id, 64) and is_hex(owner, 64)):
                raise invalid("a bond holding names a malformed event id or owner")
            if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 2**256:
                raise invalid("a bond holding's amount must be an integer in 0 … 2**256 - 1")

    @classmethod
    def of(cls, block: int, held: Iterable[Holding]) -> BondHoldings:
        """Holdings at `block` from readings in any order."""
        return cls(block, tuple(sorted(held)))

    def bonds(self) -> list[tuple[str, str]]:
        """The (event id, owner) of every bond read."""
        return [(event_id, owner) for event_id, owner, _ in self.held]

    def to_json(self) -> dict[str, Any]:
        """The JSON form the node keeps and serves (amounts as decimal strings)."""
        return {"block": self.block, "held": [[e, o, str(a)] for e, o, a in self.held]}

    def digest(self) -> str:
        """Hex SHA-256 of the canonical JSON form: what the settlement record signs."""
        return hashlib.sha256(orjson.dumps(self.to_json())).hexdigest()

    @classmethod
    def parse(cls, raw: object) -> BondHoldings:
        """Read the JSON form; raises `Rejected` (invalid) when it is malformed."""
        if not isinstance(raw, dict) or not isinstance(raw.get("held"), list):
            raise invalid("bond holdings must be an object with a block and a list of holdings")
        held: list[Holding] = []
        for item in raw["held"]:
            if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], str)):
                raise invalid("a bond holding is [event id, owner, amount]")
            event_id, owner, amount = item
            if not (amount.isascii() and amount.isdigit()) or len(amount) > 78:
                raise invalid("a bond holding's amount must be a decimal integer")
            held.append((str(event_id), str(owner), int(amount)))
        block = raw.get("block")
        if not isinstance(block, int):
            raise invalid("the holdings block must be a non-negative integer")
        return cls(block, tuple(held))


def cap_bonds(bonds: Iterable[Bond], holdings: BondHoldings) -> tuple[Bond, ...]:
    """Each declared bond at most what the chain held for it; one with nothing held is dropped."""
    held = {(event_id, owner): amount for event_id, owner, amount in holdings.held}
    capped = (
        Bond(bond.event_id, bond.owner, min(bond.amount, held.get((bond.event_id, bond.owner), 0)))
        for bond in bonds
    )
    return tuple(bond for bond in capped if bond.amount > 0)
