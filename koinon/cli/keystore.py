"""Where the CLI keeps the user's key: NIP-49 encrypted at rest, passphrase never stored."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from koinon.core import ncryptsec
from koinon.core.keys import SecretKey
from koinon.errors import KoinonError

KEY_FILE = "key.ncryptsec"
PASSPHRASE_ENV = "KOINON_PASSPHRASE"


class KeyStoreError(KoinonError):
    """No key, an unreadable key file, or no way to get the passphrase."""


def home(explicit: str | None) -> Path:
    """The CLI's folder: --home, then $KOINON_HOME, then ~/.koinon."""
    return Path(explicit or os.environ.get("KOINON_HOME") or Path.home() / ".koinon")


def passphrase(confirm: bool = False) -> str:
    """The passphrase from $KOINON_PASSPHRASE or, on a terminal, a prompt."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise KeyStoreError(f"no passphrase: set {PASSPHRASE_ENV} or run in a terminal")
    value = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != value:
        raise KeyStoreError("passphrases differ")
    if not value:
        raise KeyStoreError("the passphrase may not be empty")
    return value


def key_path(folder: Path) -> Path:
    """The encrypted key file in `folder`."""
    return folder / KEY_FILE


def save(folder: Path, key: SecretKey, secret_passphrase: str, overwrite: bool) -> Path:
    """Encrypt and write the key (mode 0600); refuse to overwrite unless asked."""
    path = key_path(folder)
    if path.exists() and not overwrite:
        raise KeyStoreError(f"{path} already holds a key (use --force to replace it)")
    folder.mkdir(parents=True, exist_ok=True)
    sealed = ncryptsec.encrypt(key.raw, secret_passphrase, os.urandom)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(sealed + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return path


def load(folder: Path) -> SecretKey:
    """Decrypt the stored key, asking for the passphrase."""
    path = key_path(folder)
    if not path.exists():
        raise KeyStoreError(f"no key in {folder}: run 'koinon key new' or 'koinon key import'")
    try:
        sealed = path.read_text().strip()
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from None
    return SecretKey(ncryptsec.decrypt(sealed, passphrase()))
