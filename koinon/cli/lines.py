"""How the CLI prints what is not a command's result: warnings on stderr, times in UTC."""

from __future__ import annotations

import sys
from datetime import UTC, datetime


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"koinon: warning: {message}", file=sys.stderr)


def when(timestamp: int) -> str:
    """A Unix time as `YYYY-MM-DD HH:MM:SS` in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
