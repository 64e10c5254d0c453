"""NIP-01 frames: decoding what clients send and encoding what the relay sends.

Relay frames are built as bytes so that stored event JSON is sent without being parsed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from koinon.core.event import Event, parse_event
from koinon.core.filters import Filter, parse_filter
from koinon.errors import Rejected, invalid


@dataclass(frozen=True, slots=True)
class EventFrame:
    """["EVENT", event]"""

    event: Event


@dataclass(frozen=True, slots=True)
class ReqFrame:
    """["REQ", subscription id, filter, ...]"""

    sub_id: str
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class CountFrame:
    """["COUNT", subscription id, filter, ...] (NIP-45)"""

    sub_id: str
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class CloseFrame:
    """["CLOSE", subscription id]"""

    sub_id: str


@dataclass(frozen=True, slots=True)
class AuthFrame:
    """["AUTH", signed kind-22242 event] (NIP-42)"""

    event: Event


ClientFrame = EventFrame | ReqFrame | CountFrame | CloseFrame | AuthFrame


class FrameError(Rejected):
    """A frame that could not be decoded, with what is needed to answer it properly."""

    def __init__(
        self, rejected: Rejected, *, event_id: str | None = None, sub_id: str | None = None
    ) -> None:
        super().__init__(rejected.reason, rejected.message)
        self.event_id = event_id
        self.sub_id = sub_id


@dataclass(frozen=True)
class FrameLimits:
    """Limits the decoder enforces."""

    max_subid_length: int = 64
    max_filters: int = 10
    max_filter_values: int = 1000


def _sub_id(value: object, limits: FrameLimits) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limits.max_subid_length:
        raise invalid(
            f"subscription id must be a string of 1 to {limits.max_subid_length} characters"
        )
    return value


def _filters(items: list[Any], limits: FrameLimits) -> tuple[Filter, ...]:
    if not items:
        raise invalid("at least one filter is required")
    if len(items) > limits.max_filters:
        raise invalid(f"too many filters (max {limits.max_filters})")
    return tuple(parse_filter(item, limits.max_filter_values) for item in items)


def _guess_id(raw: object) -> str | None:
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, str) and len(value) <= 128:
            return value
    return None


def decode(data: str | bytes, limits: FrameLimits) -> ClientFrame:
    """Decode one client frame; raise `FrameError` saying how to answer a bad one."""
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FrameError(invalid("malformed JSON")) from None
    if not isinstance(message, list) or not message or not isinstance(message[0], str):
        raise FrameError(invalid("a message must be a JSON array starting with a string"))
    verb = message[0]
    if verb in ("EVENT", "AUTH"):
        raw = message[1] if len(message) == 2 else None
        try:
            if raw is None:
                raise invalid(f"{verb} takes exactly one event")
            event = parse_event(raw)
        except Rejected as rejected:
            raise FrameError(rejected, event_id=_guess_id(raw)) from None
        return EventFrame(event) if verb == "EVENT" else AuthFrame(event)
    if verb in ("REQ", "COUNT", "CLOSE"):
        try:
            sub_id = _sub_id(message[1] if len(message) > 1 else None, limits)
        except Rejected as rejected:
            raise FrameError(rejected) from None
        try:
            if verb == "CLOSE":
                if len(message) != 2:
                    raise invalid("CLOSE takes exactly one subscription id")
                return CloseFrame(sub_id)
            filters = _filters(message[2:], limits)
        except Rejected as rejected:
            raise FrameError(rejected, sub_id=sub_id) from None
        return ReqFrame(sub_id, filters) if verb == "REQ" else CountFrame(sub_id, filters)
    raise FrameError(invalid(f"unknown message type {verb[:32]!r}"))


def _text(value: str) -> bytes:
    return orjson.dumps(value)


def ok(event_id: str, accepted: bool, message: str = "") -> bytes:
    """["OK", id, accepted, message]"""
    return orjson.dumps(["OK", event_id, accepted, message])


def event(sub_id: str, event_json: bytes) -> bytes:
    """["EVENT", sub id, event] from the event's stored JSON."""
    return b'["EVENT",' + _text(sub_id) + b"," + event_json + b"]"


def eose(sub_id: str) -> bytes:
    """["EOSE", sub id]"""
    return b'["EOSE",' + _text(sub_id) + b"]"


def closed(sub_id: str, message: str) -> bytes:
    """["CLOSED", sub id, message]"""
    return orjson.dumps(["CLOSED", sub_id, message])


def notice(message: str) -> bytes:
    """["NOTICE", message]"""
    return orjson.dumps(["NOTICE", message])


def count(sub_id: str, value: int) -> bytes:
    """["COUNT", sub id, {"count": n}]"""
    return orjson.dumps(["COUNT", sub_id, {"count": value}])


def auth_challenge(challenge: str) -> bytes:
    """["AUTH", challenge]"""
    return orjson.dumps(["AUTH", challenge])
