"""Entry point of the `koinon` command: argument parsing and the one error boundary."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from koinon import __version__
from koinon.cli import (
    dmcmd,
    groupcmd,
    keycmd,
    ledgercmd,
    reportcmd,
    rewardscmd,
    simcmd,
    social,
    upcmd,
    verifycmd,
)
from koinon.errors import KoinonError


def build_parser() -> argparse.ArgumentParser:
    """The full command tree (also used to check that every command documents itself)."""
    parser = argparse.ArgumentParser(
        prog="koinon",
        description="Koinon: a social network nobody owns. Run a node, manage your key, "
        "publish and read signed Nostr events.",
    )
    parser.add_argument("--version", action="version", version=f"koinon {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    upcmd.register(commands)
    keycmd.register(commands)
    social.register(commands)
    verifycmd.register(commands)
    ledgercmd.register(commands)
    dmcmd.register(commands)
    groupcmd.register(commands)
    reportcmd.register(commands)
    rewardscmd.register(commands)
    simcmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors print one line on stderr and give a non-zero status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        result = args.run(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except KoinonError as exc:
        print(f"koinon: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
