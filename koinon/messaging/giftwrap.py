"""NIP-59 gift wraps: a rumor sealed (kind 13) by its author, wrapped (kind 1059) by a fresh key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from koinon.core.event import (
    MAX_TIMESTAMP,
    Event,
    Tags,
    compute_id,
    is_hex,
    parse_event,
    sign_event,
    verify_event,
)
from koinon.core.keys import RandomBytes, SecretKey
from koinon.errors import invalid
from koinon.messaging import nip44

SEAL_KIND = 13
GIFT_WRAP_KIND = 1059
TIMESTAMP_WINDOW = 2 * 24 * 60 * 60  # seal and wrap times are drawn from the last two days


@dataclass(frozen=True, slots=True)
class Rumor:
    """An unsigned event with its id: deniable, so it must never be published as it is."""

    id: str
    pubkey: str
    created_at: int
    kind: int
    tags: Tags
    content: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form, keys in NIP-01 order, without `sig`."""
        return {
            "id": self.id,
            "pubkey": self.pubkey,
            "created_at": self.created_at,
            "kind": self.kind,
            "tags": [list(t) for t in self.tags],
            "content": self.content,
        }

    def to_json(self) -> str:
        """The compact JSON text that gets sealed."""
        return orjson.dumps(self.to_dict()).decode("utf-8")

    def tag_values(self, name: str) -> list[str]:
        """Second elements of every tag called `name`, in order."""
        return [t[1] for t in self.tags if len(t) >= 2 and t[0] == name]


@dataclass(frozen=True, slots=True)
class UnwrappedMessage:
    """What a recipient learns from a gift wrap: the authenticated sender and the rumor."""

    sender: str
    rumor: Rumor


def make_rumor(
    pubkey: str, *, kind: int, content: str, created_at: int, tags: Iterable[Sequence[str]] = ()
) -> Rumor:
    """A rumor by `pubkey` with its NIP-01 id."""
    frozen: Tags = tuple(tuple(t) for t in tags)
    return Rumor(
        compute_id(pubkey, created_at, kind, frozen, content),
        pubkey,
        created_at,
        kind,
        frozen,
        content,
    )


def parse_rumor(raw: object) -> Rumor:
    """Check a decoded rumor object, including that its id matches its content."""
    if not isinstance(raw, dict):
        raise invalid("rumor must be a JSON object")
    for name in ("id", "pubkey"):
        if not is_hex(raw.get(name), 64):
            raise invalid(f"rumor {name} must be 64 lowercase hex characters")
    created_at, kind, content, raw_tags = (
        raw.get(k) for k in ("created_at", "kind", "content", "tags")
    )
    if type(created_at) is not int or not 0 <= created_at <= MAX_TIMESTAMP:
        raise invalid("rumor created_at must be a non-negative integer")
    if type(kind) is not int or not 0 <= kind <= 65535:
        raise invalid("rumor kind must be an integer between 0 and 65535")
    if not isinstance(content, str):
        raise invalid("rumor content must be a string")
    if not isinstance(raw_tags, list) or not all(
        isinstance(t, list) and all(isinstance(x, str) for x in t) for t in raw_tags
    ):
        raise invalid("rumor tags must be arrays of strings")
    rumor = make_rumor(
        raw["pubkey"], kind=kind, content=content, created_at=created_at, tags=raw_tags
    )
    if rumor.id != raw["id"]:
        raise invalid("rumor id does not match its content")
    return rumor


def random_timestamp(now: int, random_bytes: RandomBytes) -> int:
    """A time drawn uniformly from `[now - 2 days, now]`, never in the future."""
    span = TIMESTAMP_WINDOW + 1
    limit = (1 << 64) - (1 << 64) % span  # rejection sampling keeps the draw unbiased
    while True:
        draw = int.from_bytes(random_bytes(8), "big")
        if draw < limit:
            return max(0, now - draw % span)


def seal(
    rumor: Rumor,
    sender_secret: bytes,
    recipient_pubkey: str,
    *,
    now: int,
    random_bytes: RandomBytes,
) -> Event:
    """Kind 13: the rumor encrypted to the recipient and signed by its author; no tags."""
    sender = SecretKey(sender_secret)
    if sender.public_key != rumor.pubkey:
        raise invalid("a rumor can only be sealed by its author")
    content = nip44.encrypt(
        rumor.to_json(), nip44.conversation_key(sender.raw, recipient_pubkey), random_bytes(32)
    )
    return sign_event(
        sender.raw,
        kind=SEAL_KIND,
        content=content,
        created_at=random_timestamp(now, random_bytes),
        aux_rand=random_bytes(32),
    )


def gift_wrap(
    sealed: Event, recipient_pubkey: str, *, now: int, random_bytes: RandomBytes
) -> Event:
    """Kind 1059: the seal encrypted to the recipient by a fresh one-time key, tagged `p`."""
    one_time = SecretKey.generate(random_bytes)
    content = nip44.encrypt(
        sealed.to_json().decode("utf-8"),
        nip44.conversation_key(one_time.raw, recipient_pubkey),
        random_bytes(32),
    )
    return sign_event(
        one_time.raw,
        kind=GIFT_WRAP_KIND,
        content=content,
        created_at=random_timestamp(now, random_bytes),
        aux_rand=random_bytes(32),
        tags=[("p", recipient_pubkey)],
    )


def wrap_rumor(
    rumor: Rumor,
    sender_secret: bytes,
    recipient_pubkey: str,
    *,
    now: int,
    random_bytes: RandomBytes,
) -> Event:
    """Seal then gift-wrap `rumor` for one recipient."""
    sealed = seal(rumor, sender_secret, recipient_pubkey, now=now, random_bytes=random_bytes)
    return gift_wrap(sealed, recipient_pubkey, now=now, random_bytes=random_bytes)


def _open(event: Event, recipient_secret: bytes) -> object:
    """Decrypt an event's content sent to us and decode the JSON inside."""
    plaintext = nip44.decrypt(event.content, nip44.conversation_key(recipient_secret, event.pubkey))
    try:
        return orjson.loads(plaintext)
    except orjson.JSONDecodeError as exc:
        raise invalid("encrypted content is not JSON") from exc


def unwrap(wrap: Event, recipient_secret: bytes) -> UnwrappedMessage:
    """Open a gift wrap addressed to `recipient_secret`'s owner and authenticate its sender.

    Checks the wrap's and the seal's signatures, the rumor's id, and that the rumor's author is the
    seal's signer (otherwise anyone could put someone else's pubkey on a rumor).
    """
    if wrap.kind != GIFT_WRAP_KIND:
        raise invalid(f"gift wrap must be kind {GIFT_WRAP_KIND}")
    verify_event(wrap)
    sealed = parse_event(_open(wrap, recipient_secret))
    if sealed.kind != SEAL_KIND:
        raise invalid(f"seal must be kind {SEAL_KIND}")
    verify_event(sealed)
    rumor = parse_rumor(_open(sealed, recipient_secret))
    if rumor.pubkey != sealed.pubkey:
        raise invalid("rumor author is not the seal signer (impersonation)")
    return UnwrappedMessage(sender=sealed.pubkey, rumor=rumor)


__all__ = [
    "GIFT_WRAP_KIND",
    "SEAL_KIND",
    "TIMESTAMP_WINDOW",
    "Rumor",
    "UnwrappedMessage",
    "gift_wrap",
    "make_rumor",
    "parse_rumor",
    "random_timestamp",
    "seal",
    "unwrap",
    "wrap_rumor",
]
