"""One-time prekeys already used by a handshake, kept for a grace period so that two initiators
who picked the same one both get a session.

Nostr has no server that hands each one-time prekey out once (Signal's does): every initiator
reads the same published bundle and picks one of its keys, so two of them may pick the same key
before the device republishes. A consumed key is therefore kept, sealed with the rest of the
device state, until a bundle that no longer lists it has been published and `grace` seconds
have passed since; then it is forgotten, which is when the handshakes that used it become
forward-secret. Replayed initial messages are refused by the device's set of seen ephemeral keys,
not by the key's absence. Pure: the caller passes the times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from koinon.sessions.errors import SessionError, StateError
from koinon.sessions.prekeys import MAX_PREKEY_ID, PrekeyBundle
from koinon.sessions.primitives import KeyPair

CONSUMED_PREKEY_GRACE = 48 * 3600
"""Seconds a consumed one-time prekey outlives the first bundle published without it: longer than
an initiator holding the old bundle (a slow relay, a node catching up by sync) takes to send."""


@dataclass(frozen=True, slots=True)
class ConsumedPrekey:
    """A used one-time prekey and when a bundle without it was first published (None: not yet)."""

    key: KeyPair
    replaced_at: int | None = None


@dataclass(frozen=True, slots=True)
class ConsumedPrekeys:
    """Consumed one-time prekeys by id, still accepted by handshakes until forgotten."""

    entries: Mapping[int, ConsumedPrekey] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def keys(self) -> dict[int, KeyPair]:
        """The secret keys by id, to answer handshakes with."""
        return {i: entry.key for i, entry in self.entries.items()}

    def add(self, prekey_id: int, key: KeyPair) -> ConsumedPrekeys:
        """These keys and one just consumed (still listed in the published bundle)."""
        return ConsumedPrekeys({**self.entries, prekey_id: ConsumedPrekey(key)})

    def replaced(self, bundle: PrekeyBundle, at: int) -> ConsumedPrekeys:
        """These keys after `bundle` was published at `at`: those it does not list are replaced."""
        listed = {i for i, _ in bundle.one_time_prekeys}
        return ConsumedPrekeys(
            {
                i: ConsumedPrekey(e.key, at) if e.replaced_at is None and i not in listed else e
                for i, e in self.entries.items()
            }
        )

    def forget(
        self, now: int, grace: int = CONSUMED_PREKEY_GRACE, keep: Iterable[int] = ()
    ) -> ConsumedPrekeys:
        """These keys without those replaced at least `grace` seconds before `now`, but for
        those in `keep`."""
        kept = set(keep)
        return ConsumedPrekeys(
            {
                i: e
                for i, e in self.entries.items()
                if i in kept or e.replaced_at is None or now - e.replaced_at < grace
            }
        )

    def to_json(self) -> list[dict[str, object]]:
        """JSON-ready form (secrets in hex: seal it)."""
        return [
            {"id": i, "secret": e.key.secret.hex(), "replaced_at": e.replaced_at}
            for i, e in sorted(self.entries.items())
        ]

    @classmethod
    def from_json(cls, data: object) -> ConsumedPrekeys:
        """Parse `to_json` output; anything malformed raises StateError."""
        if not isinstance(data, list):
            raise StateError("malformed consumed prekeys")
        entries: dict[int, ConsumedPrekey] = {}
        for item in data:
            if not isinstance(item, dict) or set(item) != {"id", "secret", "replaced_at"}:
                raise StateError("malformed consumed prekey")
            prekey_id, secret, at = item["id"], item["secret"], item["replaced_at"]
            if type(prekey_id) is not int or not 0 <= prekey_id <= MAX_PREKEY_ID:
                raise StateError("malformed consumed prekey id")
            if at is not None and type(at) is not int:
                raise StateError("malformed consumed prekey time")
            if not isinstance(secret, str) or prekey_id in entries:
                raise StateError("malformed or duplicate consumed prekey")
            try:
                key = KeyPair.from_secret(bytes.fromhex(secret))
            except (ValueError, SessionError) as exc:
                raise StateError("malformed consumed prekey secret") from exc
            entries[prekey_id] = ConsumedPrekey(key, at)
        return cls(entries)
