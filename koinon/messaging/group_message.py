"""The wire forms of a group chat besides its controls: the group message rumor (kind 1450),
whose content is base64 of the `GroupMessage` bytes (its plaintext is a franked payload, see
`franked_group`), and the control rumor (kind 1449) that carries controls to one device over its
pairwise session. Pure, no I/O.
"""

from __future__ import annotations

import base64
import binascii

from koinon.messaging.giftwrap import Rumor, make_rumor
from koinon.messaging.group_control import (
    CONTROL_KIND,
    GROUP_MESSAGE_KIND,
    Device,
    GroupChatError,
)
from koinon.sessions.errors import DecryptError
from koinon.sessions.group_wire import MESSAGE_FORMAT, GroupMessage


def message_content(message: GroupMessage) -> str:
    """The content of a group message rumor."""
    return base64.b64encode(message.to_bytes()).decode()


def parse_message_content(content: str) -> GroupMessage:
    """The group message in a rumor's content; junk, truncation or another version raise."""
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise GroupChatError("group message is not base64") from None
    if not data:
        raise GroupChatError("group message is empty")
    if data[0] != MESSAGE_FORMAT:
        raise GroupChatError(f"unknown group message version {data[0]:#04x}")
    try:
        return GroupMessage.from_bytes(data)
    except DecryptError as exc:
        raise GroupChatError(f"malformed group message: {exc}") from None


def control_rumor(sender: Device, to: Device, content: str, now: int) -> Rumor:
    """The kind-1449 rumor carrying a session message `content` to one member device."""
    tags = [["p", to.pubkey], ["device", to.device_id], ["sender_device", sender.device_id]]
    return make_rumor(sender.pubkey, kind=CONTROL_KIND, content=content, created_at=now, tags=tags)


def message_rumor(sender: str, content: str, now: int) -> Rumor:
    """The kind-1450 rumor of a group message: the same rumor goes to every recipient."""
    return make_rumor(sender, kind=GROUP_MESSAGE_KIND, content=content, created_at=now)


def is_control_for(rumor: Rumor, own: Device) -> bool:
    """Whether `rumor` is a control rumor addressed to this device."""
    return (
        rumor.kind == CONTROL_KIND
        and own.pubkey in rumor.tag_values("p")
        and rumor.tag_values("device") == [own.device_id]
    )
