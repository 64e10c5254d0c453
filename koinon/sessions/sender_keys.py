"""Sender-key chains: one member's own sending chain and the receiving chains it holds of others.

A chain key advances by KDF_CK (message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02)).
Every chain has a per-epoch Ed25519 key: members share each other's chain keys, so only the
signature stops one member from writing as another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from koinon.sessions.errors import DecryptError, ReplayError, SessionError, TooManySkipped
from koinon.sessions.group_wire import KEY_SIZE, MAX_COUNTER
from koinon.sessions.primitives import Random, hkdf_expand, kdf_ck

MAX_SKIP = 1000
"""Most message keys one message may make us skip in one sender's chain (as the ratchet)."""
MAX_STORED_SKIPPED = 1000
"""Most skipped message keys kept per sender chain; past it the oldest are forgotten."""
_AEAD_INFO = b"koinon/group/v1/aead"
_SIGNATURE_CONTEXT = b"koinon/group/v1/signature"


def seal(message_key: bytes, header: bytes, plaintext: bytes) -> bytes:
    """ChaCha20-Poly1305 of `plaintext` with AD = header; key and nonce from HKDF(message key)."""
    okm = hkdf_expand(message_key, _AEAD_INFO, KEY_SIZE + 12)
    return ChaCha20Poly1305(okm[:KEY_SIZE]).encrypt(okm[KEY_SIZE:], plaintext, header)


def open_sealed(message_key: bytes, header: bytes, ciphertext: bytes) -> bytes:
    """The inverse of `seal`; a failed tag raises DecryptError."""
    okm = hkdf_expand(message_key, _AEAD_INFO, KEY_SIZE + 12)
    try:
        return ChaCha20Poly1305(okm[:KEY_SIZE]).decrypt(okm[KEY_SIZE:], ciphertext, header)
    except InvalidTag as exc:
        raise DecryptError("group message failed authentication") from exc


def signed_bytes(header: bytes, ciphertext: bytes) -> bytes:
    """What the sender signs: a context string, the header and the ciphertext."""
    return _SIGNATURE_CONTEXT + header + ciphertext


def verify_signature(signing_public: bytes, header: bytes, ciphertext: bytes, sig: bytes) -> None:
    """Raise DecryptError unless `sig` is the chain owner's signature of the message."""
    try:
        key = Ed25519PublicKey.from_public_bytes(signing_public)
        key.verify(sig, signed_bytes(header, ciphertext))
    except (InvalidSignature, ValueError) as exc:
        raise DecryptError("group message signature does not verify") from exc


@dataclass(frozen=True, slots=True)
class SenderKey:
    """Our own sending chain for one epoch, with the secret half of its signing key."""

    chain_key: bytes = field(repr=False)
    iteration: int
    signing_secret: bytes = field(repr=False)

    @classmethod
    def generate(cls, random: Random) -> SenderKey:
        """A fresh chain at iteration 0 with a fresh signing key."""
        return cls(random(KEY_SIZE), 0, random(KEY_SIZE))

    @property
    def signing_public(self) -> bytes:
        """The Ed25519 public key members verify our messages with."""
        private = Ed25519PrivateKey.from_private_bytes(self.signing_secret)
        return private.public_key().public_bytes_raw()

    def step(self) -> tuple[SenderKey, bytes]:
        """(the chain one message later, this message's key)."""
        if self.iteration >= MAX_COUNTER:
            raise SessionError("sender chain exhausted; the group needs a new epoch")
        next_chain_key, message_key = kdf_ck(self.chain_key)
        return SenderKey(next_chain_key, self.iteration + 1, self.signing_secret), message_key

    def sign(self, header: bytes, ciphertext: bytes) -> bytes:
        """Our 64-byte signature of a message (Ed25519 is deterministic: no randomness)."""
        private = Ed25519PrivateKey.from_private_bytes(self.signing_secret)
        return private.sign(signed_bytes(header, ciphertext))


@dataclass(frozen=True, slots=True)
class Step:
    """A receiving chain's message key, and the change to commit once the message verifies."""

    message_key: bytes = field(repr=False)
    iteration: int
    chain_key: bytes | None = field(repr=False)  # None: the key came from the skipped store
    skipped: dict[int, bytes] = field(repr=False)


@dataclass(slots=True)
class ReceiverChain:
    """Another member's chain as we hold it, with the keys of messages still to arrive."""

    chain_key: bytes = field(repr=False)
    iteration: int
    signing_public: bytes
    skipped: dict[int, bytes] = field(default_factory=dict, repr=False)

    def key_for(self, iteration: int) -> Step:
        """The message key of `iteration`, computed without changing the chain."""
        message_key = self.skipped.get(iteration)
        if message_key is not None:
            return Step(message_key, iteration, None, {})
        if iteration >= MAX_COUNTER:
            raise DecryptError("group message iteration out of range")
        if iteration < self.iteration:
            raise ReplayError("group message key already used, discarded or before we joined")
        if iteration - self.iteration > MAX_SKIP:
            raise TooManySkipped(f"message is {iteration - self.iteration} keys ahead")
        chain_key, skipped = self.chain_key, {}
        for index in range(self.iteration, iteration):
            chain_key, skipped[index] = kdf_ck(chain_key)
        chain_key, message_key = kdf_ck(chain_key)
        return Step(message_key, iteration, chain_key, skipped)

    def commit(self, step: Step) -> None:
        """Apply a `key_for` result, after its message has verified."""
        if step.chain_key is None:
            del self.skipped[step.iteration]
            return
        self.chain_key, self.iteration = step.chain_key, step.iteration + 1
        self.skipped.update(step.skipped)
        excess = len(self.skipped) - MAX_STORED_SKIPPED
        for index in list(self.skipped)[: max(excess, 0)]:
            del self.skipped[index]
