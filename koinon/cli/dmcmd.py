"""`koinon dm init|send|read|history`: forward-secret, franked direct messages (X3DH + Double
Ratchet in gift wraps).

Every message is franked: the sender commits to it with a fresh franking key and gets its own
node to stamp the commitment (NIP-98-authenticated HTTP, `koinon.cli.stamping`); key, opening and
stamp travel inside the ratchet ciphertext. A copy goes to the sender's own other devices. The
reader drops messages whose commitment does not open or whose stamp is not a trusted node's.
This device's state is sealed at rest (`koinon.cli.dmstore`).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from typing import Any

from koinon.cli import stamping
from koinon.cli.bundles import (
    ONE_TIME_PREKEYS,
    bundle_stale,
    fetch_bundles,
    publish_bundle,
    replenish_prekeys,
)
from koinon.cli.client import RelayClient, RelayError
from koinon.cli.dmstore import STATE_FILE, DmError, Entry, State, folder, load, store, unlock
from koinon.cli.lines import add_history_options, warn, when
from koinon.cli.social import add_client_options
from koinon.core.event import parse_event
from koinon.core.keys import SecretKey, npub, parse_public_key
from koinon.errors import KoinonError
from koinon.messaging import dm, franking, group_message
from koinon.messaging.franked_dm import FrankedMessage, FrankingError, check_received, frank
from koinon.messaging.giftwrap import GIFT_WRAP_KIND, UnwrappedMessage, unwrap, wrap_rumor
from koinon.messaging.group_control import Device
from koinon.sessions.prekeys import PrekeyBundle

# -- commands -----------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    add_client_options(parser, home_help="folder holding your key and DM state")


def register(commands: Any) -> None:
    """Add `koinon dm`."""
    top = commands.add_parser(
        "dm",
        help="forward-secret direct messages",
        description="Direct messages with forward secrecy and franking: X3DH and a Double "
        "Ratchet per device, carried in NIP-59 gift wraps, each message stamped by your node.",
    )
    sub = top.add_subparsers(dest="dm_command", metavar="ACTION", required=True)
    init = sub.add_parser(
        "init",
        help="set up this device and publish its prekey bundle",
        description="Create this device's X25519 identity, signed prekey and one-time prekeys "
        "(or top them up) and publish the prekey bundle (kind 30448).",
    )
    init.add_argument("--force", action="store_true", help="replace this device's keys")
    _common(init)
    init.set_defaults(run=dm_init)
    send = sub.add_parser(
        "send",
        help="send a direct message",
        description="Frank a message (commit to it, have your node stamp the commitment), "
        "encrypt it to every device of a person and a copy to your other devices, and publish "
        "the gift wraps.",
    )
    send.add_argument("person", help="npub1… or hex public key")
    send.add_argument("text", help="the message ('-' reads standard input)")
    send.add_argument(
        "--node", help="the node that stamps your messages (default: the --relay node)"
    )
    _common(send)
    send.set_defaults(run=dm_send)
    read = sub.add_parser(
        "read",
        help="read new direct messages",
        description="Authenticate to the relay, fetch your gift wraps and print new messages. "
        "Messages whose franking commitment does not open, or whose stamp is not signed by a "
        "trusted node (the --relay node and any --trust-node), are dropped with a warning.",
    )
    stamping.add_trust_option(read)
    _common(read)
    read.set_defaults(run=dm_read)
    history = sub.add_parser(
        "history",
        help="list this device's sent and received messages with their ids",
        description="Print the messages this device sent or received, oldest first, each with "
        "the id that 'koinon report create' takes. Reads only the local sealed state.",
    )
    history.add_argument("person", nargs="?", help="only the conversation with this person")
    add_history_options(history, "folder holding your key and DM state")
    history.set_defaults(run=dm_history)


async def dm_init(args: argparse.Namespace) -> int:
    """Create (or top up) this device and publish its bundle."""
    home, passphrase, key = unlock(args)
    exists = (folder(home) / STATE_FILE).exists()
    now = int(time.time())
    if exists and not args.force:
        state = load(home, passphrase, key.public_key)
        state.device.top_up(ONE_TIME_PREKEYS, os.urandom)
        state.device.rotate_signed_prekey(now, os.urandom)  # only when due
    else:
        device_id = os.urandom(8).hex()
        device = dm.LocalDevice.generate(device_id, ONE_TIME_PREKEYS, os.urandom, now)
        state = State(key.public_key, device, dm.DeviceSessions(os.urandom))
    async with RelayClient(args.relay) as client:
        store(home, passphrase, state)
        await publish_bundle(client, key, state)
    store(home, passphrase, state)
    print(f"device: {state.device.device_id}")
    print(
        f"published prekey bundle (kind {dm.BUNDLE_KIND}) with {len(state.device.one_time)} "
        "one-time prekeys"
    )
    return 0


async def _encrypt_to_devices(
    state: State,
    key: SecretKey,
    recipient: str,
    bundles: dict[str, PrekeyBundle],
    payload: bytes,
    now: int,
) -> list[Any]:
    """One gift wrap to `recipient` per device, each encrypted in that device's session."""
    identity = state.device.identity(key.raw)
    wraps = []
    for device, bundle in sorted(bundles.items()):
        content = dm.encrypt_bytes_for(
            state.sessions, identity, device, bundle, payload, os.urandom
        )
        rumor = dm.session_rumor(
            key.public_key, recipient, device, state.device.device_id, content, now
        )
        wraps.append(wrap_rumor(rumor, key.raw, recipient, now=now, random_bytes=os.urandom))
    return wraps


async def dm_send(args: argparse.Namespace) -> int:
    """Frank the message, get it stamped, encrypt it to each of the peer's devices and a copy to
    each of our other devices, and publish the wraps."""
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise DmError("the message is empty")
    peer = parse_public_key(args.person)
    home, passphrase, key = unlock(args)
    if peer == key.public_key:
        raise DmError("that is your own key: send to someone else")
    state = load(home, passphrase, key.public_key)
    now = int(time.time())
    async with RelayClient(args.relay) as client:
        found = await fetch_bundles(client, [peer, key.public_key])
        bundles, own = found.get(peer, {}), found.get(key.public_key, {})
        if not bundles:
            raise DmError(
                f"{npub(peer)} has no prekey bundle on {args.relay} (no 'koinon dm init')"
            )
        own.pop(state.device.device_id, None)
        plaintext = frank(text, os.urandom)
        commitment = franking.commitment_of(plaintext)
        stamp = await stamping.request_stamp(args.node or args.relay, key, commitment, peer)
        message = FrankedMessage(plaintext, stamp)
        copy = FrankedMessage(plaintext, stamp, copy_to=peer)
        wraps = await _encrypt_to_devices(state, key, peer, bundles, message.encode(), now)
        copies = await _encrypt_to_devices(state, key, key.public_key, own, copy.encode(), now)
        state.history.append(Entry(peer, True, message))
        store(home, passphrase, state)  # before publishing: a message key is never used twice
        for wrap in wraps + copies:
            result = await client.publish(wrap)
            if not result.accepted:
                raise RelayError(f"relay refused a message: {result.message}")
        if state.device.rotation_due(now):  # a device that only sends still rotates
            save = functools.partial(store, home, passphrase, state)
            for problem in await replenish_prekeys(client, key, state, save, now):
                warn(problem)
    also = f" and {len(copies)} other device(s) of yours" if copies else ""
    print(f"sent to {len(wraps)} device(s) of {npub(peer)}{also}")
    return 0


def _line(entry: Entry, me: str) -> str:
    """`time sender: text` for a received message, `time me -> peer: text` for a sent one."""
    if entry.outgoing:
        return f"{when(entry.message.at)} {npub(me)} -> {npub(entry.peer)}: {entry.message.text}"
    return f"{when(entry.message.at)} {npub(entry.peer)}: {entry.message.text}"


def _accept(
    state: State, key: SecretKey, message: UnwrappedMessage, trusted: set[str]
) -> Entry | None:
    """Decrypt and check one session message; None (with a warning) when it must be dropped.

    A message that decrypts but fails the franking checks has still moved the ratchet on, as the
    sender's did: the session stays in step and the next message decrypts.
    """
    me, sender = key.public_key, message.sender
    try:
        plaintext = dm.decrypt_bytes_from(
            state.sessions, state.device, key.raw, sender, message.rumor, os.urandom
        )
    except KoinonError as exc:
        warn(f"could not decrypt a message from {npub(sender)}: {exc}")
        return None
    try:
        franked = FrankedMessage.decode(plaintext)
        peer = check_received(franked, sender, me, trusted)
    except FrankingError as exc:
        warn(f"dropped a message from {npub(sender)}: {exc}")
        return None
    return Entry(peer, sender == me, franked)


async def dm_read(args: argparse.Namespace) -> int:
    """Print new messages for this device, oldest first."""
    home, passphrase, key = unlock(args)
    state = load(home, passphrase, key.public_key)
    me = key.public_key
    async with RelayClient(args.relay) as client:
        await client.authenticate(key.raw)
        found = await client.query([{"kinds": [GIFT_WRAP_KIND], "#p": [me]}])
        opened, left_for_groups = [], []
        own = Device(me, state.device.device_id)
        for raw in found:
            wrap_id = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(wrap_id, str) or wrap_id in state.processed:
                continue
            try:
                message = unwrap(parse_event(raw), key.raw)
            except KoinonError as exc:
                state.processed.add(wrap_id)
                warn(f"skipped an unreadable gift wrap: {exc}")
                continue
            if message.rumor.kind != dm.SESSION_MESSAGE_KIND:
                if group_message.is_control_for(message.rumor, own):
                    left_for_groups.append(message.rumor)  # `group read` takes it in
                continue  # another command's (group chats, plain NIP-17): left for it
            state.processed.add(wrap_id)
            if dm.addressed_device(message.rumor, me) == state.device.device_id:
                opened.append(message)
        opened.sort(key=lambda m: (m.rumor.created_at, m.rumor.id))
        trusted = await stamping.trusted_nodes(args.relay, args.trust_node) if opened else set()
        prekeys_before = len(state.device.one_time)
        lines = []
        for message in opened:
            entry = _accept(state, key, message, trusted)
            if entry is not None:
                state.history.append(entry)
                lines.append(_line(entry, me))
        now = int(time.time())
        for rumor in left_for_groups:  # their prekeys outlive the grace until they are read
            dm.note_unread_handshake(state.device, rumor, now)
        state.device.forget_consumed(now)  # all fetched wraps are taken in or noted
        state.device.forget_signed_prekeys(now)
        store(home, passphrase, state)
        if bundle_stale(state, prekeys_before, now):
            save = functools.partial(store, home, passphrase, state)
            for problem in await replenish_prekeys(client, key, state, save, now):
                warn(problem)
    for line in lines:
        print(line)
    return 0


def dm_history(args: argparse.Namespace) -> int:
    """Print this device's messages with their ids, oldest first."""
    if args.limit < 1:
        raise DmError("--limit must be at least 1")
    peer = parse_public_key(args.person) if args.person else None
    home, passphrase, key = unlock(args)
    state = load(home, passphrase, key.public_key)
    entries = [e for e in state.history if peer is None or e.peer == peer]
    entries.sort(key=lambda e: e.message.at)
    for entry in entries[-args.limit :]:
        print(f"{entry.message.id[:16]} {_line(entry, key.public_key)}")
    return 0
