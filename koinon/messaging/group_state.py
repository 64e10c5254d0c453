"""What one device remembers of its group chats: per group the sender-key state, where each member
device is delivered to, the admin's change counter and whatever still waits for something; and the
inbox, the franked messages kept for reports, and the gift wraps already handled. Pure;
`to_bytes` holds secrets, so seal it at rest.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from koinon.messaging.franked_group import FrankedGroupMessage
from koinon.messaging.group_control import (
    Change,
    Device,
    GroupChatError,
    Removed,
    check_name,
    control_from_json,
    control_to_json,
)
from koinon.sessions.errors import SessionError, StateError
from koinon.sessions.group_wire import Member, SenderKeyDistribution
from koinon.sessions.groups import GroupState
from koinon.sessions.primitives import Random

STORE_VERSION = 2
"""Version 2 added the history; version 1 stores are read as having none."""
MAX_WAITING = 1000
"""Group messages kept per group while their sender key has not arrived; past it the oldest go."""
MAX_QUEUED = 1000
"""Admin changes and sender keys kept per group ahead of the changes they depend on."""
MAX_INBOX = 10_000
"""Decrypted messages kept until read; past it the oldest go."""
MAX_HISTORY = 2000
"""Franked messages kept for `group history` and reports; past it the oldest go."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """A group message that waits for its sender's key."""

    rumor_id: str
    created_at: int
    message: bytes


@dataclass(frozen=True, slots=True)
class Entry:
    """One inbox line: a decrypted message or, when `notice`, a membership notice."""

    group_id: bytes
    created_at: int
    sender: str
    text: str = field(repr=False)
    notice: bool = False


@dataclass(frozen=True, slots=True)
class Franked:
    """A group message this device sent or showed, with its opening, stamp and audience."""

    group_id: bytes
    sender: str
    message: FrankedGroupMessage


@dataclass
class GroupChat:
    """One group as this device knows it."""

    state: GroupState = field(repr=False)
    name: str
    admin: Device
    seq: int
    devices: dict[Member, Device]
    shared_with: set[Member] = field(default_factory=set)
    changes: dict[int, Change | Removed] = field(default_factory=dict)
    keys: list[tuple[Member, SenderKeyDistribution]] = field(default_factory=list, repr=False)
    waiting: list[Waiting] = field(default_factory=list, repr=False)
    removed: bool = False

    @property
    def group_id(self) -> bytes:
        """The group's 32-byte id."""
        return self.state.group_id

    @property
    def short_id(self) -> str:
        """The first 16 hex digits of the id, enough to name the group on a command line."""
        return self.group_id.hex()[:16]

    def recipients(self) -> list[Device]:
        """Every member device but ourselves."""
        own = self.state.own
        return [device for member, device in self.devices.items() if member != own]


class GroupStore:
    """Every group of one device (`owner`), the inbox, and the gift wraps already handled."""

    def __init__(self, owner: Device) -> None:
        self.owner = owner
        self.groups: dict[bytes, GroupChat] = {}
        self.inbox: list[Entry] = []
        self.history: list[Franked] = []
        self.processed: set[str] = set()
        self.since = 0  # when the last fetch ran: the next one looks back from there

    def find(self, query: str) -> GroupChat:
        """The group called `query`, or whose id starts with it (at least 4 hex digits)."""
        named = [chat for chat in self.groups.values() if chat.name == query]
        if not named and len(query) >= 4:
            named = [c for c in self.groups.values() if c.group_id.hex().startswith(query)]
        if not named:
            raise GroupChatError(f"no group called {query!r}: see 'koinon group list'")
        if len(named) > 1:
            ids = ", ".join(sorted(chat.short_id for chat in named))
            raise GroupChatError(f"several groups match {query!r}; name one by its id: {ids}")
        return named[0]

    def deliver(self, entry: Entry) -> None:
        """Put a line in the inbox."""
        self.inbox.append(entry)
        del self.inbox[: max(len(self.inbox) - MAX_INBOX, 0)]

    def keep(self, franked: Franked) -> None:
        """Keep a sent or shown message for `group history` and reports."""
        self.history.append(franked)
        del self.history[: max(len(self.history) - MAX_HISTORY, 0)]

    def take_inbox(self, group_id: bytes | None) -> list[Entry]:
        """Remove and return the inbox lines (of one group, or all), oldest first."""
        taken = [e for e in self.inbox if group_id is None or e.group_id == group_id]
        self.inbox = [e for e in self.inbox if not (group_id is None or e.group_id == group_id)]
        return sorted(taken, key=lambda e: (e.created_at, e.notice is False))

    def to_bytes(self) -> bytes:
        """Versioned JSON; it holds sender keys and messages, so seal it at rest."""
        body = {
            "v": STORE_VERSION,
            "owner": [self.owner.pubkey, self.owner.device_id],
            "groups": [_chat_json(chat) for chat in self.groups.values()],
            "inbox": [
                [e.group_id.hex(), e.created_at, e.sender, e.text, e.notice] for e in self.inbox
            ],
            "history": [
                [f.group_id.hex(), f.sender, _b64(f.message.encode())] for f in self.history
            ],
            "processed": sorted(self.processed),
            "since": self.since,
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes, random: Random) -> GroupStore:
        """Parse `to_bytes` output; anything malformed raises StateError."""
        try:
            body = json.loads(data)
            if body["v"] not in (1, STORE_VERSION):
                raise StateError(f"unknown group store version {body['v']!r}")
            store = cls(Device(*body["owner"]))
            for raw in body["groups"]:
                chat = _chat_from_json(raw, random)
                store.groups[chat.group_id] = chat
            store.inbox = [
                Entry(bytes.fromhex(g), int(t), str(s), str(x), bool(n))
                for g, t, s, x, n in body["inbox"]
            ]
            store.history = [
                Franked(bytes.fromhex(g), str(s), FrankedGroupMessage.decode(_unb64(m)))
                for g, s, m in body.get("history", [])
            ]
            store.processed = {str(i) for i in body["processed"]}
            store.since = int(body["since"])
        except StateError:
            raise
        except (KeyError, ValueError, TypeError, binascii.Error, SessionError) as exc:
            raise StateError("malformed group store") from exc
        return store


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _chat_json(chat: GroupChat) -> dict[str, Any]:
    return {
        "state": _b64(chat.state.to_bytes()),
        "name": chat.name,
        "admin": [chat.admin.pubkey, chat.admin.device_id],
        "seq": chat.seq,
        "devices": [[d.pubkey, d.device_id] for d in chat.devices.values()],
        "shared_with": sorted([m.pubkey, m.device] for m in chat.shared_with),
        "changes": [control_to_json(c) for _, c in sorted(chat.changes.items())],
        "keys": [[m.pubkey, m.device, _b64(d.to_bytes())] for m, d in chat.keys],
        "waiting": [[w.rumor_id, w.created_at, _b64(w.message)] for w in chat.waiting],
        "removed": chat.removed,
    }


def _chat_from_json(raw: dict[str, Any], random: Random) -> GroupChat:
    state = GroupState.from_bytes(_unb64(raw["state"]), random)
    devices = {d.member: d for d in (Device(*pair) for pair in raw["devices"])}
    if set(devices) != set(state.members):
        raise StateError("group store: devices do not match the members")
    changes: dict[int, Change | Removed] = {}
    for item in raw["changes"]:
        control = control_from_json(item)
        if not isinstance(control, Change | Removed):
            raise StateError("group store: a queued change is not a change")
        changes[control.seq] = control
    keys = [
        (Member(p, int(n)), SenderKeyDistribution.from_bytes(_unb64(k))) for p, n, k in raw["keys"]
    ]
    waiting = [Waiting(str(i), int(t), _unb64(m)) for i, t, m in raw["waiting"]]
    return GroupChat(
        state,
        check_name(raw["name"]),
        Device(*raw["admin"]),
        int(raw["seq"]),
        devices,
        {Member(p, int(n)) for p, n in raw["shared_with"]},
        changes,
        keys,
        waiting,
        bool(raw["removed"]),
    )
