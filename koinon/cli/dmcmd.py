"""`koinon dm init|send|read`: forward-secret direct messages (X3DH + Double Ratchet in gift wraps).

This device's state (X25519 identity, prekeys, ratchet sessions, processed wrap ids) lives in
`$KOINON_HOME/dm/state.sealed`, sealed with XChaCha20-Poly1305 under a key derived from the
passphrase by scrypt with the salt in `$KOINON_HOME/dm/salt`. Nothing secret is written in clear.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions

from koinon.cli import keystore
from koinon.cli.client import RelayClient, RelayError
from koinon.cli.social import add_client_options
from koinon.core import ncryptsec
from koinon.core.event import parse_event, sign_event
from koinon.core.keys import SecretKey, npub, parse_public_key
from koinon.errors import KoinonError
from koinon.messaging import dm
from koinon.messaging.giftwrap import GIFT_WRAP_KIND, unwrap, wrap_rumor
from koinon.sessions.errors import BundleError

ONE_TIME_PREKEYS = 20
STATE_FILE = "state.sealed"
SALT_FILE = "salt"
_MAGIC = b"KDM1"
_AAD = b"koinon/dm/state/v1"
_NONCE_SIZE = 24
_SCRYPT_N, _SCRYPT_R, _SCRYPT_MAXMEM = 2**15, 8, 2**26


class DmError(KoinonError):
    """No DM device, unreadable state, or a peer that cannot be messaged."""


# -- sealed state -------------------------------------------------------------------------------


@dataclass
class State:
    """Everything this device remembers; `store` seals it."""

    owner: str
    device: dm.LocalDevice
    sessions: dm.DeviceSessions
    processed: set[str] = field(default_factory=set)
    bundle_at: int = 0


def _folder(home: Path) -> Path:
    return home / "dm"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _state_key(home: Path, passphrase: str) -> bytes:
    salt_path = _folder(home) / SALT_FILE
    if not salt_path.exists():
        _write_private(salt_path, os.urandom(16))
    return _derive(salt_path.read_bytes(), passphrase)


@functools.lru_cache(maxsize=4)
def _derive(salt: bytes, passphrase: str) -> bytes:
    return hashlib.scrypt(
        passphrase.encode(),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=1,
        maxmem=_SCRYPT_MAXMEM,
        dklen=32,
    )


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
        },
        separators=(",", ":"),
    ).encode()
    nonce = os.urandom(_NONCE_SIZE)
    key = _state_key(home, passphrase)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, _AAD, nonce, key)
    _write_private(_folder(home) / STATE_FILE, _MAGIC + nonce + sealed)


def load(home: Path, passphrase: str, owner: str) -> State:
    """Open the sealed state; no state, a wrong passphrase or another key's state raise DmError."""
    path = _folder(home) / STATE_FILE
    if not path.exists():
        raise DmError(f"no DM device in {home}: run 'koinon dm init'")
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        raise DmError(f"{path} is not a Koinon DM state file")
    nonce, sealed = data[4 : 4 + _NONCE_SIZE], data[4 + _NONCE_SIZE :]
    try:
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed, _AAD, nonce, _state_key(home, passphrase)
        )
    except nacl.exceptions.CryptoError:
        raise DmError(f"cannot open {path}: wrong passphrase or damaged file") from None
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
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DmError(f"{path} is malformed") from exc
    if state.owner != owner:
        raise DmError(f"{path} belongs to another key: run 'koinon dm init --force'")
    return state


def _unlock(args: argparse.Namespace) -> tuple[Path, str, SecretKey]:
    """The home, the passphrase (asked once) and the user's key."""
    home = keystore.home(args.home)
    path = keystore.key_path(home)
    if not path.exists():
        raise keystore.KeyStoreError(
            f"no key in {home}: run 'koinon key new' or 'koinon key import'"
        )
    passphrase = keystore.passphrase()
    return home, passphrase, SecretKey(ncryptsec.decrypt(path.read_text().strip(), passphrase))


# -- commands -----------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    add_client_options(parser, home_help="folder holding your key and DM state")


def register(commands: Any) -> None:
    """Add `koinon dm`."""
    top = commands.add_parser(
        "dm",
        help="forward-secret direct messages",
        description="Direct messages with forward secrecy: X3DH and a Double Ratchet per device, "
        "carried in NIP-59 gift wraps.",
    )
    sub = top.add_subparsers(dest="dm_command", metavar="ACTION", required=True)
    init = sub.add_parser(
        "init",
        help="set up this device and publish its prekey bundle",
        description="Create this device's X25519 identity, signed prekey and one-time prekeys "
        "(or top them up) and publish the prekey bundle (kind 30448).",
    )
    init.add_argument("--force", action="store_true", help="replace this device's keys")
    _common(init)
    init.set_defaults(run=dm_init)
    send = sub.add_parser(
        "send",
        help="send a direct message",
        description="Encrypt a message to every device of a person and publish the gift wraps.",
    )
    send.add_argument("person", help="npub1… or hex public key")
    send.add_argument("text", help="the message ('-' reads standard input)")
    _common(send)
    send.set_defaults(run=dm_send)
    read = sub.add_parser(
        "read",
        help="read new direct messages",
        description="Authenticate to the relay, fetch your gift wraps and print new messages.",
    )
    _common(read)
    read.set_defaults(run=dm_read)


async def _publish_bundle(client: RelayClient, key: SecretKey, state: State) -> None:
    bundle = state.device.bundle(key.raw, os.urandom)
    kind, content, tags = dm.bundle_event_template(state.device.device_id, bundle)
    state.bundle_at = max(int(time.time()), state.bundle_at + 1)
    event = sign_event(
        key.raw,
        kind=kind,
        content=content,
        tags=tags,
        created_at=state.bundle_at,
        aux_rand=os.urandom(32),
    )
    result = await client.publish(event)
    if not result.accepted:
        raise RelayError(f"relay refused the prekey bundle: {result.message}")


async def dm_init(args: argparse.Namespace) -> int:
    """Create (or top up) this device and publish its bundle."""
    home, passphrase, key = _unlock(args)
    exists = (_folder(home) / STATE_FILE).exists()
    if exists and not args.force:
        state = load(home, passphrase, key.public_key)
        state.device.top_up(ONE_TIME_PREKEYS, os.urandom)
    else:
        device = dm.LocalDevice.generate(os.urandom(8).hex(), ONE_TIME_PREKEYS, os.urandom)
        state = State(key.public_key, device, dm.DeviceSessions(os.urandom))
    async with RelayClient(args.relay) as client:
        store(home, passphrase, state)
        await _publish_bundle(client, key, state)
    store(home, passphrase, state)
    print(f"device: {state.device.device_id}")
    print(
        f"published prekey bundle (kind {dm.BUNDLE_KIND}) with {len(state.device.one_time)} "
        "one-time prekeys"
    )
    return 0


async def _bundles(client: RelayClient, peer: str) -> dict[str, tuple[int, Any]]:
    found = await client.query([{"kinds": [dm.BUNDLE_KIND], "authors": [peer]}])
    latest: dict[str, tuple[int, Any]] = {}
    for raw in found:
        try:
            event = parse_event(raw)
            device, bundle = dm.parse_bundle_event(event)
        except KoinonError:
            continue
        if event.pubkey == peer and (device not in latest or latest[device][0] < event.created_at):
            latest[device] = (event.created_at, bundle)
    return latest


async def dm_send(args: argparse.Namespace) -> int:
    """Encrypt to each of the peer's devices and publish the wraps."""
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise DmError("the message is empty")
    peer = parse_public_key(args.person)
    home, passphrase, key = _unlock(args)
    state = load(home, passphrase, key.public_key)
    identity = state.device.identity(key.raw)
    now = int(time.time())
    async with RelayClient(args.relay) as client:
        bundles = await _bundles(client, peer)
        if not bundles:
            raise DmError(
                f"{npub(peer)} has no prekey bundle on {args.relay} (no 'koinon dm init')"
            )
        wraps = []
        for device, (_, bundle) in sorted(bundles.items()):
            content = dm.encrypt_for(state.sessions, identity, device, bundle, text, os.urandom)
            rumor = dm.session_rumor(
                key.public_key, peer, device, state.device.device_id, content, now
            )
            wraps.append(wrap_rumor(rumor, key.raw, peer, now=now, random_bytes=os.urandom))
        store(home, passphrase, state)  # before publishing: a message key is never used twice
        for wrap in wraps:
            result = await client.publish(wrap)
            if not result.accepted:
                raise RelayError(f"relay refused a message: {result.message}")
    print(f"sent to {len(wraps)} device(s) of {npub(peer)}")
    return 0


def _warn(message: str) -> None:
    print(f"koinon: warning: {message}", file=sys.stderr)


async def dm_read(args: argparse.Namespace) -> int:
    """Print new messages for this device, oldest first."""
    home, passphrase, key = _unlock(args)
    state = load(home, passphrase, key.public_key)
    me = key.public_key
    async with RelayClient(args.relay) as client:
        await client.authenticate(key.raw)
        found = await client.query([{"kinds": [GIFT_WRAP_KIND], "#p": [me]}])
        opened = []
        for raw in found:
            wrap_id = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(wrap_id, str) or wrap_id in state.processed:
                continue
            state.processed.add(wrap_id)
            try:
                message = unwrap(parse_event(raw), key.raw)
            except KoinonError as exc:
                _warn(f"skipped an unreadable gift wrap: {exc}")
                continue
            if dm.addressed_device(message.rumor, me) == state.device.device_id:
                opened.append(message)
        opened.sort(key=lambda m: (m.rumor.created_at, m.rumor.id))
        prekeys_before = len(state.device.one_time)
        lines = []
        for message in opened:
            rumor = message.rumor
            try:
                text = dm.decrypt_from(
                    state.sessions, state.device, key.raw, message.sender, rumor, os.urandom
                )
            except KoinonError as exc:
                _warn(f"could not decrypt a message from {npub(message.sender)}: {exc}")
                continue
            when = datetime.fromtimestamp(rumor.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{when} {npub(message.sender)}: {text}")
        store(home, passphrase, state)
        if len(state.device.one_time) < prekeys_before:
            state.device.top_up(ONE_TIME_PREKEYS, os.urandom)
            store(home, passphrase, state)
            try:
                await _publish_bundle(client, key, state)
            except (RelayError, BundleError) as exc:
                _warn(f"could not republish the prekey bundle: {exc}")
            store(home, passphrase, state)
    for line in lines:
        print(line)
    return 0
