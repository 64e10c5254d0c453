"""The group chat transport of the CLI: open this device's sealed state, fetch and take in what
arrived, and deliver controls and group messages over the relay.

The group state lives in `$KOINON_HOME/group/state.sealed` (see `sealedfile`); the pairwise
sessions it sends controls over are the DM device's, in `$KOINON_HOME/dm/` (see `dmstore`). Both are
written before anything is published, so no message key is ever used twice.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from koinon.cli import dmstore, stamping
from koinon.cli.bundles import bundle_stale, fetch_bundles, replenish_prekeys
from koinon.cli.client import RelayClient, RelayError
from koinon.cli.sealedfile import SealedFile
from koinon.core.event import parse_event
from koinon.core.keys import SecretKey, npub
from koinon.errors import KoinonError
from koinon.messaging import dm, group_chat, group_message
from koinon.messaging.giftwrap import GIFT_WRAP_KIND, TIMESTAMP_WINDOW, unwrap, wrap_rumor
from koinon.messaging.group_chat import Broadcast, Delivery
from koinon.messaging.group_control import (
    GROUP_MESSAGE_KIND,
    Device,
    GroupChatError,
    encode_controls,
    parse_controls,
)
from koinon.messaging.group_state import GroupStore
from koinon.sessions.errors import StateError

STATE_FILE = "state.sealed"
_MAGIC = b"KGR1"
_AAD = b"koinon/group/state/v1"
_CLOCK_SLACK = 3600  # a sender's clock may run this far behind ours
_PAGE = 1000


@dataclass
class Context:
    """The unlocked key and both states of this device, for one command."""

    passphrase: str
    key: SecretKey
    dm_home: Path
    dm_state: dmstore.State
    sealed: SealedFile
    store: GroupStore

    @property
    def own(self) -> Device:
        """This device as a group member."""
        return self.store.owner

    def save(self) -> None:
        """Seal and write the group state, then the DM state."""
        self.sealed.write(self.passphrase, self.store.to_bytes())
        dmstore.store(self.dm_home, self.passphrase, self.dm_state)


def open_context(args: argparse.Namespace) -> Context:
    """Unlock the key (one passphrase for everything) and open the DM and group states."""
    home, passphrase, key = dmstore.unlock(args)
    dm_state = dmstore.load(home, passphrase, key.public_key)
    own = Device(key.public_key, dm_state.device.device_id)
    sealed = SealedFile(home / "group" / STATE_FILE, _MAGIC, _AAD)
    if not sealed.exists():
        return Context(passphrase, key, home, dm_state, sealed, GroupStore(own))
    try:
        store = GroupStore.from_bytes(sealed.read(passphrase), os.urandom)
    except StateError as exc:
        raise GroupChatError(f"{sealed.path}: {exc}") from None
    if store.owner != own:
        raise GroupChatError(
            f"{sealed.path} belongs to another key or DM device; move it away to start over"
        )
    return Context(passphrase, key, home, dm_state, sealed, store)


# -- fetching -----------------------------------------------------------------------------------


async def fetch_wraps(client: RelayClient, me: str, since: int) -> list[dict[str, Any]]:
    """Every gift wrap for `me` created since `since`, page by page."""
    found: dict[str, dict[str, Any]] = {}
    until: int | None = None
    while True:
        wanted: dict[str, Any] = {"kinds": [GIFT_WRAP_KIND], "#p": [me], "since": since}
        wanted["limit"] = _PAGE
        if until is not None:
            wanted["until"] = until
        page = [e for e in await client.query([wanted], "group") if isinstance(e, dict)]
        fresh = [e for e in page if isinstance(e.get("id"), str) and e["id"] not in found]
        if not fresh:
            return list(found.values())
        found.update((e["id"], e) for e in fresh)
        times = [e["created_at"] for e in page if type(e.get("created_at")) is int]
        if not times:
            return list(found.values())
        until = min(times)


# -- taking in ----------------------------------------------------------------------------------


async def sync(
    client: RelayClient, ctx: Context, now: int, trust_node: Sequence[str] = ()
) -> list[str]:
    """Authenticate, fetch new gift wraps and take in the group ones; the warnings.

    Messages are shown only when stamped by the relay's node or a `trust_node` key; the node's
    key is asked for only when a message waits to be read.
    """
    await client.authenticate(ctx.key.raw)
    store, me = ctx.store, ctx.key.public_key
    since = max(0, store.since - TIMESTAMP_WINDOW - _CLOCK_SLACK)
    fetched = await fetch_wraps(client, me, since)
    controls, messages, left_for_dm = [], [], []
    for raw in fetched:
        if raw["id"] in store.processed:
            continue
        store.processed.add(raw["id"])
        try:
            opened = unwrap(parse_event(raw), ctx.key.raw)
        except KoinonError:
            continue  # not for us to judge: `dm read` reports unreadable wraps
        if group_message.is_control_for(opened.rumor, ctx.own):
            controls.append(opened)
        elif opened.rumor.kind == GROUP_MESSAGE_KIND:
            messages.append(opened)
        elif dm.addressed_device(opened.rumor, me) == ctx.own.device_id:
            left_for_dm.append(opened.rumor)  # `dm read` takes it in
    store.processed &= {raw["id"] for raw in fetched}  # older wraps are never fetched again
    prekeys_before = len(ctx.dm_state.device.one_time)
    warnings: list[str] = []
    batches = []
    for opened in sorted(controls, key=lambda m: (m.rumor.created_at, m.rumor.id)):
        rumor = opened.rumor
        try:
            text = dm.decrypt_from(
                ctx.dm_state.sessions,
                ctx.dm_state.device,
                ctx.key.raw,
                opened.sender,
                rumor,
                os.urandom,
            )
            sender = Device(opened.sender, rumor.tag_values("sender_device")[0])
            parsed = parse_controls(text)
        except KoinonError as exc:
            warnings.append(f"could not read a group control from {npub(opened.sender)}: {exc}")
            continue
        batches.append((sender, parsed, rumor.created_at))
    warnings += group_chat.accept_batches(store, ctx.own, batches, os.urandom)
    for opened in messages:
        rumor = opened.rumor
        try:
            group_chat.accept_message(
                store, ctx.own, opened.sender, rumor.id, rumor.created_at, rumor.content
            )
        except KoinonError as exc:
            warnings.append(f"dropped a group message from {npub(opened.sender)}: {exc}")
    waiting = any(chat.waiting for chat in store.groups.values())
    trusted = await stamping.trusted_nodes(client.url, trust_node) if waiting else set()
    warnings += group_chat.settle(store, now, trusted)
    store.since = now
    for rumor in left_for_dm:  # their prekeys outlive the grace until they are read
        dm.note_unread_handshake(ctx.dm_state.device, rumor, now)
    ctx.dm_state.device.forget_consumed(now)  # all fetched wraps are taken in or noted
    ctx.dm_state.device.forget_signed_prekeys(now)
    if bundle_stale(ctx.dm_state, prekeys_before, now):
        warnings += await replenish_prekeys(client, ctx.key, ctx.dm_state, ctx.save, now)
    return warnings


# -- sending ------------------------------------------------------------------------------------


async def deliver(
    client: RelayClient,
    ctx: Context,
    deliveries: Sequence[Delivery],
    broadcasts: Sequence[Broadcast],
    now: int,
) -> list[str]:
    """Encrypt and publish controls (pairwise) and group messages; the warnings."""
    merged = group_chat.merge(deliveries)
    bundles = await fetch_bundles(client, {delivery.to.pubkey for delivery in merged})
    identity = ctx.dm_state.device.identity(ctx.key.raw)
    warnings, wraps, sent = [], [], []
    for delivery in merged:
        to = delivery.to
        bundle = bundles.get(to.pubkey, {}).get(to.device_id)
        if bundle is None:
            warnings.append(f"device {to.device_id} of {npub(to.pubkey)} has no prekey bundle")
            continue
        text = encode_controls(delivery.controls)
        content = dm.encrypt_for(
            ctx.dm_state.sessions, identity, to.device_id, bundle, text, os.urandom
        )
        rumor = group_message.control_rumor(ctx.own, to, content, now)
        wraps.append(wrap_rumor(rumor, ctx.key.raw, to.pubkey, now=now, random_bytes=os.urandom))
        sent.append(delivery)
    for broadcast in broadcasts:
        rumor = group_message.message_rumor(ctx.key.public_key, broadcast.content, now)
        for pubkey in broadcast.recipients:
            wraps.append(wrap_rumor(rumor, ctx.key.raw, pubkey, now=now, random_bytes=os.urandom))
    ctx.save()  # before publishing: a message key is never used twice
    for wrap in wraps:
        result = await client.publish(wrap)
        if not result.accepted:
            raise RelayError(f"relay refused a group message: {result.message}")
    group_chat.mark_shared(ctx.store, sent)
    ctx.save()
    return warnings
