"""Handshakes fetched by one command and left for another, whose prekeys must outlive their grace.

`koinon dm read` takes in direct messages and leaves group controls to `koinon group read`, and
the other way round, yet both carry session messages whose X3DH header may name a signed prekey
or a consumed one-time prekey that is due to be deleted. Deleting it before the other command has
read the handshake would lose that message for good. So a command notes every handshake it
leaves unread (by its prekey ids and ephemeral key), and the prekeys they name are kept until the
handshake has been answered (its ephemeral is seen on the signed prekey) or `MAX_WAIT` seconds
have passed since it was sent (its rumor's `created_at`): anyone can send a device handshakes,
so a waiting one cannot keep a key forever, nor can it be noted again once it has expired. At
most `MAX_WAITING` are kept, the newest. Pure: the caller passes the times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from koinon.sessions.errors import StateError
from koinon.sessions.prekeys import MAX_PREKEY_ID

MAX_WAIT = 14 * 24 * 3600
"""Seconds a handshake left for another command keeps the prekeys it names past their grace."""

MAX_WAITING = 64
"""Most handshakes kept waiting; past it the ones noted first are dropped."""

MAX_AHEAD = 3600
"""Seconds a handshake's send time may be ahead of the device's clock and still be noted."""

_KEYS = {"signed_prekey", "one_time_prekey", "ephemeral", "sent_at"}


@dataclass(frozen=True, slots=True)
class WaitingHandshake:
    """An X3DH initial message fetched but not yet read, and when its rumor says it was sent."""

    signed_prekey_id: int
    one_time_prekey_id: int | None
    ephemeral: bytes
    sent_at: int


@dataclass(frozen=True, slots=True)
class WaitingHandshakes:
    """The handshakes left for another command, oldest noted first."""

    entries: tuple[WaitingHandshake, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def noted(self, handshake: WaitingHandshake, now: int) -> WaitingHandshakes:
        """These with `handshake` (once per signed prekey and ephemeral), the newest kept; not
        when it was sent `MAX_WAIT` seconds or more before `now`, or over `MAX_AHEAD` after."""
        age = now - handshake.sent_at
        if not -MAX_AHEAD <= age < MAX_WAIT or any(_same(handshake, w) for w in self.entries):
            return self
        return WaitingHandshakes((*self.entries, handshake)[-MAX_WAITING:])

    def pruned(
        self, now: int, answered: Callable[[int, bytes], bool], known: Iterable[int]
    ) -> WaitingHandshakes:
        """These without the ones answered, on a signed prekey no longer `known`, or older than
        `MAX_WAIT` at `now`."""
        ids = set(known)
        return WaitingHandshakes(
            tuple(
                w
                for w in self.entries
                if w.signed_prekey_id in ids
                and not answered(w.signed_prekey_id, w.ephemeral)
                and now - w.sent_at < MAX_WAIT
            )
        )

    def signed_prekey_ids(self) -> frozenset[int]:
        """The signed prekeys the waiting handshakes need."""
        return frozenset(w.signed_prekey_id for w in self.entries)

    def one_time_prekey_ids(self) -> frozenset[int]:
        """The one-time prekeys the waiting handshakes need."""
        return frozenset(
            w.one_time_prekey_id for w in self.entries if w.one_time_prekey_id is not None
        )

    def to_json(self) -> list[dict[str, object]]:
        """JSON-ready form."""
        return [
            {
                "signed_prekey": w.signed_prekey_id,
                "one_time_prekey": w.one_time_prekey_id,
                "ephemeral": w.ephemeral.hex(),
                "sent_at": w.sent_at,
            }
            for w in self.entries
        ]

    @classmethod
    def from_json(cls, data: object) -> WaitingHandshakes:
        """Parse `to_json` output; anything malformed raises StateError."""
        if not isinstance(data, list) or len(data) > MAX_WAITING:
            raise StateError("malformed waiting handshakes")
        return cls(tuple(_entry(item) for item in data))


def _same(a: WaitingHandshake, b: WaitingHandshake) -> bool:
    return a.signed_prekey_id == b.signed_prekey_id and a.ephemeral == b.ephemeral


def _prekey_id(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_PREKEY_ID:
        raise StateError("malformed waiting handshake prekey id")
    return value


def _entry(item: object) -> WaitingHandshake:
    if not isinstance(item, dict) or set(item) != _KEYS:
        raise StateError("malformed waiting handshake")
    ephemeral, sent_at = item["ephemeral"], item["sent_at"]
    if not isinstance(ephemeral, str) or type(sent_at) is not int:
        raise StateError("malformed waiting handshake")
    try:
        key = bytes.fromhex(ephemeral)
    except ValueError:
        raise StateError("malformed waiting handshake ephemeral") from None
    if len(key) != 32:
        raise StateError("malformed waiting handshake ephemeral")
    one_time = item["one_time_prekey"]
    return WaitingHandshake(
        _prekey_id(item["signed_prekey"]),
        None if one_time is None else _prekey_id(one_time),
        key,
        sent_at,
    )
