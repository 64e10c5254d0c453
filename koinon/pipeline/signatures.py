"""BIP-340 checks of event signatures in a child process, so the event loop never waits for them.

A signature check costs ~75 µs of C in libsecp256k1. coincurve releases the GIL during it, but a
thread doing it would need the GIL back after every check, and a busy event loop lets it have the
GIL only every switch interval; a child process gets a core of its own instead. Batches go
through a pipe (see `verify_worker`) and are answered in the order they were sent. Whenever the
child is not running (not started, or gone), signatures are checked on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from collections.abc import Callable, Coroutine

from koinon.core import schnorr

log = logging.getLogger(__name__)

Verdicts = Callable[[list[bool]], None]
# The pipe protocol: a request is a 4-byte little-endian count n and n records of 128 bytes
# (x-only key, event id, signature); the reply is the same count and n verdict bytes.
HEADER = 4
RECORD = 128
MAX_BATCH = 256  # records per request; replies are handled one per event-loop turn
RESTART_AFTER = 10.0  # seconds between attempts to start a child that failed


def record(pubkey: str, event_id: str, sig: str) -> bytes:
    """The 128 bytes the child checks for one event (hex fields already validated)."""
    return bytes.fromhex(pubkey + event_id + sig)


def check_inline(records: list[bytes]) -> list[bool]:
    """Verdicts computed here, on the calling thread."""
    return [schnorr.verify(r[:32], r[32:64], r[64:]) for r in records]


class SignatureChecker:
    """Checks batches of signatures in a child process; falls back to checking them inline."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: deque[tuple[list[bytes], Verdicts]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry_at = 0.0
        self._starting = False
        self._started = False
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether a child process takes the batches."""
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._proc is None else self._proc.pid

    async def start(self) -> None:
        """Start the child process (batches sent before it is ready wait in the pipe)."""
        if self._closed or self._proc is not None or self._starting:
            return
        self._started = self._starting = True
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "koinon.pipeline.verify_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError:
            log.exception("cannot start the signature checker; checking on the event loop")
            self._retry_at = asyncio.get_running_loop().time() + RESTART_AFTER
            return
        finally:
            self._starting = False
        if self._closed:
            await _end(proc)
            return
        self._proc = proc
        self._reader = asyncio.create_task(self._read_replies(proc))

    def check(self, records: list[bytes], done: Verdicts) -> None:
        """Call `done(verdicts)` on this event loop, one verdict per record in order; batches are
        answered in the order they are given. May call `done` before returning."""
        if self._proc is None:
            self._maybe_restart()
        for chunk, answer in _chunks(records, done):
            proc = self._proc
            if proc is None or proc.stdin is None:
                answer(check_inline(chunk))
                continue
            self._pending.append((chunk, answer))
            try:
                proc.stdin.write(len(chunk).to_bytes(HEADER, "little") + b"".join(chunk))
            except (ConnectionError, RuntimeError):
                self._fail("the signature checker stopped taking input")

    def _maybe_restart(self) -> None:
        if self._closed or self._starting or not self._started:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            return
        self._retry_at = loop.time() + RESTART_AFTER
        self._spawn(self.start())

    def _spawn(self, job: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_replies(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                header = await proc.stdout.readexactly(HEADER)
                count = int.from_bytes(header, "little")
                body = await proc.stdout.readexactly(count)
                records, done = self._pending.popleft()
                if len(records) != count:
                    raise ValueError("signature checker answered out of step")
                _answer(done, [b == 1 for b in body])
                await asyncio.sleep(0)  # one reply per turn: other work may run between them
        except asyncio.CancelledError:
            raise
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            if self._proc is proc:
                self._fail("the signature checker exited")

    def _fail(self, why: str) -> None:
        """Forget the child and answer everything it still owed, here and in order."""
        if not self._closed:
            log.error("%s; checking signatures on the event loop until it restarts", why)
        proc, self._proc = self._proc, None
        if proc is not None:
            self._spawn(_end(proc))
        self._retry_at = asyncio.get_running_loop().time() + RESTART_AFTER
        while self._pending:
            records, done = self._pending.popleft()
            _answer(done, check_inline(records))

    async def close(self) -> None:
        """Stop the child once it has answered what it was sent."""
        self._closed = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        proc, self._proc = self._proc, None  # its end of input is expected now, not a failure
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await _end(proc)
        while self._pending:  # only if the child died while closing
            records, done = self._pending.popleft()
            _answer(done, check_inline(records))


def _answer(done: Verdicts, verdicts: list[bool]) -> None:
    try:
        done(verdicts)
    except Exception:  # a caller's failure must not stop the answers to the others
        log.exception("handling signature verdicts failed")


def _chunks(records: list[bytes], done: Verdicts) -> list[tuple[list[bytes], Verdicts]]:
    """Split a batch into pieces the child takes at once; `done` hears all verdicts together."""
    if len(records) <= MAX_BATCH:
        return [(records, done)]
    verdicts: list[bool] = []

    def part(last: bool) -> Verdicts:
        def answer(some: list[bool]) -> None:
            verdicts.extend(some)
            if last:
                done(verdicts)

        return answer

    starts = range(0, len(records), MAX_BATCH)
    return [(records[s : s + MAX_BATCH], part(s == starts[-1])) for s in starts]


async def _end(proc: asyncio.subprocess.Process) -> None:
    """Close the child's input and wait for it to exit; kill it only if it does not. (Killing
    a child that has exited makes `Popen` reap it behind asyncio's child watcher.)"""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 5.0)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
