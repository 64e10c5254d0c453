"""`koinon key new|show|import`: the user's own key, encrypted at rest."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from koinon.cli import keystore
from koinon.core.keys import SecretKey, npub


def register(commands: Any) -> None:
    """Add the `key` command group."""
    key = commands.add_parser(
        "key",
        help="create, show or import your key",
        description="Manage your Nostr key. The secret key is stored encrypted (NIP-49) in "
        "--home, $KOINON_HOME or ~/.koinon; the passphrase comes from $KOINON_PASSPHRASE or a "
        "prompt.",
    )
    key.add_argument("--home", help="folder holding the key")
    sub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="generate a new key", description="Generate a new key.")
    new.add_argument("--force", action="store_true", help="replace an existing key")
    new.set_defaults(run=new_key)
    show = sub.add_parser(
        "show", help="print your public key", description="Print your public key (npub and hex)."
    )
    show.add_argument(
        "--secret",
        action="store_true",
        help="also print the secret key (nsec); keep it to yourself",
    )
    show.set_defaults(run=show_key)
    imp = sub.add_parser(
        "import",
        help="import an existing secret key",
        description="Import an nsec or hex secret key. Give '-' (the default) "
        "to read it from standard input, so it stays out of shell history.",
    )
    imp.add_argument("secret", nargs="?", default="-", help="nsec1…, hex, or - for stdin")
    imp.add_argument("--force", action="store_true", help="replace an existing key")
    imp.set_defaults(run=import_key)


def _print_public(key: SecretKey) -> None:
    print(f"npub: {npub(key.public_key)}")
    print(f"hex:  {key.public_key}")


def new_key(args: argparse.Namespace) -> int:
    """Generate and store a key."""
    folder = keystore.home(args.home)
    if keystore.key_path(folder).exists() and not args.force:
        raise keystore.KeyStoreError(
            f"{keystore.key_path(folder)} already holds a key (use --force to replace it)"
        )
    key = SecretKey.generate(os.urandom)
    path = keystore.save(folder, key, keystore.passphrase(confirm=True), args.force)
    _print_public(key)
    print(f"saved (encrypted) to {path}")
    return 0


def show_key(args: argparse.Namespace) -> int:
    """Print the public key, and the secret key only when asked."""
    key = keystore.load(keystore.home(args.home))
    _print_public(key)
    if args.secret:
        print(f"nsec: {key.nsec}")
    return 0


def import_key(args: argparse.Namespace) -> int:
    """Store a key given as nsec or hex."""
    text = sys.stdin.readline() if args.secret == "-" else args.secret
    key = SecretKey.parse(text)
    folder = keystore.home(args.home)
    path = keystore.save(folder, key, keystore.passphrase(confirm=True), args.force)
    _print_public(key)
    print(f"saved (encrypted) to {path}")
    return 0
