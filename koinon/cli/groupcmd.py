"""`koinon group create|add|remove|send|read|history|list`: group chats with sender keys.

Every member device has a sender key per epoch and shares it over the pairwise sessions of
`koinon dm`; a message is franked like a direct message (its stamp names a fresh audience digest,
not the group), encrypted once and gift-wrapped to each member. Only the group's admin
(the device that created it) adds and removes members, and a removal gives the group new keys.
Every command that talks to the relay first takes in what arrived, so that a removal is applied
before anything more is sent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from koinon.cli import stamping
from koinon.cli.bundles import fetch_bundles
from koinon.cli.client import RelayClient
from koinon.cli.groupsync import Context, deliver, open_context, sync
from koinon.cli.lines import add_history_options, warn, when
from koinon.cli.social import add_client_options
from koinon.core.keys import npub, parse_public_key
from koinon.messaging import franking, group_chat
from koinon.messaging.franked_dm import frank
from koinon.messaging.franked_group import FrankedGroupMessage
from koinon.messaging.group_chat import Broadcast, Delivery
from koinon.messaging.group_control import Device, GroupChatError, check_name
from koinon.messaging.group_state import Entry, GroupChat
from koinon.sessions.group_wire import MAX_MEMBERS
from koinon.sessions.prekeys import PrekeyBundle


def register(commands: Any) -> None:
    """Add `koinon group`."""
    top = commands.add_parser(
        "group",
        help="end-to-end encrypted group chats",
        description="Group chats of up to "
        f"{MAX_MEMBERS} member devices: sender keys shared over the pairwise sessions of "
        "'koinon dm' (run 'koinon dm init' first), messages encrypted once and gift-wrapped "
        "to each member. Removing a member gives the group new keys.",
    )
    sub = top.add_subparsers(dest="group_command", metavar="ACTION", required=True)

    create = sub.add_parser(
        "create",
        help="create a group",
        description="Create a group with you as its admin and send each member device a welcome.",
    )
    create.add_argument("name", help="the group's name (1-100 characters)")
    create.add_argument(
        "--member",
        "-m",
        action="append",
        default=[],
        metavar="NPUB",
        help="a person to include, every device of theirs (repeatable)",
    )
    _common(create, group_command_create)

    add = sub.add_parser(
        "add",
        help="add a person to a group you administer",
        description="Add every device of a person; they cannot read what was sent before.",
    )
    add.add_argument("group", help="group name or id")
    add.add_argument("person", help="npub1… or hex public key")
    _common(add, group_command_add)

    remove = sub.add_parser(
        "remove",
        help="remove a person from a group you administer",
        description="Remove every device of a person and give the group new sender keys, so "
        "they cannot read anything sent afterwards.",
    )
    remove.add_argument("group", help="group name or id")
    remove.add_argument("person", help="npub1… or hex public key")
    _common(remove, group_command_remove)

    send = sub.add_parser(
        "send",
        help="send a message to a group",
        description="Take in membership changes, frank the message (commit to it, have your "
        "node stamp the commitment for the group's audience), then encrypt once with your "
        "sender key and gift-wrap it to every member.",
    )
    send.add_argument("group", help="group name or id")
    send.add_argument("text", help="the message ('-' reads standard input)")
    send.add_argument(
        "--node", help="the node that stamps your messages (default: the --relay node)"
    )
    _common(send, group_command_send)

    read = sub.add_parser(
        "read",
        help="read new group messages",
        description="Authenticate to the relay, take in group messages and membership changes, "
        "and print what is new (of one group, or of all). Messages whose franking commitment "
        "does not open, or whose stamp is not signed by a trusted node (the --relay node and "
        "any --trust-node), are dropped with a warning.",
    )
    read.add_argument("group", nargs="?", help="only this group (name or id)")
    _common(read, group_command_read)

    history = sub.add_parser(
        "history",
        help="list this device's group messages with their ids",
        description="Print the group messages this device sent or showed, oldest first, each "
        "with the id that 'koinon report create' takes. Reads only the local sealed state.",
    )
    history.add_argument("group", nargs="?", help="only this group (name or id)")
    add_history_options(history, "folder holding your key, DM and group state")
    history.set_defaults(run=group_command_history)

    listing = sub.add_parser(
        "list",
        help="list your groups",
        description="Print each group's id, name, admin, epoch and members (no relay needed).",
    )
    listing.add_argument("--home", help="folder holding your key, DM and group state")
    listing.set_defaults(run=group_command_list)


def _common(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], Any]) -> None:
    add_client_options(parser, home_help="folder holding your key, DM and group state")
    stamping.add_trust_option(parser)
    parser.set_defaults(run=run)


def _devices_of(
    bundles: dict[str, dict[str, PrekeyBundle]], pubkey: str, relay: str
) -> list[Device]:
    devices = [Device(pubkey, device) for device in sorted(bundles.get(pubkey, {}))]
    if not devices:
        raise GroupChatError(
            f"{npub(pubkey)} has no prekey bundle on {relay} (they must run 'koinon dm init')"
        )
    return devices


@dataclass
class _Exchange:
    """One round with the relay: what arrived is taken in first; what the command adds to
    `deliveries` and `broadcasts` is sent at the end."""

    ctx: Context
    client: RelayClient
    deliveries: list[Delivery] = field(default_factory=list)
    broadcasts: list[Broadcast] = field(default_factory=list)


@contextlib.asynccontextmanager
async def _exchange(args: argparse.Namespace) -> AsyncIterator[_Exchange]:
    """Open this device's state, take in what arrived, let the command act, then deliver what it
    made and print the warnings. Nothing is sent if the command fails."""
    ctx = open_context(args)
    now = int(time.time())
    async with RelayClient(args.relay) as client:
        warnings = await sync(client, ctx, now, args.trust_node)
        exchange = _Exchange(ctx, client)
        yield exchange
        warnings += await deliver(client, ctx, exchange.deliveries, exchange.broadcasts, now)
    for message in warnings:
        warn(message)


async def group_command_create(args: argparse.Namespace) -> int:
    """Create a group of us (all our devices) and the given people."""
    name = check_name(args.name)
    people = list(dict.fromkeys(parse_public_key(person) for person in args.member))
    async with _exchange(args) as ex:
        me, own = ex.ctx.key.public_key, ex.ctx.own
        bundles = await fetch_bundles(ex.client, [me, *people])
        members = [Device(me, d) for d in bundles.get(me, {}) if d != own.device_id]
        for person in people:
            if person != me:
                members += _devices_of(bundles, person, args.relay)
        chat, ex.deliveries = group_chat.create(ex.ctx.store, own, name, members, os.urandom)
        ex.deliveries += group_chat.key_shares(ex.ctx.store)
    print(f"created group {chat.name!r} ({chat.short_id}) with {len(chat.devices)} member devices")
    return 0


async def group_command_add(args: argparse.Namespace) -> int:
    """Add every device of a person to a group we administer."""
    person = parse_public_key(args.person)
    async with _exchange(args) as ex:
        chat = ex.ctx.store.find(args.group)
        bundles = await fetch_bundles(ex.client, [person])
        joiners = _devices_of(bundles, person, args.relay)
        ex.deliveries = group_chat.add(chat, ex.ctx.own, joiners)
        ex.deliveries += group_chat.key_shares(ex.ctx.store)
    print(f"added {npub(person)} to {chat.name!r} ({len(chat.devices)} member devices)")
    return 0


async def group_command_remove(args: argparse.Namespace) -> int:
    """Remove a person from a group we administer; the group gets new keys."""
    person = parse_public_key(args.person)
    async with _exchange(args) as ex:
        chat = ex.ctx.store.find(args.group)
        ex.deliveries = group_chat.remove(chat, ex.ctx.own, person)
        ex.deliveries += group_chat.key_shares(ex.ctx.store)
    print(f"removed {npub(person)} from {chat.name!r}; new epoch {chat.state.epoch}")
    return 0


async def group_command_send(args: argparse.Namespace) -> int:
    """Frank a message, have our node stamp it, and send it to a group, after taking in what
    arrived. No stamp, no message: the sender key is used only once the stamp is here."""
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise GroupChatError("the message is empty")
    async with _exchange(args) as ex:
        chat = ex.ctx.store.find(args.group)
        audience = group_chat.audience(chat, os.urandom)
        plaintext = frank(text, os.urandom)
        commitment = franking.commitment_of(plaintext)
        node = args.node or args.relay
        stamp = await stamping.request_stamp(node, ex.ctx.key, commitment, audience.digest())
        message = FrankedGroupMessage(plaintext, stamp, audience)
        ex.deliveries = group_chat.key_shares(ex.ctx.store)  # first: encrypting moves it on
        ex.broadcasts = [group_chat.encrypt(ex.ctx.store, chat, message)]
    print(f"sent to {len(message.audience.members)} member(s) of {chat.name!r}")
    return 0


def _line(ctx: Context, entry: Entry) -> str:
    at, name = when(entry.created_at), ctx.store.groups[entry.group_id].name
    if entry.notice:
        return f"{at} [{name}] * {entry.text}"
    return f"{at} [{name}] {npub(entry.sender)}: {entry.text}"


async def group_command_read(args: argparse.Namespace) -> int:
    """Take in what arrived, share our keys where needed, and print new lines."""
    async with _exchange(args) as ex:
        ex.deliveries = group_chat.key_shares(ex.ctx.store)
    ctx = ex.ctx
    only = ctx.store.find(args.group).group_id if args.group else None
    entries = ctx.store.take_inbox(only)
    ctx.save()
    for entry in entries:
        print(_line(ctx, entry))
    return 0


def group_command_history(args: argparse.Namespace) -> int:
    """Print this device's group messages with their ids, oldest first."""
    if args.limit < 1:
        raise GroupChatError("--limit must be at least 1")
    ctx = open_context(args)
    only = ctx.store.find(args.group).group_id if args.group else None
    kept = [f for f in ctx.store.history if only is None or f.group_id == only]
    kept.sort(key=lambda f: f.message.at)
    for franked in kept[-args.limit :]:
        name = ctx.store.groups[franked.group_id].name
        message = franked.message
        line = f"{when(message.at)} [{name}] {npub(franked.sender)}: {message.text}"
        print(f"{message.id[:16]} {line}")
    return 0


def _describe(ctx: Context, chat: GroupChat) -> list[str]:
    admin = "you" if chat.admin == ctx.own else npub(chat.admin.pubkey)
    people = sorted({device.pubkey for device in chat.devices.values()})
    status = " (you were removed)" if chat.removed else ""
    head = (
        f"{chat.short_id}  {chat.name}  {len(people)} people, {len(chat.devices)} devices, "
        f"epoch {chat.state.epoch}, admin {admin}{status}"
    )
    return [head, *(f"  {npub(pubkey)}" for pubkey in people)]


def group_command_list(args: argparse.Namespace) -> int:
    """Print every group of this device."""
    ctx = open_context(args)
    for chat in sorted(ctx.store.groups.values(), key=lambda c: (c.name, c.short_id)):
        for line in _describe(ctx, chat):
            print(line)
    return 0
