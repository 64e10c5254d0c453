"""Entry point of the `koinon` command: argument parsing and the one error boundary."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence

from koinon import __version__
from koinon.errors import KoinonError

# Each top-level command and the module under koinon/cli that registers it. Running a command
# imports only its module, so `koinon key show` does not pay for the messaging, chain and
# rewards stacks; the full tree is built only for `koinon --help` and mistyped commands.
COMMAND_MODULES: dict[str, str] = {
    "up": "upcmd",
    "key": "keycmd",
    "post": "social",
    "reply": "social",
    "react": "social",
    "repost": "social",
    "delete": "social",
    "follow": "social",
    "feed": "social",
    "req": "social",
    "verify": "verifycmd",
    "trace": "verifycmd",
    "ledger": "ledgercmd",
    "dm": "dmcmd",
    "group": "groupcmd",
    "report": "reportcmd",
    "rewards": "rewardscmd",
    "sim": "simcmd",
}


def command_modules() -> tuple[str, ...]:
    """The command modules, in the order their commands are listed in `koinon --help`."""
    return tuple(dict.fromkeys(COMMAND_MODULES.values()))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command tree: every command, or only those of the module `only`."""
    parser = argparse.ArgumentParser(
        prog="koinon",
        description="Koinon: a social network nobody owns. Run a node, manage your key, "
        "publish and read signed Nostr events.",
    )
    parser.add_argument("--version", action="version", version=f"koinon {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules() if only is None else (only,):
        importlib.import_module(f"koinon.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors print one line on stderr and give a non-zero status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(COMMAND_MODULES.get(arguments[0]) if arguments else None)
    args = parser.parse_args(arguments)
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
