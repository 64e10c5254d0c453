"""Group chats over Koinon sessions, sans I/O: create a group, add and remove members, send, and
take in what arrives. The caller delivers each `Delivery` as a control rumor (kind 1449) over the
pairwise session with one device, and each `Broadcast` as one gift wrap per member (kind 1450).

Only the admin (the device that created the group) changes its membership, and it numbers its
changes, so every member applies them in one order. Removal starts a new epoch: every remaining
member draws a new sender key and shares it with the remaining members only. A group message is
franked (`franked_group`: its stamp names an audience digest as recipient), then encrypted once
with the sender's chain (`koinon.sessions.groups`); its wire forms are in `group_message`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from koinon.core.keys import RandomBytes, npub
from koinon.messaging.audience import Audience, make_audience
from koinon.messaging.franked_group import FrankedGroupMessage, check_group_message
from koinon.messaging.group_control import (
    Change,
    Control,
    Device,
    GroupChatError,
    KeyShare,
    Removed,
    Welcome,
    check_devices,
    check_name,
)
from koinon.messaging.group_message import message_content, parse_message_content
from koinon.messaging.group_state import (
    MAX_QUEUED,
    MAX_WAITING,
    Entry,
    Franked,
    GroupChat,
    GroupStore,
    Waiting,
)
from koinon.sessions.errors import DecryptError
from koinon.sessions.group_wire import GroupError, GroupMessage, Roster
from koinon.sessions.groups import GroupState, MissingSenderKey
from koinon.sessions.primitives import Random


@dataclass(frozen=True, slots=True)
class Delivery:
    """Controls for one member device, to send over the pairwise session with it."""

    to: Device
    controls: tuple[Control, ...]


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One group message (rumor content), to gift-wrap to each recipient's Nostr key."""

    group_id: bytes
    recipients: tuple[str, ...]
    content: str


# -- what the admin and senders do --------------------------------------------------------------


def _unique(devices: Sequence[Device], without: Device) -> list[Device]:
    seen: dict[Device, None] = {}
    for device in devices:
        if device.member != without.member:
            seen.setdefault(device, None)
    return list(seen)


def _welcome(chat: GroupChat) -> Welcome:
    members = tuple(chat.devices[m] for m in chat.state.members)
    return Welcome(chat.group_id, chat.name, chat.admin, chat.seq, chat.state.epoch, members)


def create(
    store: GroupStore, own: Device, name: str, members: Sequence[Device], random: Random
) -> tuple[GroupChat, list[Delivery]]:
    """A new group of `own` (its admin) and `members`, and the welcomes to send."""
    others = _unique(members, own)
    devices = [own, *others]
    check_devices(devices)
    state = GroupState.create(own.member, [d.member for d in others], random)
    chat = GroupChat(state, check_name(name), own, 0, {d.member: d for d in devices})
    store.groups[chat.group_id] = chat
    welcome = _welcome(chat)
    return chat, [Delivery(device, (welcome,)) for device in others]


def _require_admin(chat: GroupChat, own: Device) -> None:
    if chat.removed:
        raise GroupChatError(f"you are no longer a member of {chat.name!r}")
    if chat.admin != own:
        admin = npub(chat.admin.pubkey)
        raise GroupChatError(f"only the admin of {chat.name!r} ({admin}) changes its members")


def add(chat: GroupChat, own: Device, joiners: Sequence[Device]) -> list[Delivery]:
    """Admit `joiners` (no new epoch): a welcome to them, the change to everybody else."""
    _require_admin(chat, own)
    new = [d for d in _unique(joiners, own) if d.member not in chat.devices]
    if not new:
        raise GroupChatError(f"they are already members of {chat.name!r}")
    check_devices([*chat.devices.values(), *new])
    for device in new:
        chat.state.add(device.member)
        chat.devices[device.member] = device
    chat.seq += 1
    change = Change(chat.group_id, chat.seq, "add", chat.state.epoch, tuple(new))
    deliveries = [Delivery(d, (change,)) for d in chat.recipients() if d not in new]
    welcome = _welcome(chat)
    return deliveries + [Delivery(device, (welcome,)) for device in new]


def remove(chat: GroupChat, own: Device, pubkey: str) -> list[Delivery]:
    """Drop every device of `pubkey` and start a new epoch; tell the rest and the removed."""
    _require_admin(chat, own)
    if pubkey == own.pubkey:
        raise GroupChatError("the admin cannot remove itself from a group")
    gone = [device for device in chat.devices.values() if device.pubkey == pubkey]
    if not gone:
        raise GroupChatError(f"{npub(pubkey)} is not a member of {chat.name!r}")
    for device in gone:
        chat.state.remove(device.member)
        del chat.devices[device.member]
    _new_epoch(chat)
    chat.seq += 1
    change = Change(chat.group_id, chat.seq, "remove", chat.state.epoch, tuple(gone))
    notice = Removed(chat.group_id, chat.seq)
    deliveries = [Delivery(device, (change,)) for device in chat.recipients()]
    return deliveries + [Delivery(device, (notice,)) for device in gone]


def _new_epoch(chat: GroupChat) -> None:
    chat.shared_with = set()  # our new sender key has gone to nobody yet
    chat.keys = [(m, d) for m, d in chat.keys if d.epoch >= chat.state.epoch]


def key_shares(store: GroupStore) -> list[Delivery]:
    """Our current sender key for every member device of every group that lacks it.

    Take them before `encrypt`: a share carries the chain as it is now, and encrypting moves it on.
    """
    deliveries = []
    for chat in store.groups.values():
        if chat.removed:
            continue
        share = KeyShare(chat.group_id, chat.state.distribution())
        for device in chat.recipients():
            if device.member not in chat.shared_with:
                deliveries.append(Delivery(device, (share,)))
    return deliveries


def mark_shared(store: GroupStore, delivered: Sequence[Delivery]) -> None:
    """Remember whose devices now hold our sender key of the current epoch."""
    for delivery in delivered:
        for control in delivery.controls:
            chat = store.groups.get(control.group_id)
            if (
                isinstance(control, KeyShare)
                and chat is not None
                and control.distribution.epoch == chat.state.epoch
            ):
                chat.shared_with.add(delivery.to.member)


def merge(deliveries: Sequence[Delivery]) -> list[Delivery]:
    """One delivery per device, its controls in the order given."""
    by_device: dict[Device, list[Control]] = {}
    for delivery in deliveries:
        by_device.setdefault(delivery.to, []).extend(delivery.controls)
    return [Delivery(device, tuple(controls)) for device, controls in by_device.items()]


def _people(chat: GroupChat) -> set[str]:
    return {device.pubkey for device in chat.recipients()}


def audience(chat: GroupChat, random_bytes: RandomBytes) -> Audience:
    """A fresh audience for our next message: every person with a member device but this one."""
    if chat.removed:
        raise GroupChatError(f"you are no longer a member of {chat.name!r}")
    return make_audience(_people(chat), random_bytes)


def encrypt(store: GroupStore, chat: GroupChat, message: FrankedGroupMessage) -> Broadcast:
    """Encrypt a franked message once with our sender key, for every member's Nostr key, and
    keep it in the history. Its audience must be `audience(chat)`'s people."""
    if chat.removed:
        raise GroupChatError(f"you are no longer a member of {chat.name!r}")
    if set(message.audience.members) != _people(chat):
        raise GroupChatError(f"the message is not addressed to the members of {chat.name!r}")
    encrypted = chat.state.encrypt(message.encode())
    store.keep(Franked(chat.group_id, store.owner.pubkey, message))
    return Broadcast(chat.group_id, message.audience.members, message_content(encrypted))


# -- what arrives -------------------------------------------------------------------------------


def accept_controls(
    store: GroupStore,
    own: Device,
    sender: Device,
    controls: Sequence[Control],
    created_at: int,
    random: Random,
) -> list[str]:
    """Take in controls from `sender` (authenticated by the pairwise session); the warnings."""
    warnings = []
    for control in controls:
        try:
            _accept(store, own, sender, control, created_at, random)
        except (GroupChatError, GroupError) as exc:
            warnings.append(f"ignored a group control from {npub(sender.pubkey)}: {exc}")
    return warnings


def accept_batches(
    store: GroupStore,
    own: Device,
    batches: Sequence[tuple[Device, Sequence[Control], int]],
    random: Random,
) -> list[str]:
    """Take in (sender, controls, created_at) from one fetch, every welcome first.

    A member's first sender key can arrive in the same fetch as our welcome, stamped with the
    same second, so the order of arrival cannot decide.
    """
    warnings = []
    for welcomes in (True, False):
        for sender, controls, created_at in batches:
            chosen = [c for c in controls if isinstance(c, Welcome) is welcomes]
            if chosen:
                warnings += accept_controls(store, own, sender, chosen, created_at, random)
    return warnings


def _accept(
    store: GroupStore,
    own: Device,
    sender: Device,
    control: Control,
    created_at: int,
    random: Random,
) -> None:
    if isinstance(control, Welcome):
        _join(store, own, sender, control, created_at, random)
        return
    chat = store.groups.get(control.group_id)
    if chat is None:
        raise GroupChatError("control for a group this device is not in")
    if isinstance(control, KeyShare):
        if sender.member == own.member or control.distribution.epoch < chat.state.epoch:
            return
        if len(chat.keys) >= MAX_QUEUED:
            raise GroupChatError(f"too many sender keys waiting in {chat.name!r}")
        chat.keys.append((sender.member, control.distribution))
        return
    if sender != chat.admin:
        raise GroupChatError(f"membership change of {chat.name!r} not sent by its admin")
    if control.seq <= chat.seq:
        return  # already applied
    if len(chat.changes) >= MAX_QUEUED:
        raise GroupChatError(f"too many membership changes waiting in {chat.name!r}")
    chat.changes[control.seq] = control


def _join(
    store: GroupStore,
    own: Device,
    sender: Device,
    welcome: Welcome,
    created_at: int,
    random: Random,
) -> None:
    if sender != welcome.admin:
        raise GroupChatError("welcome not sent by the group's admin")
    if own not in welcome.members:
        raise GroupChatError("welcome to a group that does not list this device")
    current = store.groups.get(welcome.group_id)
    if current is not None:
        if current.admin != sender:
            raise GroupChatError(f"welcome to {current.name!r} not sent by its admin")
        if welcome.seq <= current.seq:
            return  # a repeat
        # Newer than what we hold (we were removed and added again): the admin's word stands.
    members = tuple(device.member for device in welcome.members)
    roster = Roster(welcome.group_id, welcome.epoch, members)
    state = GroupState.join(own.member, roster, random)
    devices = {device.member: device for device in welcome.members}
    store.groups[welcome.group_id] = GroupChat(
        state, welcome.name, welcome.admin, welcome.seq, devices
    )
    text = f"{npub(sender.pubkey)} added you to {welcome.name!r}"
    store.deliver(Entry(welcome.group_id, created_at, sender.pubkey, text, notice=True))


def accept_message(
    store: GroupStore, own: Device, sender: str, rumor_id: str, created_at: int, content: str
) -> None:
    """Queue a group message from `sender` (the seal's author); `settle` decrypts it."""
    message = parse_message_content(content)
    if message.sender.pubkey != sender:
        raise GroupChatError("group message sealed by someone other than its sender")
    if message.sender == own.member:
        return  # our own message, on the copy for our other devices
    chat = store.groups.get(message.group_id)
    if chat is None or chat.removed:
        raise GroupChatError("group message for a group this device is not in")
    chat.waiting.append(Waiting(rumor_id, created_at, message.to_bytes()))
    del chat.waiting[: max(len(chat.waiting) - MAX_WAITING, 0)]


def settle(store: GroupStore, now: int, trusted_nodes: Collection[str]) -> list[str]:
    """Apply what can be applied, in order, and decrypt what can be read; the warnings.

    For each group: take the sender keys of the current epoch, decrypt the waiting messages, then
    apply the next membership change and start over, so that messages of an epoch are read
    before a removal ends it. A message is shown only when its franking opens and a node in
    `trusted_nodes` stamped it for its sender and an audience that includes us.
    """
    warnings = []
    for chat in list(store.groups.values()):
        while True:
            warnings += _take_keys(chat)
            warnings += _open_waiting(store, chat, trusted_nodes)
            change = chat.changes.pop(chat.seq + 1, None)
            if change is None:
                break
            try:
                _apply(store, chat, change, now)
            except (GroupChatError, GroupError) as exc:
                warnings.append(f"group {chat.name!r} is out of step with its admin: {exc}")
                break
    return warnings


def _take_keys(chat: GroupChat) -> list[str]:
    warnings, keep = [], []
    for member, distribution in chat.keys:
        if distribution.epoch < chat.state.epoch:
            continue
        if distribution.epoch > chat.state.epoch or member not in chat.devices:
            keep.append((member, distribution))  # for a change not applied yet
            continue
        try:
            chat.state.receive_distribution(member, distribution)
        except GroupError as exc:
            warnings.append(f"ignored a sender key in {chat.name!r}: {exc}")
    chat.keys = keep
    return warnings


def _open_waiting(store: GroupStore, chat: GroupChat, trusted_nodes: Collection[str]) -> list[str]:
    """Decrypt and check what waits. A message that decrypts but fails the franking checks has
    used up its key (as its sender's chain did), so it can never be shown later."""
    warnings, keep = [], []
    for waiting in sorted(chat.waiting, key=lambda w: (w.created_at, w.rumor_id)):
        message = GroupMessage.from_bytes(waiting.message)
        sender = message.sender.pubkey
        if message.sender not in chat.devices and chat.changes:
            keep.append(waiting)  # from someone a change still waiting may add
            continue
        try:
            franked = FrankedGroupMessage.decode(chat.state.decrypt(message))
            check_group_message(franked, sender, store.owner.pubkey, trusted_nodes)
        except MissingSenderKey:
            keep.append(waiting)
            continue
        except DecryptError as exc:
            warnings.append(f"dropped a message from {npub(sender)} in {chat.name!r}: {exc}")
            continue
        store.deliver(Entry(chat.group_id, waiting.created_at, sender, franked.text))
        store.keep(Franked(chat.group_id, sender, franked))
    chat.waiting = keep
    return warnings


def _apply(store: GroupStore, chat: GroupChat, change: Change | Removed, now: int) -> None:
    """Apply the admin's next change, checking it fully before touching the state."""
    if isinstance(change, Removed):
        chat.removed, chat.seq = True, change.seq
        chat.keys, chat.waiting, chat.shared_with = [], [], set()
        text = f"you were removed from {chat.name!r}"
        store.deliver(Entry(chat.group_id, now, chat.admin.pubkey, text, notice=True))
        return
    members = [device.member for device in change.members]
    if change.op == "add":
        if any(member in chat.devices for member in members):
            raise GroupChatError("the change adds a device that is already a member")
        check_devices([*chat.devices.values(), *change.members])
        if change.epoch != chat.state.epoch:
            raise GroupChatError(f"an addition at epoch {change.epoch}, not {chat.state.epoch}")
        for device in change.members:
            chat.state.add(device.member)
            chat.devices[device.member] = device
        verb = "joined"
    else:
        if any(member not in chat.devices for member in members):
            raise GroupChatError("the change removes a device that is not a member")
        if chat.state.own in members:
            raise GroupChatError("the change removes this device")
        if change.epoch != chat.state.epoch + len(members):
            raise GroupChatError(f"a removal to epoch {change.epoch}")
        for device in change.members:
            chat.state.remove(device.member)
            del chat.devices[device.member]
        _new_epoch(chat)
        verb = "was removed"
    chat.seq = change.seq
    for pubkey in sorted({device.pubkey for device in change.members}):
        text = f"{npub(pubkey)} {verb}"
        store.deliver(Entry(chat.group_id, now, chat.admin.pubkey, text, notice=True))
