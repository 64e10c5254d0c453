"""Admission policy: checks on a verified event that depend only on it, the limits and the time."""

from __future__ import annotations

from typing import Protocol

from koinon.core.event import Event
from koinon.core.pow import check_pow
from koinon.errors import invalid


class AdmissionLimits(Protocol):
    """The subset of node limits that admission reads."""

    @property
    def max_content_bytes(self) -> int: ...
    @property
    def max_event_tags(self) -> int: ...
    @property
    def max_future_seconds(self) -> int: ...
    @property
    def min_pow(self) -> int: ...


def admit(event: Event, limits: AdmissionLimits, now: int) -> None:
    """Raise `Rejected` when the node's policy refuses `event` at time `now` (Unix seconds)."""
    if event.created_at > now + limits.max_future_seconds:
        raise invalid(f"created_at is more than {limits.max_future_seconds} seconds in the future")
    if len(event.tags) > limits.max_event_tags:
        raise invalid(f"too many tags (max {limits.max_event_tags})")
    if len(event.content.encode("utf-8", "surrogatepass")) > limits.max_content_bytes:
        raise invalid(f"content larger than {limits.max_content_bytes} bytes")
    check_pow(event, limits.min_pow)
