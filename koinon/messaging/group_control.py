"""Group chat control messages: a group's setup, its membership changes and its members' sender
keys, as they travel over the pairwise sessions. Pure, no I/O.

A control rumor (kind 1449) is a session message exactly like kind 1448, to one member device; the
text it carries is compact JSON `{"v": 1, "controls": [...]}`, each control an object with `type`
and `group` (the 64-hex group id):

* `welcome` (admin to a new member): `name`, `admin` and `members` as `[pubkey, device id]`,
  `seq` (membership changes so far) and `epoch`.
* `change` (admin to the other members): `seq`, `op` (`add` or `remove`), `members` (the devices
  added or removed) and `epoch` (after the change).
* `removed` (admin to a removed member): `seq`.
* `sender-key` (any member to another): `key`, base64 of a `SenderKeyDistribution`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from koinon.core.event import is_hex
from koinon.messaging.dm_state import check_device_id
from koinon.sessions.errors import BundleError, SessionError
from koinon.sessions.group_wire import (
    MAX_COUNTER,
    MAX_MEMBERS,
    GroupError,
    Member,
    SenderKeyDistribution,
)

CONTROL_KIND = 1449
"""A rumor carrying group control messages over a pairwise session."""
GROUP_MESSAGE_KIND = 1450
"""A rumor carrying one sender-key group message."""
CONTROL_VERSION = 1
MAX_NAME_LENGTH = 100
_OPS = ("add", "remove")


class GroupChatError(SessionError):
    """A group control or group message is malformed, unauthorised or of an unknown version, or a
    group operation is not allowed."""


def device_number(device_id: str) -> int:
    """The u32 a DM device id stands for in sender-key headers (the same for every member)."""
    digest = hashlib.sha256(b"koinon/group/device/v1\x00" + device_id.encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True, order=True)
class Device:
    """One member device as delivery knows it: a Nostr public key and a DM device id."""

    pubkey: str
    device_id: str

    def __post_init__(self) -> None:
        if not is_hex(self.pubkey, 64):
            raise GroupChatError("a member's public key is 64 lowercase hex digits")
        try:
            check_device_id(self.device_id)
        except BundleError as exc:
            raise GroupChatError(str(exc)) from None

    @property
    def member(self) -> Member:
        """The sender-key member this device is."""
        return Member(self.pubkey, device_number(self.device_id))


def check_name(name: object) -> str:
    """A group name: 1 to 100 characters, no control characters."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
        raise GroupChatError(f"a group name is 1 to {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise GroupChatError("a group name has no control characters")
    return name


def check_devices(devices: Sequence[Device]) -> None:
    """Refuse more than MAX_MEMBERS devices, repeats, and device ids whose numbers collide."""
    if len(devices) > MAX_MEMBERS:
        raise GroupChatError(
            f"a group holds at most {MAX_MEMBERS} member devices, not {len(devices)}"
        )
    if len({d.member for d in devices}) != len(devices):
        raise GroupChatError("a member device appears twice")


@dataclass(frozen=True, slots=True)
class Welcome:
    """Everything a new member needs but the sender keys."""

    group_id: bytes
    name: str
    admin: Device
    seq: int
    epoch: int
    members: tuple[Device, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One membership change by the admin, numbered `seq`; `epoch` is the epoch after it."""

    group_id: bytes
    seq: int
    op: str
    epoch: int
    members: tuple[Device, ...]


@dataclass(frozen=True, slots=True)
class Removed:
    """Tells a removed member, at change `seq`, that it is no longer in the group."""

    group_id: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class KeyShare:
    """The sender's chain for the group's current epoch."""

    group_id: bytes
    distribution: SenderKeyDistribution


Control = Welcome | Change | Removed | KeyShare


def _devices(devices: Sequence[Device]) -> list[list[str]]:
    return [[d.pubkey, d.device_id] for d in devices]


def control_to_json(control: Control) -> dict[str, Any]:
    """The JSON object of one control."""
    group = control.group_id.hex()
    match control:
        case Welcome():
            return {
                "type": "welcome",
                "group": group,
                "name": control.name,
                "admin": [control.admin.pubkey, control.admin.device_id],
                "seq": control.seq,
                "epoch": control.epoch,
                "members": _devices(control.members),
            }
        case Change():
            return {
                "type": "change",
                "group": group,
                "seq": control.seq,
                "op": control.op,
                "epoch": control.epoch,
                "members": _devices(control.members),
            }
        case Removed():
            return {"type": "removed", "group": group, "seq": control.seq}
        case KeyShare():
            key = base64.b64encode(control.distribution.to_bytes()).decode()
            return {"type": "sender-key", "group": group, "key": key}


def encode_controls(controls: Sequence[Control]) -> str:
    """The text a control rumor's session message carries."""
    body = {"v": CONTROL_VERSION, "controls": [control_to_json(c) for c in controls]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _counter(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_COUNTER:
        raise GroupChatError(f"group control: {what} must be an integer from 0 to {MAX_COUNTER}")
    return value


def _device(value: object) -> Device:
    if not isinstance(value, list) or len(value) != 2:
        raise GroupChatError("group control: a member is [pubkey, device id]")
    return Device(*value)


def _device_list(value: object) -> tuple[Device, ...]:
    if not isinstance(value, list) or not value:
        raise GroupChatError("group control: members must be a non-empty list")
    devices = tuple(_device(v) for v in value)
    check_devices(devices)
    return devices


def control_from_json(raw: object) -> Control:
    """Parse one control object; anything malformed raises GroupChatError."""
    if not isinstance(raw, dict):
        raise GroupChatError("group control: each control is a JSON object")
    group = raw.get("group")
    if not is_hex(group, 64):
        raise GroupChatError("group control: group id must be 64 lowercase hex digits")
    group_id = bytes.fromhex(str(group))
    kind = raw.get("type")
    if kind == "welcome":
        members = _device_list(raw.get("members"))
        admin = _device(raw.get("admin"))
        if admin not in members:
            raise GroupChatError("group control: the admin is not a member")
        seq, epoch = _counter(raw.get("seq"), "seq"), _counter(raw.get("epoch"), "epoch")
        return Welcome(group_id, check_name(raw.get("name")), admin, seq, epoch, members)
    if kind == "change":
        op = raw.get("op")
        if op not in _OPS:
            raise GroupChatError(f"group control: unknown membership operation {op!r}")
        seq, epoch = _counter(raw.get("seq"), "seq"), _counter(raw.get("epoch"), "epoch")
        return Change(group_id, seq, str(op), epoch, _device_list(raw.get("members")))
    if kind == "removed":
        return Removed(group_id, _counter(raw.get("seq"), "seq"))
    if kind == "sender-key":
        key = raw.get("key")
        try:
            data = base64.b64decode(key if isinstance(key, str) else "", validate=True)
        except (binascii.Error, ValueError):
            raise GroupChatError("group control: sender key is not base64") from None
        try:
            distribution = SenderKeyDistribution.from_bytes(data)
        except GroupError as exc:
            raise GroupChatError(f"group control: {exc}") from None
        if distribution.group_id != group_id:
            raise GroupChatError("group control: sender key for another group")
        return KeyShare(group_id, distribution)
    raise GroupChatError(f"group control: unknown type {kind!r}")


def parse_controls(text: str) -> tuple[Control, ...]:
    """The controls in a control rumor's text; anything malformed raises GroupChatError."""
    try:
        body = json.loads(text)
    except (ValueError, TypeError):
        raise GroupChatError("group control is not JSON") from None
    if not isinstance(body, dict):
        raise GroupChatError("group control is not a JSON object")
    if body.get("v") != CONTROL_VERSION:
        raise GroupChatError(f"unknown group control version {body.get('v')!r}")
    controls = body.get("controls")
    if not isinstance(controls, list) or not controls:
        raise GroupChatError("group control without controls")
    return tuple(control_from_json(c) for c in controls)
