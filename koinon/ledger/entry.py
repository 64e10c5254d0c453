"""What one log leaf holds: enough to prove who published which event id, even after erasure."""

from __future__ import annotations

from dataclasses import dataclass

from koinon.core import schnorr
from koinon.core.event import Event
from koinon.errors import invalid

VERSION = 0
LEAF_SIZE = 1 + 32 + 32 + 64


@dataclass(frozen=True, slots=True)
class LogEntry:
    """Leaf data: version 0 || event id || author pubkey || author signature (129 bytes).

    The event's content is not in the leaf: the id commits to it, and the signature over the id
    proves the author, so an erased event still shows who published that id and where in the log.
    """

    event_id: str
    pubkey: str
    sig: str

    @classmethod
    def of(cls, event: Event) -> LogEntry:
        """The entry that logs `event`."""
        return cls(event.id, event.pubkey, event.sig)

    def encode(self) -> bytes:
        """The leaf bytes that are hashed into the tree."""
        return (
            bytes([VERSION])
            + bytes.fromhex(self.event_id)
            + bytes.fromhex(self.pubkey)
            + bytes.fromhex(self.sig)
        )

    @classmethod
    def decode(cls, leaf: bytes) -> LogEntry:
        """Parse leaf bytes."""
        if len(leaf) != LEAF_SIZE or leaf[0] != VERSION:
            raise invalid("not a version-0 Koinon log leaf")
        return cls(leaf[1:33].hex(), leaf[33:65].hex(), leaf[65:].hex())

    def author_signed(self) -> bool:
        """True when the signature in the leaf is the author's signature of the event id."""
        return schnorr.verify(
            bytes.fromhex(self.pubkey), bytes.fromhex(self.event_id), bytes.fromhex(self.sig)
        )
