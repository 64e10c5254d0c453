"""NIP-17 direct messages: kind 14/15 rumors gift-wrapped per participant, kind 10050 inboxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from koinon.core.event import Event, is_hex, sign_event
from koinon.core.keys import RandomBytes, SecretKey
from koinon.errors import invalid
from koinon.messaging.giftwrap import Rumor, make_rumor, wrap_rumor

CHAT_KIND = 14
FILE_KIND = 15
INBOX_RELAYS_KIND = 10050


@dataclass(frozen=True, slots=True)
class FileAttachment:
    """An encrypted file hosted elsewhere, described by a kind 15 message."""

    url: str
    file_type: str
    encryption_algorithm: str
    decryption_key: str
    decryption_nonce: str
    sha256: str  # of the encrypted file
    original_sha256: str | None = None
    size: int | None = None
    dim: str | None = None
    blurhash: str | None = None
    thumb: str | None = None
    fallbacks: tuple[str, ...] = ()

    def tags(self) -> list[tuple[str, ...]]:
        """The kind 15 tags that describe the file."""
        tags: list[tuple[str, ...]] = [
            ("file-type", self.file_type),
            ("encryption-algorithm", self.encryption_algorithm),
            ("decryption-key", self.decryption_key),
            ("decryption-nonce", self.decryption_nonce),
            ("x", self.sha256),
        ]
        optional = [
            ("ox", self.original_sha256),
            ("size", None if self.size is None else str(self.size)),
            ("dim", self.dim),
            ("blurhash", self.blurhash),
            ("thumb", self.thumb),
        ]
        tags += [(name, value) for name, value in optional if value is not None]
        tags += [("fallback", url) for url in self.fallbacks]
        return tags


def _participants(recipients: Sequence[str]) -> list[str]:
    if not recipients:
        raise invalid("a message needs at least one recipient")
    for pubkey in recipients:
        if not is_hex(pubkey, 64):
            raise invalid("recipient public keys must be 64 lowercase hex characters")
    return list(dict.fromkeys(recipients))


def _room_tags(
    recipients: Sequence[str], reply_to: str | None, subject: str | None
) -> list[tuple[str, ...]]:
    tags: list[tuple[str, ...]] = [("p", pubkey) for pubkey in _participants(recipients)]
    if reply_to is not None:
        if not is_hex(reply_to, 64):
            raise invalid("reply_to must be an event id of 64 lowercase hex characters")
        tags.append(("e", reply_to, "", "reply"))
    if subject is not None:
        tags.append(("subject", subject))
    return tags


def chat_rumor(
    sender_pubkey: str,
    recipients: Sequence[str],
    content: str,
    *,
    created_at: int,
    reply_to: str | None = None,
    subject: str | None = None,
) -> Rumor:
    """Kind 14: plain-text `content` with a `p` tag per recipient, optional reply and subject."""
    tags = _room_tags(recipients, reply_to, subject)
    return make_rumor(
        sender_pubkey, kind=CHAT_KIND, content=content, created_at=created_at, tags=tags
    )


def file_rumor(
    sender_pubkey: str,
    recipients: Sequence[str],
    attachment: FileAttachment,
    *,
    created_at: int,
    reply_to: str | None = None,
    subject: str | None = None,
) -> Rumor:
    """Kind 15: the file's URL as content, its type, key, nonce and hash as tags."""
    tags = _room_tags(recipients, reply_to, subject) + attachment.tags()
    return make_rumor(
        sender_pubkey, kind=FILE_KIND, content=attachment.url, created_at=created_at, tags=tags
    )


def wrap_for_room(
    rumor: Rumor, sender_secret: bytes, *, now: int, random_bytes: RandomBytes
) -> list[Event]:
    """One gift wrap per `p`-tagged recipient, then one for the sender's own copy."""
    copies = list(dict.fromkeys([*rumor.tag_values("p"), rumor.pubkey]))
    return [
        wrap_rumor(rumor, sender_secret, pubkey, now=now, random_bytes=random_bytes)
        for pubkey in copies
    ]


def wrap_message(
    sender_secret: bytes,
    recipients: Sequence[str],
    content: str,
    now: int,
    random_bytes: RandomBytes,
    reply_to: str | None = None,
    subject: str | None = None,
) -> list[Event]:
    """Gift wraps of a kind 14 chat message, dated `now`, for every recipient and the sender."""
    sender = SecretKey(sender_secret)
    rumor = chat_rumor(
        sender.public_key, recipients, content, created_at=now, reply_to=reply_to, subject=subject
    )
    return wrap_for_room(rumor, sender.raw, now=now, random_bytes=random_bytes)


def wrap_file(
    sender_secret: bytes,
    recipients: Sequence[str],
    attachment: FileAttachment,
    now: int,
    random_bytes: RandomBytes,
    reply_to: str | None = None,
    subject: str | None = None,
) -> list[Event]:
    """Gift wraps of a kind 15 file message, dated `now`, for every recipient and the sender."""
    sender = SecretKey(sender_secret)
    rumor = file_rumor(
        sender.public_key,
        recipients,
        attachment,
        created_at=now,
        reply_to=reply_to,
        subject=subject,
    )
    return wrap_for_room(rumor, sender.raw, now=now, random_bytes=random_bytes)


def _check_relay_url(url: str) -> str:
    if not url.startswith(("wss://", "ws://")) or len(url) <= len("wss://"):
        raise invalid(f"inbox relay must be a ws:// or wss:// URL: {url!r}")
    return url


def inbox_relays_event(
    secret: bytes, relays: Sequence[str], *, created_at: int, aux_rand: bytes
) -> Event:
    """Kind 10050: the relays where this user wants to receive direct messages."""
    if not relays:
        raise invalid("an inbox relay list needs at least one relay")
    urls = list(dict.fromkeys(_check_relay_url(url) for url in relays))
    return sign_event(
        SecretKey(secret).raw,
        kind=INBOX_RELAYS_KIND,
        content="",
        created_at=created_at,
        aux_rand=aux_rand,
        tags=[("relay", url) for url in urls],
    )


def inbox_relays(event: Event) -> list[str]:
    """The relay URLs of a kind 10050 event, in order (invalid entries skipped)."""
    if event.kind != INBOX_RELAYS_KIND:
        raise invalid(f"inbox relay list must be kind {INBOX_RELAYS_KIND}")
    urls = [url for url in event.tag_values("relay") if url.startswith(("wss://", "ws://"))]
    return list(dict.fromkeys(urls))
