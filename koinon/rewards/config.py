"""The rewards constitution: when epochs run, how much each pays, whose trust and labels count.

Every node that settles or verifies an epoch must use the same values, so a node publishes them
(`GET /rewards/config`) and repeats them in each settlement record.
"""

from __future__ import annotations

from dataclasses import dataclass

from koinon.core.event import is_hex
from koinon.errors import invalid
from koinon.rewards.model import TOKEN

# 2026-01-01T00:00:00Z: epoch 0 starts here unless a network chooses otherwise.
DEFAULT_GENESIS = 1_767_225_600
DAY = 86_400


@dataclass(frozen=True, slots=True)
class RewardsConfig:
    """The parameters that decide which events an epoch settles and what it pays."""

    genesis: int = DEFAULT_GENESIS
    epoch_seconds: int = DAY
    pool_per_epoch: int = 10_000 * TOKEN
    trust_seeds: tuple[str, ...] = ()
    note_labelers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.genesis < 0 or self.epoch_seconds <= 0:
            raise invalid("epochs need a non-negative genesis and a positive length")
        if self.pool_per_epoch < 0:
            raise invalid("the pool per epoch cannot be negative")
        object.__setattr__(self, "trust_seeds", tuple(sorted(set(self.trust_seeds))))
        object.__setattr__(self, "note_labelers", tuple(sorted(set(self.note_labelers))))

    def window(self, epoch: int) -> tuple[int, int]:
        """The half-open interval [start, end) of unix seconds that epoch `epoch` covers."""
        if epoch < 0:
            raise invalid("epoch numbers start at 0")
        start = self.genesis + epoch * self.epoch_seconds
        return start, start + self.epoch_seconds

    def epoch_at(self, when: int) -> int:
        """The epoch that unix time `when` falls in (-1 before genesis)."""
        if when < self.genesis:
            return -1
        return (when - self.genesis) // self.epoch_seconds

    def to_dict(self) -> dict[str, object]:
        """The JSON form served to verifiers."""
        return {
            "genesis": self.genesis,
            "epoch_seconds": self.epoch_seconds,
            "pool_per_epoch": str(self.pool_per_epoch),
            "trust_seeds": list(self.trust_seeds),
            "note_labelers": list(self.note_labelers),
        }

    @classmethod
    def from_dict(cls, raw: object) -> RewardsConfig:
        """Parse the JSON form; raises `Rejected` (invalid) on anything malformed."""
        if not isinstance(raw, dict):
            raise invalid("rewards config must be an object")
        try:
            pool = raw["pool_per_epoch"]
            seeds, labelers = raw["trust_seeds"], raw["note_labelers"]
            genesis, seconds = raw["genesis"], raw["epoch_seconds"]
        except KeyError as exc:
            raise invalid(f"rewards config lacks {exc.args[0]}") from None
        if not (isinstance(pool, str) and pool.isascii() and pool.isdigit()):
            raise invalid("pool_per_epoch must be a decimal string")
        if type(genesis) is not int or type(seconds) is not int:
            raise invalid("genesis and epoch_seconds must be integers")
        for name, values in (("trust_seeds", seeds), ("note_labelers", labelers)):
            if not isinstance(values, list) or not all(is_hex(v, 64) for v in values):
                raise invalid(f"{name} must be a list of hex public keys")
        return cls(genesis, seconds, int(pool), tuple(seeds), tuple(labelers))
