"""Nostr events (NIP-01): the canonical serialization, the id, parsing, signing and verification."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from koinon.core import schnorr
from koinon.errors import Rejected, invalid

Tags = tuple[tuple[str, ...], ...]

_LOWER_HEX = re.compile("[0-9a-f]*").fullmatch
MAX_TIMESTAMP = 2**53 - 1
BAD_SIGNATURE_MESSAGE = "bad signature"


def is_hex(value: object, length: int) -> bool:
    """True for a lowercase hex string of exactly `length` characters."""
    return isinstance(value, str) and len(value) == length and _LOWER_HEX(value) is not None


def serialize_for_id(
    pubkey: str, created_at: int, kind: int, tags: Iterable[Sequence[str]], content: str
) -> bytes:
    """The UTF-8 bytes of `[0,pubkey,created_at,kind,tags,content]` that NIP-01 hashes.

    orjson escapes exactly what JSON.stringify escapes (quote, backslash, U+0000..U+001F with the
    short forms \\b \\t \\n \\f \\r) and writes everything else (U+2028, emoji) as UTF-8.
    """
    # orjson writes tuples and lists alike; anything else is turned into lists first.
    if not isinstance(tags, tuple | list):
        tags = [list(t) for t in tags]
    try:
        return orjson.dumps([0, pubkey, created_at, kind, tags, content])
    except orjson.JSONEncodeError:
        pass
    try:  # an inner tag of another sequence type, or text that is not valid Unicode
        return orjson.dumps([0, pubkey, created_at, kind, [list(t) for t in tags], content])
    except orjson.JSONEncodeError as exc:
        raise invalid("event text is not valid Unicode") from exc


def compute_id(
    pubkey: str, created_at: int, kind: int, tags: Iterable[Sequence[str]], content: str
) -> str:
    """The hex event id: SHA-256 of the NIP-01 serialization."""
    return hashlib.sha256(serialize_for_id(pubkey, created_at, kind, tags, content)).hexdigest()


@dataclass(frozen=True, slots=True)
class Event:
    """A parsed NIP-01 event. Construct through `parse_event` or `sign_event` only."""

    id: str
    pubkey: str
    created_at: int
    kind: int
    tags: Tags
    content: str
    sig: str

    # The canonical JSON, made on first use: the store writes it and the relay sends it.
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form, keys in NIP-01 order."""
        return {
            "id": self.id,
            "pubkey": self.pubkey,
            "created_at": self.created_at,
            "kind": self.kind,
            "tags": [list(t) for t in self.tags],
            "content": self.content,
            "sig": self.sig,
        }

    def to_json(self) -> bytes:
        """The canonical compact JSON of the event object."""
        cached = self._json
        if cached is None:
            # orjson writes the tag tuples as arrays, so no lists need building.
            cached = orjson.dumps(
                {
                    "id": self.id,
                    "pubkey": self.pubkey,
                    "created_at": self.created_at,
                    "kind": self.kind,
                    "tags": self.tags,
                    "content": self.content,
                    "sig": self.sig,
                }
            )
            # A memo of a pure function of the frozen fields; two threads racing here store
            # the same bytes.
            object.__setattr__(self, "_json", cached)
        return cached

    def tag_values(self, name: str) -> list[str]:
        """Second elements of every tag called `name`, in order."""
        return [t[1] for t in self.tags if len(t) >= 2 and t[0] == name]

    def first_tag(self, name: str) -> str | None:
        """The value of the first tag called `name`, if any."""
        for t in self.tags:
            if len(t) >= 2 and t[0] == name:
                return t[1]
        return None

    @property
    def d_tag(self) -> str:
        """The identifier of an addressable event (empty when absent, as NIP-01 says)."""
        return self.first_tag("d") or ""


def _parse_tags(raw: object) -> Tags:
    if not isinstance(raw, list):
        raise invalid("tags must be an array")
    tags = []
    for tag in raw:
        if not isinstance(tag, list) or not all(isinstance(item, str) for item in tag):
            raise invalid("each tag must be an array of strings")
        tags.append(tuple(tag))
    return tuple(tags)


def _int_field(raw: Mapping[str, object], name: str, maximum: int) -> int:
    value = raw.get(name)
    if type(value) is not int or not 0 <= value <= maximum:
        raise invalid(f"{name} must be an integer between 0 and {maximum}")
    return value


def parse_event(raw: object) -> Event:
    """Check the shape of a decoded event object and return it as an `Event` (not yet verified)."""
    if not isinstance(raw, dict):
        raise invalid("event must be a JSON object")
    for name, length in (("id", 64), ("pubkey", 64), ("sig", 128)):
        if not is_hex(raw.get(name), length):
            raise invalid(f"{name} must be {length} lowercase hex characters")
    content = raw.get("content")
    if not isinstance(content, str):
        raise invalid("content must be a string")
    return Event(
        id=raw["id"],
        pubkey=raw["pubkey"],
        created_at=_int_field(raw, "created_at", MAX_TIMESTAMP),
        kind=_int_field(raw, "kind", 65535),
        tags=_parse_tags(raw.get("tags")),
        content=content,
        sig=raw["sig"],
    )


def check_id(event: Event) -> None:
    """Raise `Rejected(invalid)` unless the id is the hash of the event's content."""
    expected = compute_id(event.pubkey, event.created_at, event.kind, event.tags, event.content)
    if expected != event.id:
        raise invalid("event id does not match its content")


def verify_event(event: Event) -> None:
    """Raise `Rejected(invalid)` unless the id matches the content and the signature is valid."""
    check_id(event)
    if not schnorr.verify(
        bytes.fromhex(event.pubkey), bytes.fromhex(event.id), bytes.fromhex(event.sig)
    ):
        raise invalid(BAD_SIGNATURE_MESSAGE)


def decode_event(data: bytes | str) -> Event:
    """Parse and verify an event from its JSON text."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise invalid("malformed JSON") from exc
    event = parse_event(raw)
    verify_event(event)
    return event


def sign_event(
    secret: bytes,
    *,
    kind: int,
    content: str,
    created_at: int,
    aux_rand: bytes,
    tags: Iterable[Sequence[str]] = (),
) -> Event:
    """Build and sign an event. The caller supplies the time and 32 bytes of randomness."""
    pubkey = schnorr.public_key(secret).hex()
    frozen_tags: Tags = tuple(tuple(t) for t in tags)
    event_id = compute_id(pubkey, created_at, kind, frozen_tags, content)
    sig = schnorr.sign(secret, bytes.fromhex(event_id), aux_rand).hex()
    return Event(event_id, pubkey, created_at, kind, frozen_tags, content, sig)


__all__ = [
    "Event",
    "Rejected",
    "Tags",
    "check_id",
    "compute_id",
    "decode_event",
    "is_hex",
    "parse_event",
    "serialize_for_id",
    "sign_event",
    "verify_event",
]
