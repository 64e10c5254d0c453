"""The signature-checking child process: batches of (pubkey, event id, signature) in, verdicts out.

Run as `python -m koinon.pipeline.verify_worker` by `SignatureChecker`, which defines the pipe
protocol (`HEADER`, `RECORD`). The process exits when its input ends.
"""

from __future__ import annotations

import signal
import sys
from typing import BinaryIO

from koinon.core import schnorr
from koinon.pipeline.signatures import HEADER, RECORD


def _read(stream: BinaryIO, size: int) -> bytes | None:
    """Exactly `size` bytes, or None at the end of the input."""
    data = stream.read(size)
    return data if len(data) == size else None


def verdicts(records: bytes) -> bytes:
    """One byte per 128-byte record: 1 when its signature verifies."""
    return bytes(
        schnorr.verify(records[i : i + 32], records[i + 32 : i + 64], records[i + 64 : i + 128])
        for i in range(0, len(records), RECORD)
    )


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until the input ends."""
    while True:
        header = _read(requests, HEADER)
        if header is None:
            return
        records = _read(requests, int.from_bytes(header, "little") * RECORD)
        if records is None:
            return
        replies.write(header + verdicts(records))
        replies.flush()


def main() -> None:
    """Entry point of the child process."""
    # Ctrl-C reaches the whole process group; the node decides when this process ends (by
    # closing its input), so the interrupt must not kill it with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
