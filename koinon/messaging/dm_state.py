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
from koinon.messaging.signed_prekeys import SIGNED_PREKEY_GRACE, SignedPrekeyRing
from koinon.messaging.waiting_handshakes import WaitingHandshake, WaitingHandshakes
from koinon.sessions.errors import BundleError, PrekeyError, SessionError, StateError
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
    """This device's X3DH secrets; `to_json` holds secrets, so seal it at rest."""

    device_id: str
    identity_dh: KeyPair
    signed: SignedPrekeyRing
    one_time: OneTimePrekeys
    next_prekey_id: int
    consumed: ConsumedPrekeys = field(default_factory=ConsumedPrekeys)
    waiting: WaitingHandshakes = field(default_factory=WaitingHandshakes)

    @classmethod
    def generate(
        cls, device_id: str, one_time_count: int, random: Random, now: int | None = None
    ) -> LocalDevice:
        """A fresh device: identity DH key, signed prekey 1 made at `now` (None: unknown, so its
        rotation is due at once), one-time prekeys from 1."""
        return cls(
            check_device_id(device_id),
            KeyPair.generate(random),
            SignedPrekeyRing.first(KeyPair.generate(random), now),
            OneTimePrekeys.generate(1, one_time_count, random),
            1 + one_time_count,
        )

    @property
    def signed_prekey_id(self) -> int:
        """The id of the signed prekey the bundle names."""
        return self.signed.current

    @property
    def signed_prekeys(self) -> dict[int, KeyPair]:
        """The signed prekeys that still answer handshakes: the current one and those in grace."""
        return self.signed.keys()

    @property
    def seen_ephemerals(self) -> frozenset[bytes]:
        """Every handshake ephemeral key remembered, whatever signed prekey it was answered on."""
        return frozenset().union(*(e.ephemerals for e in self.signed.entries.values()))

    def has_seen(self, signed_prekey_id: int, ephemeral: bytes) -> bool:
        """Whether a handshake on that signed prekey already used `ephemeral` (a replay)."""
        return self.signed.seen(signed_prekey_id, ephemeral)

    def record_seen(self, signed_prekey_id: int, ephemeral: bytes) -> None:
        """Remember a handshake's ephemeral key for as long as its signed prekey lives."""
        self.signed = self.signed.with_seen(signed_prekey_id, ephemeral)

    def rotation_due(self, now: int) -> bool:
        """Whether the signed prekey is old enough to be replaced (see `signed_prekeys`)."""
        return self.signed.rotation_due(now)

    def rotate_signed_prekey(self, now: int, random: Random) -> bool:
        """Make a new current signed prekey if the rotation is due; whether one was made.

        Save the state before publishing the bundle that names it, then `bundle_published`.
        """
        if not self.signed.rotation_due(now):
            return False
        self.signed = self.signed.rotated(now, random)
        return True

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
        spk = self.signed.current_key()
        identity = self.identity(nostr_secret)
        return PrekeyBundle.create(identity, self.signed.current, spk, self.one_time, random)

    def bundle_published(self, bundle: PrekeyBundle, at: int) -> None:
        """Record that `bundle` was published at `at`: the prekeys it omits are replaced."""
        self.consumed = self.consumed.replaced(bundle, at)
        self.signed = self.signed.published(bundle, at)

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

    def note_waiting(self, handshake: WaitingHandshake, now: int) -> bool:
        """Note a handshake fetched and left for another command to read, so that the prekeys
        it names outlive their grace until it is read (see `waiting_handshakes`); whether it
        is waiting (not when already answered, expired, or on a deleted signed prekey)."""
        spk = handshake.signed_prekey_id
        if spk not in self.signed.entries or self.signed.seen(spk, handshake.ephemeral):
            return False
        self.waiting = self.waiting.noted(handshake, now)
        return handshake in self.waiting.entries

    def _prune_waiting(self, now: int) -> None:
        self.waiting = self.waiting.pruned(now, self.signed.seen, self.signed.entries)

    def forget_consumed(self, now: int, grace: int = CONSUMED_PREKEY_GRACE) -> int:
        """Forget consumed prekeys replaced at least `grace` seconds before `now`, except those a
        waiting handshake names; how many.

        Call it after taking in every message fetched, so none waiting is cut off.
        """
        self._prune_waiting(now)
        before = len(self.consumed)
        self.consumed = self.consumed.forget(now, grace, self.waiting.one_time_prekey_ids())
        return before - len(self.consumed)

    def forget_signed_prekeys(self, now: int, grace: int = SIGNED_PREKEY_GRACE) -> int:
        """Delete signed prekeys replaced at least `grace` seconds before `now`, with the
        ephemerals seen on them, except those a waiting handshake names; how many. Call it
        after taking in every message fetched."""
        self._prune_waiting(now)
        before = len(self.signed.entries)
        self.signed = self.signed.forget(now, grace, self.waiting.signed_prekey_ids())
        return before - len(self.signed.entries)

    def to_json(self) -> dict[str, object]:
        """JSON-ready form (secrets in hex: seal it)."""
        return {
            "device_id": self.device_id,
            "identity_dh": self.identity_dh.secret.hex(),
            "signed_prekey_id": self.signed.current,
            "signed": self.signed.to_json(),
            "one_time": self.one_time.to_bytes().hex(),
            "next_prekey_id": self.next_prekey_id,
            "consumed": self.consumed.to_json(),
            "waiting": self.waiting.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LocalDevice:
        """Parse `to_json` output; anything malformed raises StateError."""
        try:
            return cls(
                check_device_id(data["device_id"]),
                KeyPair.from_secret(bytes.fromhex(str(data["identity_dh"]))),
                _signed_from_json(data),
                OneTimePrekeys.from_bytes(bytes.fromhex(str(data["one_time"]))),
                int(str(data["next_prekey_id"])),
                ConsumedPrekeys.from_json(data.get("consumed", [])),  # absent before grace came
                WaitingHandshakes.from_json(data.get("waiting", [])),  # absent before it came
            )
        except (KeyError, ValueError, TypeError, SessionError) as exc:
            raise StateError("malformed device state") from exc


def _signed_from_json(data: dict[str, object]) -> SignedPrekeyRing:
    """The signed prekeys of a saved state, including one saved before rotation came (a map of
    keys and one flat set of seen ephemerals)."""
    if "signed" in data:
        return SignedPrekeyRing.from_json(data["signed_prekey_id"], data["signed"])
    spks, seen = data["signed_prekeys"], data["seen_ephemerals"]
    if not isinstance(spks, dict) or not isinstance(seen, list):
        raise StateError("malformed signed prekeys")
    keys = {int(i): KeyPair.from_secret(bytes.fromhex(s)) for i, s in spks.items()}
    current = int(str(data["signed_prekey_id"]))
    return SignedPrekeyRing.from_legacy(current, keys, (bytes.fromhex(e) for e in seen))


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
