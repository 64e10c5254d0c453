"""The one exception tree of Koinon, with NIP-01 machine-readable reasons."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Machine-readable prefixes of NIP-01 `OK`/`CLOSED` messages (and NIP-42's auth-required)."""

    INVALID = "invalid"
    DUPLICATE = "duplicate"
    POW = "pow"
    BLOCKED = "blocked"
    RATE_LIMITED = "rate-limited"
    RESTRICTED = "restricted"
    AUTH_REQUIRED = "auth-required"
    ERROR = "error"


class KoinonError(Exception):
    """Base of every error Koinon raises on purpose."""


class Rejected(KoinonError):
    """Input refused for a stated reason; `str()` is the wire form `reason: message`."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message

    @property
    def wire(self) -> str:
        """The text that goes into an `OK`, `CLOSED` or `NOTICE` frame."""
        return f"{self.reason.value}: {self.message}"


def invalid(message: str) -> Rejected:
    """Shorthand for the most common rejection: the peer sent something malformed."""
    return Rejected(Reason.INVALID, message)
