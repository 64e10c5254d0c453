"""NIP-13 proof of work: difficulty of an id and the committed target of a nonce tag."""

from __future__ import annotations

from koinon.core.event import Event
from koinon.errors import Reason, Rejected


def difficulty(event_id: str) -> int:
    """Number of leading zero bits of a hex event id."""
    value = int(event_id, 16)
    return len(event_id) * 4 - value.bit_length()


def committed_target(event: Event) -> int | None:
    """The target difficulty the author committed to in the nonce tag, if any."""
    for tag in event.tags:
        if len(tag) >= 3 and tag[0] == "nonce":
            try:
                return int(tag[2])
            except ValueError:
                return None
    return None


def check_pow(event: Event, minimum: int) -> None:
    """Raise `Rejected(pow)` unless the event carries at least `minimum` bits of work."""
    if minimum <= 0:
        return
    bits = difficulty(event.id)
    if bits < minimum:
        raise Rejected(Reason.POW, f"difficulty {bits} is less than {minimum}")
    target = committed_target(event)
    if target is not None and target < minimum:
        raise Rejected(Reason.POW, f"committed target {target} is less than {minimum}")
