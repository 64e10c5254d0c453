"""Franked group messages: what a group message encrypts with the sender key, and the checks a
member runs before showing it.

The plaintext is the JSON object
`{"v": 2, "franked": base64(FrankedPlaintext), "stamp": base64(FrankingStamp),
"audience": base64(Audience)}`. The stamp's recipient is the audience digest
(`koinon.messaging.audience`): the sender's node stamps one commitment per message without
learning the group or its members, and each member can later prove to a moderator that it was
addressed. Unfranked `"v": 1` payloads are refused. Pure: no I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Collection
from dataclasses import dataclass

from koinon.errors import Rejected
from koinon.messaging.audience import Audience, AudienceProof
from koinon.messaging.franked_dm import (
    FrankingError,
    StampedMessage,
    b64_field,
    check_stamp,
    decode_opening,
    encode_opening,
    franked_object,
)
from koinon.messaging.franking import FrankedPlaintext, FrankingStamp

_WHAT = "group message payload"


@dataclass(frozen=True, slots=True)
class FrankedGroupMessage(StampedMessage):
    """A group message with its franking opening, its node's stamp and its audience."""

    plaintext: FrankedPlaintext
    stamp: FrankingStamp
    audience: Audience

    def encode(self) -> bytes:
        """The plaintext the sender key encrypts."""
        return encode_opening(
            self.plaintext, self.stamp, audience=base64.b64encode(self.audience.encode()).decode()
        )

    @classmethod
    def decode(cls, data: bytes) -> FrankedGroupMessage:
        """Parse a decrypted group message; anything else (other versions too) raises
        FrankingError."""
        raw = franked_object(data, _WHAT)
        plaintext, stamp = decode_opening(raw)
        try:
            audience = Audience.decode(b64_field(raw, "audience", "the audience"))
        except Rejected as exc:
            raise FrankingError(f"franked group message: {exc.message}") from None
        return cls(plaintext, stamp, audience)


def check_group_message(
    message: FrankedGroupMessage, sender: str, me: str, trusted_nodes: Collection[str]
) -> AudienceProof:
    """This member's audience proof for a message from `sender` (authenticated by the sender
    key's signature), once the commitment opens, the audience includes `me` and a trusted node
    stamped the commitment for this sender and audience; otherwise FrankingError, and the message
    must be dropped."""
    if me not in message.audience.members:
        raise FrankingError("the message's franking audience does not include you")
    digest = message.audience.digest()
    check_stamp(message.plaintext, message.stamp, sender, digest, trusted_nodes)
    return message.audience.proof(me)


__all__ = ["FrankedGroupMessage", "check_group_message"]
