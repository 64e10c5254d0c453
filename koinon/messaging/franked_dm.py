"""Franked direct messages: what a session message carries inside the ratchet, and the checks a
recipient runs before showing it.

The ratchet plaintext is the JSON object
`{"v": 2, "franked": base64(FrankedPlaintext), "stamp": base64(FrankingStamp)}`, plus
`"to": hex pubkey` on the copy a sender sends to their own other devices. The franking key,
attachment hashes, commitment and stamp all travel inside the ratchet ciphertext, so relays see
none of them and they get the ratchet's forward secrecy. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass

from koinon.core.event import is_hex
from koinon.core.keys import RandomBytes, npub
from koinon.errors import Rejected
from koinon.messaging.franking import (
    FRANKING_KEY_LEN,
    FrankedPlaintext,
    FrankingStamp,
    open_commitment,
    verify_stamp,
)
from koinon.sessions.errors import DecryptError

PAYLOAD_VERSION = 2


class FrankingError(DecryptError):
    """A franked message that must be dropped: it does not open, or its stamp is not valid."""


class UntrustedNode(FrankingError):
    """A well-formed stamp by a node key the recipient does not trust."""

    def __init__(self, node: str) -> None:
        super().__init__(
            f"stamped by node {npub(node)}, which you do not trust (add --trust-node if you do)"
        )
        self.node = node


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise FrankingError(f"franked message: {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FrankingError(f"franked message: {what} is not base64") from None


class StampedMessage:
    """What direct and group messages share: a franking opening and its node's stamp."""

    __slots__ = ()
    plaintext: FrankedPlaintext
    stamp: FrankingStamp

    @property
    def commitment(self) -> bytes:
        """The commitment the node stamped."""
        return self.stamp.commitment

    @property
    def id(self) -> str:
        """The message id: its commitment in hex, the same on every device that holds it."""
        return self.stamp.commitment.hex()

    @property
    def at(self) -> int:
        """When the sender's node stamped it."""
        return self.stamp.timestamp

    @property
    def text(self) -> str:
        """The message as text (decoding checked it is UTF-8)."""
        return self.plaintext.message.decode("utf-8")


@dataclass(frozen=True, slots=True)
class FrankedMessage(StampedMessage):
    """A direct message with its franking opening and its node's stamp; `copy_to` marks the
    sender's copy for their own devices and names the person it was sent to."""

    plaintext: FrankedPlaintext
    stamp: FrankingStamp
    copy_to: str | None = None

    def encode(self) -> bytes:
        """The ratchet plaintext."""
        if self.copy_to is None:
            return encode_opening(self.plaintext, self.stamp)
        return encode_opening(self.plaintext, self.stamp, to=self.copy_to)

    @classmethod
    def decode(cls, data: bytes) -> FrankedMessage:
        """Parse a ratchet plaintext; anything else (other versions too) raises FrankingError."""
        raw = franked_object(data, "message")
        copy_to = raw.get("to")
        if copy_to is not None and not is_hex(copy_to, 64):
            raise FrankingError("franked message: 'to' is not a public key")
        plaintext, stamp = decode_opening(raw)
        return cls(plaintext, stamp, None if copy_to is None else str(copy_to))


def franked_object(data: bytes, what: str) -> dict[str, object]:
    """The JSON object of a franked payload (`"v": 2`); junk, unfranked `"v": 1` payloads and
    other versions raise FrankingError. `what` names the payload in errors."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise FrankingError(f"the {what} is not a franked {what}") from None
    if not isinstance(raw, dict) or "v" not in raw:
        raise FrankingError(f"the {what} is not a franked {what}")
    if raw["v"] == 1:
        raise FrankingError(f"the {what} is not franked (an older client sent it)")
    if raw["v"] != PAYLOAD_VERSION:
        raise FrankingError(f"unknown {what} version {raw['v']!r} (need {PAYLOAD_VERSION})")
    return raw


def b64_field(raw: dict[str, object], name: str, what: str) -> bytes:
    """The bytes of a base64 field of a franked payload; missing or junk raise FrankingError."""
    return _unb64(raw.get(name), what)


def decode_opening(raw: dict[str, object]) -> tuple[FrankedPlaintext, FrankingStamp]:
    """The opening (`franked`, with UTF-8 text) and the stamp of a franked payload."""
    try:
        plaintext = FrankedPlaintext.decode(_unb64(raw.get("franked"), "the opening"))
        stamp = FrankingStamp.decode(_unb64(raw.get("stamp"), "the stamp"))
        plaintext.message.decode("utf-8")
    except Rejected as exc:
        raise FrankingError(f"franked message: {exc.message}") from None
    except UnicodeDecodeError:
        raise FrankingError("franked message: the text is not UTF-8") from None
    return plaintext, stamp


def encode_opening(plaintext: FrankedPlaintext, stamp: FrankingStamp, **extra: object) -> bytes:
    """The compact JSON of a franked payload: version, opening, stamp and `extra` fields."""
    data: dict[str, object] = {
        "v": PAYLOAD_VERSION,
        "franked": _b64(plaintext.encode()),
        "stamp": _b64(stamp.encode()),
        **extra,
    }
    return json.dumps(data, separators=(",", ":")).encode()


def frank(
    text: str, random_bytes: RandomBytes, attachments: tuple[bytes, ...] = ()
) -> FrankedPlaintext:
    """Sender side: `text` with a fresh franking key, ready to be committed to and stamped."""
    return FrankedPlaintext(text.encode("utf-8"), random_bytes(FRANKING_KEY_LEN), attachments)


def check_received(
    message: FrankedMessage, sender: str, me: str, trusted_nodes: Collection[str]
) -> str:
    """The conversation peer of a message from `sender` (authenticated by the seal) to `me`, once
    the commitment opens and a trusted node stamped it for this sender and recipient; otherwise
    FrankingError, and the message must be dropped.

    A copy (`copy_to`) must come from `me` and be stamped for the person it was sent to.
    """
    if message.copy_to is not None and sender != me:
        raise FrankingError("only your own devices can send you copies of sent messages")
    if message.copy_to is None and sender == me:
        raise FrankingError("a message from your own key that is not a copy")
    peer = sender if message.copy_to is None else message.copy_to
    recipient = me if message.copy_to is None else message.copy_to
    check_stamp(message.plaintext, message.stamp, sender, recipient, trusted_nodes)
    return peer


def check_stamp(
    plaintext: FrankedPlaintext,
    stamp: FrankingStamp,
    sender: str,
    recipient: str,
    trusted_nodes: Collection[str],
) -> None:
    """Raise FrankingError unless `plaintext` opens the stamped commitment and a trusted node
    signed the stamp for `sender` (authenticated by the caller) and `recipient`."""
    if not open_commitment(plaintext, stamp.commitment):
        raise FrankingError("the franking commitment does not open (the message was altered)")
    if stamp.sender != sender:
        raise FrankingError("the stamp names another sender")
    if stamp.recipient != recipient:
        raise FrankingError("the stamp names another recipient")
    if not verify_stamp(stamp, node_pubkey=stamp.node_pubkey):
        raise FrankingError("the node's signature on the stamp does not verify")
    if stamp.node_pubkey not in trusted_nodes:
        raise UntrustedNode(stamp.node_pubkey)


__all__ = [
    "PAYLOAD_VERSION",
    "FrankedMessage",
    "FrankingError",
    "StampedMessage",
    "UntrustedNode",
    "b64_field",
    "check_received",
    "check_stamp",
    "decode_opening",
    "encode_opening",
    "frank",
    "franked_object",
]
