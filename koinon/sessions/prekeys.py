"""Identity keys, signed and one-time prekeys, and the prekey bundle a user publishes.

A Koinon identity is a Nostr secp256k1 key. X3DH needs an X25519 identity key as well, so the
signed prekey's BIP-340 signature covers that key too: it binds the bundle's X25519 identity key,
the signed prekey and its id to the Nostr identity.

Signed prekey rotation is the caller's: publish a new bundle with a new `signed_prekey_id` (every
week or so), and keep the old signed prekey's secret for a grace period so initial messages made
from the old bundle still arrive; then delete it, which is what gives not-yet-answered handshakes
forward secrecy. Koinon's devices do it in `koinon.messaging.signed_prekeys` (weekly, kept 48 h
after the bundle without it is published).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from koinon.core import schnorr
from koinon.sessions.errors import BundleError, PrekeyError, StateError
from koinon.sessions.primitives import KEY_SIZE, KeyPair, Random

MAX_PREKEY_ID = 2**32 - 1
BUNDLE_VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")

SignedPrekeys = Mapping[int, KeyPair]
"""The responder's signed prekeys by id: the current one and those still in their grace period."""


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def signed_prekey_message(identity_dh: bytes, prekey_id: int, prekey: bytes) -> bytes:
    """The 32-byte message a signed prekey's BIP-340 signature covers."""
    return schnorr.tagged_hash("koinon/spk", identity_dh + _u32(prekey_id) + prekey)


def identity_binding_message(identity_dh: bytes) -> bytes:
    """The 32-byte message binding an X25519 identity key to a Nostr key (initial messages)."""
    return schnorr.tagged_hash("koinon/identity-dh", identity_dh)


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    """A user's long-term keys: the Nostr secret key and the X25519 identity key."""

    nostr_secret: bytes = field(repr=False)
    dh: KeyPair
    nostr_public: bytes = field(init=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "nostr_public", schnorr.public_key(self.nostr_secret))
        except (schnorr.SchnorrError, ValueError, TypeError) as exc:
            raise BundleError("invalid Nostr secret key") from exc

    @classmethod
    def generate(cls, nostr_secret: bytes, random: Random) -> IdentityKeys:
        """Identity keys for an existing Nostr secret with a fresh X25519 identity key."""
        return cls(nostr_secret, KeyPair.generate(random))

    def sign(self, message: bytes, random: Random) -> bytes:
        """A BIP-340 signature of a 32-byte message by the Nostr key."""
        return schnorr.sign(self.nostr_secret, message, random(32))


@dataclass(frozen=True, slots=True)
class OneTimePrekeys:
    """The responder's unused one-time prekeys; `consume` returns the key and the rest."""

    keys: Mapping[int, KeyPair] = field(default_factory=dict)

    @classmethod
    def generate(cls, first_id: int, count: int, random: Random) -> OneTimePrekeys:
        """`count` fresh one-time prekeys numbered from `first_id`."""
        if first_id < 0 or first_id + count - 1 > MAX_PREKEY_ID:
            raise PrekeyError("one-time prekey ids out of range")
        return cls({first_id + i: KeyPair.generate(random) for i in range(count)})

    def consume(self, prekey_id: int) -> tuple[KeyPair, OneTimePrekeys]:
        """The key with this id and the store without it; an unknown or used id raises."""
        key = self.keys.get(prekey_id)
        if key is None:
            raise PrekeyError(f"one-time prekey {prekey_id} unknown or already used")
        return key, OneTimePrekeys({i: k for i, k in self.keys.items() if i != prekey_id})

    def publics(self) -> tuple[tuple[int, bytes], ...]:
        """(id, public key) of every unused prekey, in id order, for a bundle."""
        return tuple((i, self.keys[i].public) for i in sorted(self.keys))

    def __len__(self) -> int:
        return len(self.keys)

    def to_bytes(self) -> bytes:
        """Version byte, then (id u32, secret 32 bytes) in id order: encrypt it at rest."""
        return b"\x01" + b"".join(_u32(i) + self.keys[i].secret for i in sorted(self.keys))

    @classmethod
    def from_bytes(cls, data: bytes) -> OneTimePrekeys:
        """Parse `to_bytes` output."""
        if not data or data[0] != 1 or (len(data) - 1) % 36:
            raise StateError("malformed one-time prekey store")
        items = [(data[o : o + 4], data[o + 4 : o + 36]) for o in range(1, len(data), 36)]
        keys = {int.from_bytes(i, "big"): KeyPair.from_secret(s) for i, s in items}
        if len(keys) != len(items):
            raise StateError("duplicate one-time prekey id")
        return cls(keys)


@dataclass(frozen=True, slots=True)
class PrekeyBundle:
    """What a user publishes so others can start a session with them while they are offline."""

    identity: str
    identity_dh: bytes
    signed_prekey_id: int
    signed_prekey: bytes
    signed_prekey_signature: bytes
    one_time_prekeys: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.identity, str) or not _HEX64.fullmatch(self.identity):
            raise BundleError("identity must be 64 lowercase hex characters")
        for key in (self.identity_dh, self.signed_prekey):
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise BundleError("X25519 public keys are 32 bytes")
        if not isinstance(self.signed_prekey_signature, bytes):
            raise BundleError("signature must be bytes")
        if len(self.signed_prekey_signature) != 64:
            raise BundleError("signed prekey signature must be 64 bytes")
        ids = [_check_id(i) for i, _ in self.one_time_prekeys] + [_check_id(self.signed_prekey_id)]
        if len(set(ids[:-1])) != len(ids) - 1:
            raise BundleError("duplicate one-time prekey id")
        if any(not isinstance(k, bytes) or len(k) != KEY_SIZE for _, k in self.one_time_prekeys):
            raise BundleError("X25519 public keys are 32 bytes")

    @classmethod
    def create(
        cls,
        identity: IdentityKeys,
        signed_prekey_id: int,
        signed_prekey: KeyPair,
        one_time_prekeys: OneTimePrekeys,
        random: Random,
    ) -> PrekeyBundle:
        """Sign `signed_prekey` with the Nostr key and bundle it with the one-time prekeys."""
        message = signed_prekey_message(identity.dh.public, signed_prekey_id, signed_prekey.public)
        return cls(
            identity.nostr_public.hex(),
            identity.dh.public,
            signed_prekey_id,
            signed_prekey.public,
            identity.sign(message, random),
            one_time_prekeys.publics(),
        )

    def verify(self) -> None:
        """Raise BundleError unless the signed prekey signature verifies."""
        message = signed_prekey_message(self.identity_dh, self.signed_prekey_id, self.signed_prekey)
        identity = bytes.fromhex(self.identity)
        if not schnorr.verify(identity, message, self.signed_prekey_signature):
            raise BundleError("signed prekey signature does not verify")

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, lowercase hex."""
        return json.dumps(
            {
                "v": BUNDLE_VERSION,
                "identity": self.identity,
                "identity_dh": self.identity_dh.hex(),
                "signed_prekey": {
                    "id": self.signed_prekey_id,
                    "public": self.signed_prekey.hex(),
                    "signature": self.signed_prekey_signature.hex(),
                },
                "one_time_prekeys": [
                    {"id": i, "public": k.hex()} for i, k in self.one_time_prekeys
                ],
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> PrekeyBundle:
        """Parse and verify a bundle; anything malformed or unsigned raises BundleError."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise BundleError("bundle is not JSON") from exc
        top = _object(data, {"v", "identity", "identity_dh", "signed_prekey", "one_time_prekeys"})
        version = top["v"]
        if not isinstance(version, int) or isinstance(version, bool) or version != BUNDLE_VERSION:
            raise BundleError("unknown bundle version")
        spk = _object(top["signed_prekey"], {"id", "public", "signature"})
        one_time = top["one_time_prekeys"]
        if not isinstance(one_time, list):
            raise BundleError("one_time_prekeys must be a list")
        pairs = [_object(item, {"id", "public"}) for item in one_time]
        bundle = cls(
            top["identity"],
            _hex_key(top["identity_dh"]),
            spk["id"],
            _hex_key(spk["public"]),
            _hex_signature(spk["signature"]),
            tuple((p["id"], _hex_key(p["public"])) for p in pairs),
        )
        bundle.verify()
        return bundle


def _check_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PREKEY_ID:
        raise BundleError("prekey ids are integers in [0, 2^32)")
    return value


def _object(value: object, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise BundleError(f"expected an object with exactly the keys {sorted(keys)}")
    return value


def _hex_key(value: object) -> bytes:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise BundleError("keys are 64 lowercase hex characters")
    return bytes.fromhex(value)


def _hex_signature(value: object) -> bytes:
    if not isinstance(value, str) or not _HEX128.fullmatch(value):
        raise BundleError("signatures are 128 lowercase hex characters")
    return bytes.fromhex(value)
