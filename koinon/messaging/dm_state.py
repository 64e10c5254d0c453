"""The state of one DM device: its X3DH secrets (`LocalDevice`) and its ratchet sessions
(`DeviceSessions`). Pure, no I/O; both serialize to forms holding secrets, so seal them at rest.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field

from koinon.messaging.consumed_prekeys import CONSUMED_PREKEY_GRACE, ConsumedPrekeys
from koinon.sessions.errors import BundleError, PrekeyError, StateError
from koinon.sessions.prekeys import IdentityKeys, OneTimePrekeys, PrekeyBundle
from koinon.sessions.primitives import KeyPair, Random
from koinon.sessions.ratchet import Ratchet

MAX_SESSIONS_PER_DEVICE = 4
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_device_id(device_id: object) -> str:
    """A device id: 1-64 characters of [A-Za-z0-9_-]."""
    if not isinstance(device_id, str) or not _DEVICE_ID.fullmatch(device_id):
        raise BundleError("a device id is 1-64 characters of letters, digits, '-' and '_'")
    return device_id


# -- local device -----------------------------------------------------------------------------


@dataclass
class LocalDevice:
    """This device's X3DH secrets; `to_bytes` holds secrets, so seal it at rest."""

    device_id: str
    identity_dh: KeyPair
    signed_prekeys: dict[int, KeyPair]
    signed_prekey_id: int
    one_time: OneTimePrekeys
    next_prekey_id: int
    seen_ephemerals: set[bytes] = field(default_factory=set)
    consumed: ConsumedPrekeys = field(default_factory=ConsumedPrekeys)

    @classmethod
    def generate(cls, device_id: str, one_time_count: int, random: Random) -> LocalDevice:
        """A fresh device: identity DH key, signed prekey 1, one-time prekeys from 1."""
        return cls(
            check_device_id(device_id),
            KeyPair.generate(random),
            {1: KeyPair.generate(random)},
            1,
            OneTimePrekeys.generate(1, one_time_count, random),
            1 + one_time_count,
        )

    def identity(self, nostr_secret: bytes) -> IdentityKeys:
        """The identity keys of this device for the user's Nostr secret."""
        return IdentityKeys(nostr_secret, self.identity_dh)

    def top_up(self, count: int, random: Random) -> bool:
        """Add one-time prekeys until there are `count`; whether any were added."""
        missing = count - len(self.one_time)
        if missing <= 0:
            return False
        fresh = OneTimePrekeys.generate(self.next_prekey_id, missing, random)
        self.one_time = OneTimePrekeys({**self.one_time.keys, **fresh.keys})
        self.next_prekey_id += missing
        return True

    def bundle(self, nostr_secret: bytes, random: Random) -> PrekeyBundle:
        """The signed bundle to publish for this device."""
        spk = self.signed_prekeys[self.signed_prekey_id]
        identity = self.identity(nostr_secret)
        return PrekeyBundle.create(identity, self.signed_prekey_id, spk, self.one_time, random)

    def bundle_published(self, bundle: PrekeyBundle, at: int) -> None:
        """Record that `bundle` was published at `at`: the consumed keys it omits are replaced."""
        self.consumed = self.consumed.replaced(bundle, at)

    def handshake_prekeys(self) -> OneTimePrekeys:
        """The one-time prekeys a handshake may use: the unused ones and those still in grace."""
        return OneTimePrekeys({**self.consumed.keys(), **self.one_time.keys})

    def consume(self, prekey_id: int) -> None:
        """Move an unused one-time prekey to the consumed ones; a consumed one stays there."""
        if prekey_id in self.one_time.keys:
            key, self.one_time = self.one_time.consume(prekey_id)
            self.consumed = self.consumed.add(prekey_id, key)
        elif prekey_id not in self.consumed.entries:
            raise PrekeyError(f"one-time prekey {prekey_id} unknown or forgotten")

    def forget_consumed(self, now: int, grace: int = CONSUMED_PREKEY_GRACE) -> int:
        """Forget consumed prekeys replaced at least `grace` seconds before `now`; how many.

        Call it after taking in every message fetched, so none waiting is cut off.
        """
        before = len(self.consumed)
        self.consumed = self.consumed.forget(now, grace)
        return before - len(self.consumed)

    def to_json(self) -> dict[str, object]:
        """JSON-ready form (secrets in hex: seal it)."""
        return {
            "device_id": self.device_id,
            "identity_dh": self.identity_dh.secret.hex(),
            "signed_prekeys": {str(i): k.secret.hex() for i, k in self.signed_prekeys.items()},
            "signed_prekey_id": self.signed_prekey_id,
            "one_time": self.one_time.to_bytes().hex(),
            "next_prekey_id": self.next_prekey_id,
            "seen_ephemerals": sorted(e.hex() for e in self.seen_ephemerals),
            "consumed": self.consumed.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LocalDevice:
        """Parse `to_json` output; anything malformed raises StateError."""
        try:
            spks = data["signed_prekeys"]
            assert isinstance(spks, dict)
            return cls(
                check_device_id(data["device_id"]),
                KeyPair.from_secret(bytes.fromhex(str(data["identity_dh"]))),
                {int(i): KeyPair.from_secret(bytes.fromhex(s)) for i, s in spks.items()},
                int(str(data["signed_prekey_id"])),
                OneTimePrekeys.from_bytes(bytes.fromhex(str(data["one_time"]))),
                int(str(data["next_prekey_id"])),
                {bytes.fromhex(e) for e in data["seen_ephemerals"]},  # type: ignore[attr-defined]
                ConsumedPrekeys.from_json(data.get("consumed", [])),  # absent before grace came
            )
        except (KeyError, ValueError, TypeError, AssertionError, BundleError, StateError) as exc:
            raise StateError("malformed device state") from exc


# -- sessions ---------------------------------------------------------------------------------


@dataclass
class Session:
    ratchet: Ratchet
    peer_identity_dh: bytes
    pending_header: bytes | None  # the initiator's X3DH header, until the peer answers


class DeviceSessions:
    """Ratchet sessions by (peer Nostr key hex, peer device id), most recently used first."""

    def __init__(self, random: Random) -> None:
        self._random = random
        self._sessions: dict[tuple[str, str], list[Session]] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, peer: str, device: str) -> list[Session]:
        """The sessions with one peer device (a copy of the list)."""
        return list(self._sessions.get((peer, device), []))

    def put_first(self, peer: str, device: str, session: Session) -> None:
        """Make `session` the one used to send to that device."""
        rest = [s for s in self._sessions.get((peer, device), []) if s is not session]
        self._sessions[(peer, device)] = [session, *rest][:MAX_SESSIONS_PER_DEVICE]

    def to_bytes(self) -> bytes:
        """Versioned JSON; it holds ratchet secrets, so seal it at rest."""
        items = [
            {
                "peer": peer,
                "device": device,
                "sessions": [
                    {
                        "ratchet": base64.b64encode(s.ratchet.to_bytes()).decode(),
                        "peer_dh": s.peer_identity_dh.hex(),
                        "header": None if s.pending_header is None else s.pending_header.hex(),
                    }
                    for s in sessions
                ],
            }
            for (peer, device), sessions in sorted(self._sessions.items())
        ]
        return json.dumps({"v": 1, "devices": items}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, random: Random) -> DeviceSessions:
        """Parse `to_bytes` output; anything malformed raises StateError."""
        store = cls(random)
        try:
            parsed = json.loads(data)
            if parsed["v"] != 1:
                raise StateError("unknown session store version")
            for item in parsed["devices"]:
                store._sessions[(str(item["peer"]), str(item["device"]))] = [
                    Session(
                        Ratchet.from_bytes(base64.b64decode(s["ratchet"]), random),
                        bytes.fromhex(s["peer_dh"]),
                        None if s["header"] is None else bytes.fromhex(s["header"]),
                    )
                    for s in item["sessions"]
                ]
        except (KeyError, ValueError, TypeError, binascii.Error) as exc:
            raise StateError("malformed session store") from exc
        return store
