"""How the CLI prints what is not a command's result (warnings on stderr, times in UTC), and the
options of the commands that list this device's message history."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"koinon: warning: {message}", file=sys.stderr)


def when(timestamp: int) -> str:
    """A Unix time as `YYYY-MM-DD HH:MM:SS` in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def add_history_options(parser: argparse.ArgumentParser, home_help: str) -> None:
    """--limit (the newest N, default 50) and --home, for `dm history` and `group history`."""
    parser.add_argument("--limit", type=int, default=50, help="newest N (default %(default)s)")
    parser.add_argument("--home", help=home_help)
