"""A device's signed prekeys: the current one, rotated weekly, and the previous ones still in
their grace period, each with the handshake ephemeral keys it has answered.

X3DH without a one-time prekey (every one-time prekey of the bundle used, or an initiator that
skips them) is forward-secret only once the signed prekey it used is deleted, so a device makes a
new one every `SIGNED_PREKEY_ROTATION` seconds. The old one keeps answering handshakes until a
bundle without it has been published and `SIGNED_PREKEY_GRACE` seconds have passed since (the
consumed one-time prekey rule), so initiators still holding the old bundle get through; then its
private key is deleted. The ephemeral keys seen with it, kept to refuse replayed initial messages,
go with it: a replay made against a deleted signed prekey cannot be decrypted anyway. Pure: the
caller passes the times and the randomness.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from koinon.messaging.consumed_prekeys import CONSUMED_PREKEY_GRACE
from koinon.sessions.errors import PrekeyError, SessionError, StateError
from koinon.sessions.prekeys import MAX_PREKEY_ID, PrekeyBundle
from koinon.sessions.primitives import KeyPair, Random

SIGNED_PREKEY_ROTATION = 7 * 24 * 3600
"""Seconds a signed prekey is the current one before a new one replaces it."""

SIGNED_PREKEY_GRACE = CONSUMED_PREKEY_GRACE
"""Seconds a replaced signed prekey outlives the first bundle published without it."""

_KEYS = {"id", "secret", "created_at", "replaced_at", "ephemerals"}


@dataclass(frozen=True, slots=True)
class SignedPrekey:
    """One signed prekey: when it was made (None: before rotation was tracked), when a bundle
    without it was first published (None: not yet), and the handshake ephemerals it answered."""

    key: KeyPair
    created_at: int | None
    replaced_at: int | None = None
    ephemerals: frozenset[bytes] = frozenset()


@dataclass(frozen=True, slots=True)
class SignedPrekeyRing:
    """The signed prekeys a device still holds, by id; `current` is the one its bundle names."""

    current: int
    entries: Mapping[int, SignedPrekey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.current not in self.entries:
            raise StateError("the current signed prekey is missing")

    @classmethod
    def first(cls, key: KeyPair, now: int | None) -> SignedPrekeyRing:
        """A ring holding signed prekey 1, made at `now`."""
        return cls(1, {1: SignedPrekey(key, now)})

    def keys(self) -> dict[int, KeyPair]:
        """The private keys by id, to answer handshakes with."""
        return {i: entry.key for i, entry in self.entries.items()}

    def current_key(self) -> KeyPair:
        """The private key of the signed prekey the bundle names."""
        return self.entries[self.current].key

    def rotation_due(self, now: int, every: int = SIGNED_PREKEY_ROTATION) -> bool:
        """Whether the current signed prekey is `every` seconds old (or of unknown age)."""
        made = self.entries[self.current].created_at
        return made is None or now - made >= every

    def rotated(self, now: int, random: Random) -> SignedPrekeyRing:
        """This ring with a new current signed prekey made at `now`; the old ones stay."""
        new_id = max(self.entries) + 1
        if new_id > MAX_PREKEY_ID:
            raise PrekeyError("signed prekey ids exhausted")
        fresh = SignedPrekey(KeyPair.generate(random), now)
        return SignedPrekeyRing(new_id, {**self.entries, new_id: fresh})

    def published(self, bundle: PrekeyBundle, at: int) -> SignedPrekeyRing:
        """This ring after `bundle` was published at `at`: those it does not name are replaced."""
        return replace(
            self,
            entries={
                i: replace(e, replaced_at=at)
                if e.replaced_at is None and i != bundle.signed_prekey_id
                else e
                for i, e in self.entries.items()
            },
        )

    def forget(
        self, now: int, grace: int = SIGNED_PREKEY_GRACE, keep: Iterable[int] = ()
    ) -> SignedPrekeyRing:
        """This ring without the keys replaced at least `grace` seconds before `now`, but for
        those in `keep`."""
        kept = set(keep)
        return replace(
            self,
            entries={
                i: e
                for i, e in self.entries.items()
                if i == self.current
                or i in kept
                or e.replaced_at is None
                or now - e.replaced_at < grace
            },
        )

    def seen(self, prekey_id: int, ephemeral: bytes) -> bool:
        """Whether a handshake on signed prekey `prekey_id` already used `ephemeral`."""
        entry = self.entries.get(prekey_id)
        return entry is not None and ephemeral in entry.ephemerals

    def with_seen(self, prekey_id: int, ephemeral: bytes) -> SignedPrekeyRing:
        """This ring remembering that a handshake on `prekey_id` used `ephemeral`."""
        entry = self.entries[prekey_id]
        seen = replace(entry, ephemerals=entry.ephemerals | {ephemeral})
        return replace(self, entries={**self.entries, prekey_id: seen})

    def to_json(self) -> list[dict[str, object]]:
        """JSON-ready form (secrets in hex: seal it)."""
        return [
            {
                "id": i,
                "secret": e.key.secret.hex(),
                "created_at": e.created_at,
                "replaced_at": e.replaced_at,
                "ephemerals": sorted(x.hex() for x in e.ephemerals),
            }
            for i, e in sorted(self.entries.items())
        ]

    @classmethod
    def from_json(cls, current: object, data: object) -> SignedPrekeyRing:
        """Parse `to_json` output with the current id; anything malformed raises StateError."""
        if type(current) is not int or not isinstance(data, list):
            raise StateError("malformed signed prekeys")
        entries: dict[int, SignedPrekey] = {}
        for item in data:
            if not isinstance(item, dict) or set(item) != _KEYS:
                raise StateError("malformed signed prekey")
            prekey_id = item["id"]
            if type(prekey_id) is not int or not 0 <= prekey_id <= MAX_PREKEY_ID:
                raise StateError("malformed signed prekey id")
            if prekey_id in entries:
                raise StateError("duplicate signed prekey")
            times = (item["created_at"], item["replaced_at"])
            if any(t is not None and type(t) is not int for t in times):
                raise StateError("malformed signed prekey time")
            key = _key(item["secret"])
            entries[prekey_id] = SignedPrekey(key, *times, _ephemerals(item["ephemerals"]))
        return cls(current, entries)

    @classmethod
    def from_legacy(
        cls, current: int, keys: Mapping[int, KeyPair], ephemerals: Iterable[bytes]
    ) -> SignedPrekeyRing:
        """The ring of a state saved before rotation: ages unknown (so a rotation is due), and
        every ephemeral seen kept with the current key, which outlives the others."""
        entries = {i: SignedPrekey(k, None) for i, k in keys.items()}
        ring = cls(current, entries)
        seen = replace(ring.entries[current], ephemerals=frozenset(ephemerals))
        return replace(ring, entries={**entries, current: seen})


def _key(secret: object) -> KeyPair:
    try:
        if not isinstance(secret, str):
            raise ValueError("not a string")
        return KeyPair.from_secret(bytes.fromhex(secret))
    except (ValueError, SessionError) as exc:
        raise StateError("malformed signed prekey secret") from exc


def _ephemerals(data: object) -> frozenset[bytes]:
    if not isinstance(data, list) or not all(isinstance(e, str) for e in data):
        raise StateError("malformed seen ephemerals")
    try:
        found = frozenset(bytes.fromhex(e) for e in data)
    except ValueError as exc:
        raise StateError("malformed seen ephemeral") from exc
    if any(len(e) != 32 for e in found):
        raise StateError("malformed seen ephemeral")
    return found
