"""Forward-secret direct messages: X3DH + Double Ratchet sessions carried inside NIP-59 gift wraps.

Pure helpers, no I/O. Wire formats:

* Prekey bundle: addressable event kind 30448 signed by the user's Nostr key, `d` tag = device id,
  content = `PrekeyBundle.to_json()`; the bundle's identity must be the event's author.
* Session message: rumor kind 1448 (sealed and gift-wrapped to the recipient), tags
  `["p", recipient]`, `["device", recipient device]`, `["sender_device", own device]`, content =
  base64(flag u8 || [X3DH initial header, 170 bytes, when flag = 1] || ratchet message). The
  initiator repeats the header on every message until the peer's first answer arrives. The ratchet
  plaintext is the JSON object {"v": 1, "text": ...} (unfranked, `encrypt_for`) or a franked
  message ({"v": 2, ...}, `franked_dm`), which is what `koinon dm` sends.

Session state (`dm_state`) per (peer Nostr key, peer device) is a short list of ratchets, most
recently used first: after both sides initiated at once, the list holds both sessions and the
next message settles which one is used.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json

from koinon.core.event import Event, verify_event
from koinon.messaging.dm_state import DeviceSessions, LocalDevice, Session, check_device_id
from koinon.messaging.giftwrap import Rumor, make_rumor
from koinon.messaging.waiting_handshakes import WaitingHandshake
from koinon.sessions.errors import BundleError, DecryptError, HandshakeError
from koinon.sessions.prekeys import IdentityKeys, PrekeyBundle
from koinon.sessions.primitives import Random
from koinon.sessions.ratchet import Ratchet
from koinon.sessions.x3dh import InitialMessageHeader, initiate, respond

BUNDLE_KIND = 30448
SESSION_MESSAGE_KIND = 1448
_NO_HEADER, _WITH_HEADER = 0, 1


class DirectMessageError(DecryptError):
    """A session message is malformed, not for this device, or cannot be decrypted."""


# -- bundles ----------------------------------------------------------------------------------


def bundle_event_template(device_id: str, bundle: PrekeyBundle) -> tuple[int, str, list[list[str]]]:
    """(kind, content, tags) of the bundle event; the caller signs it with the identity's key."""
    return BUNDLE_KIND, bundle.to_json(), [["d", check_device_id(device_id)]]


def parse_bundle_event(event: Event) -> tuple[str, PrekeyBundle]:
    """(device id, verified bundle) of a kind-30448 event signed by the bundle's identity."""
    if event.kind != BUNDLE_KIND:
        raise BundleError(f"a prekey bundle event is kind {BUNDLE_KIND}")
    verify_event(event)
    device_id = check_device_id(event.first_tag("d"))
    bundle = PrekeyBundle.from_json(event.content)
    if bundle.identity != event.pubkey:
        raise BundleError("bundle identity is not the event's author")
    return device_id, bundle


# -- messages ---------------------------------------------------------------------------------


def _payload(text: str) -> bytes:
    return json.dumps({"v": 1, "text": text}, separators=(",", ":")).encode()


def _text(plaintext: bytes) -> str:
    try:
        data = json.loads(plaintext)
        if data["v"] != 1 or not isinstance(data["text"], str):
            raise ValueError("bad payload")
        return str(data["text"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DirectMessageError("malformed message payload") from exc


def encrypt_for(
    sessions: DeviceSessions,
    identity: IdentityKeys,
    peer_device: str,
    peer_bundle: PrekeyBundle,
    text: str,
    random: Random,
) -> str:
    """The rumor content carrying `text` (an unfranked v1 payload) to one peer device."""
    return encrypt_bytes_for(sessions, identity, peer_device, peer_bundle, _payload(text), random)


def encrypt_bytes_for(
    sessions: DeviceSessions,
    identity: IdentityKeys,
    peer_device: str,
    peer_bundle: PrekeyBundle,
    plaintext: bytes,
    random: Random,
) -> str:
    """The rumor content carrying `plaintext` to one peer device, starting X3DH if needed."""
    peer = peer_bundle.identity
    current = sessions.get(peer, peer_device)
    session = current[0] if current else None
    if session is None or session.peer_identity_dh != peer_bundle.identity_dh:
        bundle = peer_bundle
        if bundle.one_time_prekeys:  # a random one: clashes are tolerated, but rarer is better
            pick = int.from_bytes(random(4), "big") % len(bundle.one_time_prekeys)
            bundle = dataclasses.replace(bundle, one_time_prekeys=(bundle.one_time_prekeys[pick],))
        secret, ad, header = initiate(identity, bundle, random)
        ratchet = Ratchet.initiator(secret, ad, bundle.signed_prekey, random)
        session = Session(ratchet, peer_bundle.identity_dh, header.to_bytes())
    message = session.ratchet.encrypt(plaintext)
    sessions.put_first(peer, peer_device, session)
    if session.pending_header is None:
        wire = bytes((_NO_HEADER,)) + message
    else:
        wire = bytes((_WITH_HEADER,)) + session.pending_header + message
    return base64.b64encode(wire).decode()


def session_rumor(
    sender: str, recipient: str, recipient_device: str, own_device: str, content: str, now: int
) -> Rumor:
    """The kind-1448 rumor to seal and gift-wrap to `recipient`."""
    tags = [["p", recipient], ["device", recipient_device], ["sender_device", own_device]]
    return make_rumor(sender, kind=SESSION_MESSAGE_KIND, content=content, created_at=now, tags=tags)


def addressed_device(rumor: Rumor, me: str) -> str | None:
    """The device a session rumor for `me` is addressed to (None: not a session message to me)."""
    if rumor.kind != SESSION_MESSAGE_KIND or me not in rumor.tag_values("p"):
        return None
    devices = rumor.tag_values("device")
    return devices[0] if len(devices) == 1 else None


def note_unread_handshake(local: LocalDevice, rumor: Rumor, now: int) -> bool:
    """Note the X3DH header of a session rumor that this command leaves for another to read, so
    the prekeys it names are kept until it is read (`waiting_handshakes`); whether it waits.

    Only the header is parsed, nothing is decrypted: a rumor without a well-formed header from
    its own author notes nothing.
    """
    try:
        wire = base64.b64decode(rumor.content, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(wire) < 1 + InitialMessageHeader.SIZE or wire[0] != _WITH_HEADER:
        return False
    try:
        header = InitialMessageHeader.from_bytes(wire[1 : 1 + InitialMessageHeader.SIZE])
    except HandshakeError:
        return False
    if header.initiator.hex() != rumor.pubkey:
        return False
    handshake = WaitingHandshake(
        header.signed_prekey_id, header.one_time_prekey_id, header.ephemeral, rumor.created_at
    )
    return local.note_waiting(handshake, now)


def decrypt_from(
    sessions: DeviceSessions,
    local: LocalDevice,
    nostr_secret: bytes,
    sender: str,
    rumor: Rumor,
    random: Random,
) -> str:
    """The text of a session rumor (an unfranked v1 payload) from `sender`."""
    return _text(decrypt_bytes_from(sessions, local, nostr_secret, sender, rumor, random))


def decrypt_bytes_from(
    sessions: DeviceSessions,
    local: LocalDevice,
    nostr_secret: bytes,
    sender: str,
    rumor: Rumor,
    random: Random,
) -> bytes:
    """The ratchet plaintext of a session rumor from `sender` (the seal's authenticated author).

    Tries the existing sessions with the sender's device, then answers an X3DH header whose
    ephemeral key was not seen before. Its one-time prekey moves to the consumed ones, which still
    answer other initiators that picked the same key until `LocalDevice.forget_consumed` drops it
    (see `koinon.messaging.consumed_prekeys`). The ephemeral is remembered, to refuse replays,
    as long as the signed prekey it was answered on (`koinon.messaging.signed_prekeys`). State
    changes only when a message decrypts.
    """
    sender_devices = rumor.tag_values("sender_device")
    if rumor.pubkey != sender or len(sender_devices) != 1:
        raise DirectMessageError("session message without one sender device")
    device = check_device_id(sender_devices[0])
    try:
        wire = base64.b64decode(rumor.content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DirectMessageError("session message is not base64") from exc
    if not wire or wire[0] not in (_NO_HEADER, _WITH_HEADER):
        raise DirectMessageError("unknown session message flag")
    header_bytes = wire[1 : 1 + InitialMessageHeader.SIZE] if wire[0] == _WITH_HEADER else None
    message = wire[1 + InitialMessageHeader.SIZE :] if header_bytes else wire[1:]
    last_error: DecryptError = DirectMessageError("no session with this device")
    for session in sessions.get(sender, device):
        try:
            plaintext = session.ratchet.decrypt(message)
        except DecryptError as exc:
            last_error = exc
            continue
        session.pending_header = None  # the peer has answered: no more X3DH header
        sessions.put_first(sender, device, session)
        return plaintext
    if header_bytes is None:
        raise last_error
    header = InitialMessageHeader.from_bytes(header_bytes)
    if header.initiator.hex() != sender:
        raise HandshakeError("X3DH initiator is not the message's sender")
    if local.has_seen(header.signed_prekey_id, header.ephemeral):
        raise last_error
    identity = local.identity(nostr_secret)
    spks = local.signed_prekeys  # a deleted one raises "signed prekey N unknown or expired"
    secret, ad, _ = respond(identity, spks, local.handshake_prekeys(), header)
    spk = spks[header.signed_prekey_id]
    ratchet = Ratchet.responder(secret, ad, spk, random)
    plaintext = ratchet.decrypt(message)
    if header.one_time_prekey_id is not None:
        local.consume(header.one_time_prekey_id)  # kept a while: another initiator may share it
    local.record_seen(header.signed_prekey_id, header.ephemeral)
    sessions.put_first(sender, device, Session(ratchet, header.initiator_dh, None))
    return plaintext


__all__ = [
    "BUNDLE_KIND",
    "SESSION_MESSAGE_KIND",
    "DeviceSessions",
    "DirectMessageError",
    "LocalDevice",
    "addressed_device",
    "bundle_event_template",
    "check_device_id",
    "decrypt_bytes_from",
    "decrypt_from",
    "encrypt_bytes_for",
    "encrypt_for",
    "note_unread_handshake",
    "parse_bundle_event",
    "session_rumor",
]
