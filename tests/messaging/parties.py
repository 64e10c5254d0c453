"""Fixed keys and time for the messaging tests (Alice, Bob, Carol and Mallory), the franked
messages they exchange, and a one-device party for session tests."""

from __future__ import annotations

import random
from collections.abc import Iterable

from koinon.core.keys import RandomBytes, SecretKey
from koinon.messaging import dm, franking
from koinon.messaging.audience import make_audience
from koinon.messaging.franked_dm import frank
from koinon.messaging.franked_group import FrankedGroupMessage
from koinon.messaging.giftwrap import Rumor
from koinon.sessions.prekeys import PrekeyBundle

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


class Party:
    """One person with one device made at NOW (no one-time prekeys unless asked)."""

    def __init__(self, key: SecretKey, device_id: str, seed: int, one_time: int = 0) -> None:
        self.key, self.me = key, key.public_key
        self.random = random.Random(seed).randbytes
        self.device = dm.LocalDevice.generate(device_id, one_time, self.random, NOW)
        self.sessions = dm.DeviceSessions(self.random)

    def bundle(self) -> PrekeyBundle:
        return self.device.bundle(self.key.raw, self.random)

    def content(self, peer: Party, bundle: PrekeyBundle, text: str) -> str:
        identity = self.device.identity(self.key.raw)
        peer_device = peer.device.device_id
        return dm.encrypt_for(self.sessions, identity, peer_device, bundle, text, self.random)

    def send(self, peer: Party, bundle: PrekeyBundle, text: str, at: int = NOW) -> Rumor:
        content = self.content(peer, bundle, text)
        own, peer_device = self.device.device_id, peer.device.device_id
        return dm.session_rumor(self.me, peer.me, peer_device, own, content, at)

    def receive(self, rumor: Rumor) -> str:
        return dm.decrypt_from(
            self.sessions, self.device, self.key.raw, rumor.pubkey, rumor, self.random
        )
