"""This device's DM state, sealed at rest: X25519 identity, prekeys, ratchet sessions, processed
wrap ids and the message history (with each message's franking opening and stamp, for reports).

It lives in `$KOINON_HOME/dm/state.sealed`, sealed under the passphrase (`koinon.cli.sealedfile`,
salt in `$KOINON_HOME/dm/salt`). Nothing secret is written in clear, and nothing here is ever
logged.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from koinon.cli import keystore
from koinon.cli.sealedfile import SealedFile, SealedFileError
from koinon.core import ncryptsec
from koinon.core.event import is_hex
from koinon.core.keys import SecretKey
from koinon.errors import KoinonError
from koinon.messaging import dm
from koinon.messaging.franked_dm import FrankedMessage

STATE_FILE = "state.sealed"
_MAGIC = b"KDM1"
_AAD = b"koinon/dm/state/v1"


class DmError(KoinonError):
    """No DM device, unreadable state, or a peer that cannot be messaged."""


@dataclass(frozen=True)
class Entry:
    """One message in this device's history: sent (`outgoing`) or received, with `peer`."""

    peer: str
    outgoing: bool
    message: FrankedMessage

    def to_json(self) -> dict[str, object]:
        """JSON-ready form (holds the message and its opening: seal it)."""
        encoded = base64.b64encode(self.message.encode()).decode()
        return {"peer": self.peer, "out": self.outgoing, "msg": encoded}

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Entry:
        """Parse `to_json` output."""
        peer = raw["peer"]
        if not is_hex(peer, 64) or not isinstance(raw["out"], bool):
            raise ValueError("malformed history entry")
        assert isinstance(peer, str)
        message = FrankedMessage.decode(base64.b64decode(str(raw["msg"]), validate=True))
        return cls(peer, raw["out"], message)


@dataclass
class State:
    """Everything this device remembers; `store` seals it."""

    owner: str
    device: dm.LocalDevice
    sessions: dm.DeviceSessions
    processed: set[str] = field(default_factory=set)
    bundle_at: int = 0
    history: list[Entry] = field(default_factory=list)


def folder(home: Path) -> Path:
    """Where the DM state lives under the CLI's home."""
    return home / "dm"


def _sealed(home: Path) -> SealedFile:
    return SealedFile(folder(home) / STATE_FILE, _MAGIC, _AAD)


def store(home: Path, passphrase: str, state: State) -> None:
    """Seal and write the state (mode 0600)."""
    plain = json.dumps(
        {
            "v": 1,
            "owner": state.owner,
            "device": state.device.to_json(),
            "sessions": base64.b64encode(state.sessions.to_bytes()).decode(),
            "processed": sorted(state.processed),
            "bundle_at": state.bundle_at,
            "history": [entry.to_json() for entry in state.history],
        },
        separators=(",", ":"),
    ).encode()
    _sealed(home).write(passphrase, plain)


def load(home: Path, passphrase: str, owner: str) -> State:
    """Open the sealed state; no state, a wrong passphrase or another key's state raise DmError."""
    sealed = _sealed(home)
    path = sealed.path
    if not sealed.exists():
        raise DmError(f"no DM device in {home}: run 'koinon dm init'")
    try:
        plain = sealed.read(passphrase)
    except SealedFileError as exc:
        raise DmError(str(exc)) from None
    try:
        raw = json.loads(plain)
        if raw["v"] != 1:
            raise DmError(f"{path}: unknown state version")
        sessions = dm.DeviceSessions.from_bytes(base64.b64decode(raw["sessions"]), os.urandom)
        state = State(
            raw["owner"],
            dm.LocalDevice.from_json(raw["device"]),
            sessions,
            set(raw["processed"]),
            int(raw["bundle_at"]),
            [Entry.from_json(item) for item in raw.get("history", [])],
        )
    except (KeyError, ValueError, TypeError, binascii.Error, KoinonError) as exc:
        if isinstance(exc, DmError):
            raise
        raise DmError(f"{path} is malformed") from None
    if state.owner != owner:
        raise DmError(f"{path} belongs to another key: run 'koinon dm init --force'")
    return state


def unlock(args: argparse.Namespace) -> tuple[Path, str, SecretKey]:
    """The home, the passphrase (asked once) and the user's key."""
    home = keystore.home(args.home)
    path = keystore.key_path(home)
    if not path.exists():
        raise keystore.KeyStoreError(
            f"no key in {home}: run 'koinon key new' or 'koinon key import'"
        )
    passphrase = keystore.passphrase()
    return home, passphrase, SecretKey(ncryptsec.decrypt(path.read_text().strip(), passphrase))
