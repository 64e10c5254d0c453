"""Fixed keys and time for the messaging tests (Alice, Bob, Carol and Mallory), and the franked
messages they exchange."""

from __future__ import annotations

from collections.abc import Iterable

from koinon.core.keys import RandomBytes, SecretKey
from koinon.messaging import franking
from koinon.messaging.audience import make_audience
from koinon.messaging.franked_dm import frank
from koinon.messaging.franked_group import FrankedGroupMessage

ALICE = SecretKey(bytes.fromhex("11" * 32))
BOB = SecretKey(bytes.fromhex("22" * 32))
CAROL = SecretKey(bytes.fromhex("33" * 32))
MALLORY = SecretKey(bytes.fromhex("44" * 32))
NOW = 1_750_000_000


def node_stamp(
    node: SecretKey,
    commitment: bytes,
    sender: str,
    recipient: str,
    random_bytes: RandomBytes,
    timestamp: int = NOW,
) -> franking.FrankingStamp:
    """The stamp (HMAC tag and signature) `node` gives `commitment` from `sender` to `recipient`."""
    hmac_key = franking.derive_node_hmac_key(node.raw)
    aux = random_bytes(32)
    return franking.sign_stamp(node.raw, hmac_key, commitment, sender, recipient, timestamp, aux)


def group_message(
    text: str, members: Iterable[str], random_bytes: RandomBytes, node: SecretKey = CAROL
) -> FrankedGroupMessage:
    """`text` from Alice to `members`, franked and stamped by `node` (Carol's key by default)."""
    audience = make_audience(members, random_bytes)
    plaintext = frank(text, random_bytes)
    commitment = franking.commitment_of(plaintext)
    stamp = node_stamp(node, commitment, ALICE.public_key, audience.digest(), random_bytes)
    return FrankedGroupMessage(plaintext, stamp, audience)
