"""X3DH key agreement over X25519, with identities that are Nostr keys signing in BIP-340.

The initiator fetches the responder's `PrekeyBundle`, calls `initiate`, and sends the
`InitialMessageHeader` together with its first ratchet message. The responder calls `respond` with
its signed prekeys (current and those in their grace period) and its one-time prekeys, and keeps the
returned store of one-time prekeys only once the first ratchet message decrypts.

Both sides get the same 32-byte shared secret and associated data
AD = initiator Nostr key || initiator X25519 identity || responder Nostr key || responder X25519
identity, which the Double Ratchet authenticates with every message. An initial message without a
one-time prekey can be replayed to the responder (as in Signal's X3DH); callers that care keep a set
of ephemeral keys seen while the signed prekey lives.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from koinon.core import schnorr
from koinon.sessions.errors import BundleError, HandshakeError, PrekeyError, SessionError
from koinon.sessions.prekeys import (
    IdentityKeys,
    OneTimePrekeys,
    PrekeyBundle,
    SignedPrekeys,
    identity_binding_message,
)
from koinon.sessions.primitives import KEY_SIZE, KeyPair, Random, dh, hkdf

HEADER_VERSION = 1
_INFO = b"koinon/x3dh/v1"
_PREFIX = b"\xff" * KEY_SIZE  # X3DH's F: keeps the IKM from being a valid X25519 input alone
_LAYOUT = struct.Struct(">B32s32s64s32sIBI")
_NO_ONE_TIME_PREKEY = 0


@dataclass(frozen=True, slots=True)
class InitialMessageHeader:
    """What the initiator sends before its first ratchet message (170 bytes on the wire)."""

    initiator: bytes
    initiator_dh: bytes
    binding_signature: bytes
    ephemeral: bytes
    signed_prekey_id: int
    one_time_prekey_id: int | None

    SIZE = _LAYOUT.size

    def to_bytes(self) -> bytes:
        """version u8 | Nostr key | X25519 identity | binding sig | ephemeral | spk id u32 |
        has one-time prekey u8 | one-time prekey id u32 (0 when absent), integers big-endian."""
        opk = self.one_time_prekey_id
        return _LAYOUT.pack(
            HEADER_VERSION,
            self.initiator,
            self.initiator_dh,
            self.binding_signature,
            self.ephemeral,
            self.signed_prekey_id,
            opk is not None,
            _NO_ONE_TIME_PREKEY if opk is None else opk,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> InitialMessageHeader:
        """Parse `to_bytes` output; anything else raises HandshakeError."""
        if not isinstance(data, bytes) or len(data) != _LAYOUT.size:
            raise HandshakeError(f"an initial message header is {_LAYOUT.size} bytes")
        version, initiator, initiator_dh, sig, ephemeral, spk_id, has_opk, opk_id = _LAYOUT.unpack(
            data
        )
        if version != HEADER_VERSION:
            raise HandshakeError(f"unknown initial message header version {version}")
        if has_opk not in (0, 1) or (not has_opk and opk_id != _NO_ONE_TIME_PREKEY):
            raise HandshakeError("malformed one-time prekey field")
        return cls(initiator, initiator_dh, sig, ephemeral, spk_id, opk_id if has_opk else None)


def _derive(dh_outputs: list[bytes]) -> bytes:
    return hkdf(_PREFIX + b"".join(dh_outputs), bytes(KEY_SIZE), _INFO, KEY_SIZE)


def initiate(
    identity: IdentityKeys,
    bundle: PrekeyBundle,
    random: Random,
    use_one_time_prekey: bool = True,
) -> tuple[bytes, bytes, InitialMessageHeader]:
    """(shared secret, associated data, header) for a session with the owner of `bundle`.

    Uses the bundle's first one-time prekey when it has one (and `use_one_time_prekey`). The
    responder's signed prekey is the initiator's first ratchet key (`Ratchet.initiator`).
    """
    bundle.verify()
    ephemeral = KeyPair.generate(random)
    binding = identity.sign(identity_binding_message(identity.dh.public), random)
    outputs = [
        dh(identity.dh, bundle.signed_prekey),
        dh(ephemeral, bundle.identity_dh),
        dh(ephemeral, bundle.signed_prekey),
    ]
    one_time_id = None
    if use_one_time_prekey and bundle.one_time_prekeys:
        one_time_id, one_time_public = bundle.one_time_prekeys[0]
        outputs.append(dh(ephemeral, one_time_public))
    header = InitialMessageHeader(
        identity.nostr_public,
        identity.dh.public,
        binding,
        ephemeral.public,
        bundle.signed_prekey_id,
        one_time_id,
    )
    ad = identity.nostr_public + identity.dh.public + bytes.fromhex(bundle.identity)
    return _derive(outputs), ad + bundle.identity_dh, header


def respond(
    identity: IdentityKeys,
    signed_prekeys: SignedPrekeys,
    one_time_prekeys: OneTimePrekeys,
    header: InitialMessageHeader,
) -> tuple[bytes, bytes, OneTimePrekeys]:
    """(shared secret, associated data, one-time prekeys left) for an initial message.

    An unknown signed prekey id, or a one-time prekey already consumed, raises PrekeyError; a header
    whose X25519 identity is not signed by its Nostr key raises HandshakeError.
    """
    binding = identity_binding_message(header.initiator_dh)
    if not schnorr.verify(header.initiator, binding, header.binding_signature):
        raise HandshakeError("initiator's X25519 identity key is not signed by its Nostr key")
    signed_prekey = signed_prekeys.get(header.signed_prekey_id)
    if signed_prekey is None:
        raise PrekeyError(f"signed prekey {header.signed_prekey_id} unknown or expired")
    remaining = one_time_prekeys
    try:
        outputs = [
            dh(signed_prekey, header.initiator_dh),
            dh(identity.dh, header.ephemeral),
            dh(signed_prekey, header.ephemeral),
        ]
        if header.one_time_prekey_id is not None:
            one_time, remaining = one_time_prekeys.consume(header.one_time_prekey_id)
            outputs.append(dh(one_time, header.ephemeral))
    except (PrekeyError, BundleError):
        raise
    except SessionError as exc:
        raise HandshakeError(str(exc)) from exc
    ad = header.initiator + header.initiator_dh + identity.nostr_public + identity.dh.public
    return _derive(outputs), ad, remaining
