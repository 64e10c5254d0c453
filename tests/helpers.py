"""Shared test helpers: deterministic keys and events, a real node process, a websocket client.

Everything here is deterministic except the clock default of `make_event` (events must be recent
for a real node to take them). Waiting is always on a real signal (a frame, a pipe) with a deadline.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import aiohttp
import orjson
import pytest

from koinon.core import schnorr
from koinon.core.event import Event, compute_id, sign_event
from koinon.core.pow import difficulty

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"  # published test vectors, with their sources (SOURCES.md)
DEFAULT_TIMEOUT = 10.0
AUX_RAND = bytes(32)  # BIP-340 allows any aux randomness; fixed bytes make signatures repeatable


# -- keys and events ------------------------------------------------------------------------------


def make_key(n: int) -> bytes:
    """A deterministic, valid secret key numbered `n`."""
    return hashlib.sha256(f"koinon-test-key-{n}".encode()).digest()


def pubkey_of(key: bytes) -> str:
    """The hex x-only public key of a secret key."""
    return schnorr.public_key(key).hex()


def make_event(
    key: bytes,
    kind: int = 1,
    content: str = "",
    tags: Iterable[Sequence[str]] = (),
    created_at: int | None = None,
) -> Event:
    """A signed event; `created_at` defaults to now."""
    when = int(time.time()) if created_at is None else created_at
    return sign_event(
        key, kind=kind, content=content, tags=tags, created_at=when, aux_rand=AUX_RAND
    )


def mine_event(
    key: bytes,
    bits: int,
    kind: int = 1,
    content: str = "",
    created_at: int | None = None,
) -> Event:
    """A signed event whose id has at least `bits` leading zero bits (NIP-13, committed target)."""
    pubkey = pubkey_of(key)
    when = int(time.time()) if created_at is None else created_at
    for nonce in range(1 << (bits + 8)):
        tags = [["nonce", str(nonce), str(bits)]]
        if difficulty(compute_id(pubkey, when, kind, tags, content)) >= bits:
            return make_event(key, kind, content, tags, when)
    raise AssertionError(f"no nonce found for {bits} bits")


def with_fields(event: Event, **changes: Any) -> dict[str, Any]:
    """The event's JSON object with some fields replaced (id and signature are not redone)."""
    return {**event.to_dict(), **changes}


def auth_event(key: bytes, relay_url: str, challenge: str) -> Event:
    """A NIP-42 kind-22242 authentication event."""
    return make_event(key, 22242, "", [["relay", relay_url], ["challenge", challenge]])


# -- a node process -------------------------------------------------------------------------------


@dataclass
class NodeProcess:
    """A `koinon up` subprocess and the addresses it announced."""

    proc: subprocess.Popen[bytes]
    ws_url: str
    http_url: str
    stderr_path: Path
    _stderr: IO[bytes] = field(repr=False)

    def stderr_text(self) -> str:
        """Everything the node wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._release()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._release()
        return self.proc.returncode

    def _release(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


_WS_LINE = re.compile(rb"^\s*websocket:\s*(ws://\S+)\s*$", re.MULTILINE)


def start_node_process(data_dir: Path, *extra_args: str, timeout: float = 30.0) -> NodeProcess:
    """Run `koinon up` on a free port with `data_dir`; wait for it to announce its address."""
    data_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = data_dir.parent / f"{data_dir.name}.stderr.log"
    stderr = stderr_path.open("ab")
    args = [sys.executable, "-m", "koinon.cli.main", "up", "--host", "127.0.0.1", "--port", "0"]
    args += ["--data-dir", str(data_dir), "--rate-limit", "0", "--log-level", "WARNING"]
    proc = subprocess.Popen(
        [*args, *extra_args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
    )
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + timeout
    while (match := _WS_LINE.search(out)) is None:
        remaining = deadline - time.monotonic()
        ready = select.select([proc.stdout], [], [], max(remaining, 0))[0] if remaining > 0 else []
        chunk = os.read(proc.stdout.fileno(), 65536) if ready else b""
        if not chunk:  # timed out, or the process closed stdout (it exited)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=30)
            proc.stdout.close()
            stderr.close()
            why = "exited" if ready else f"did not announce its address within {timeout:g} s"
            stdout = out.decode(errors="replace")
            raise AssertionError(
                f"koinon up {why} (status {proc.returncode}).\nstdout: {stdout}"
                f"\nstderr: {stderr_path.read_text(errors='replace')}"
            )
        out += chunk
    ws_url = match.group(1).decode()
    return NodeProcess(proc, ws_url, "http" + ws_url[2:], stderr_path, stderr)


# -- a websocket client ---------------------------------------------------------------------------


class SubscriptionClosed(Exception):
    """The relay answered a REQ or COUNT with CLOSED."""

    def __init__(self, sub_id: str, message: str) -> None:
        super().__init__(f"CLOSED {sub_id}: {message}")
        self.sub_id = sub_id
        self.message = message


class WsClient:
    """A deliberately small Nostr client. Frames that a call does not wait for are kept, in order,
    for later `recv` calls, so nothing the relay sends is lost between calls."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, timeout: float) -> None:
        self.ws = ws
        self.timeout = timeout
        self.challenge: str | None = None  # the NIP-42 challenge, once the relay sent it
        self.pending: deque[list[Any]] = deque()
        self._queries = 0

    async def send(self, message: list[Any]) -> None:
        """Send one frame as JSON."""
        await self.ws.send_str(orjson.dumps(message).decode())

    async def send_raw(self, text: str) -> None:
        """Send text as it is (for malformed input)."""
        await self.ws.send_str(text)

    async def _read(self, timeout: float) -> list[Any]:
        message = await self.ws.receive(timeout=timeout)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"websocket ended: {message.type.name} {message.data!r}")
        frame = orjson.loads(message.data)
        assert isinstance(frame, list) and frame, f"not a frame: {message.data!r}"
        if frame[0] == "AUTH" and len(frame) == 2 and isinstance(frame[1], str):
            self.challenge = frame[1]
        return frame

    async def recv(self, timeout: float | None = None) -> list[Any]:
        """The next frame (kept ones first); `TimeoutError` if none comes in time."""
        if self.pending:
            return self.pending.popleft()
        return await self._read(self.timeout if timeout is None else timeout)

    async def expect(
        self, predicate: Callable[[list[Any]], bool], timeout: float | None = None
    ) -> list[Any]:
        """The first frame matching `predicate`; frames before it are kept for later."""
        for frame in self.pending:
            if predicate(frame):
                self.pending.remove(frame)
                return frame
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching frame arrived in time")
            frame = await self._read(remaining)
            if predicate(frame):
                return frame
            self.pending.append(frame)

    async def wait_challenge(self) -> str:
        """The NIP-42 challenge the relay sends on connect."""
        if self.challenge is None:
            await self.expect(lambda f: f[0] == "AUTH")
        assert self.challenge is not None
        return self.challenge

    async def publish(self, event: Event | dict[str, Any]) -> tuple[bool, str]:
        """Send EVENT and return the (accepted, message) of its OK."""
        raw = event.to_dict() if isinstance(event, Event) else event
        await self.send(["EVENT", raw])
        frame = await self.expect(lambda f: f[0] == "OK" and f[1:2] == [raw["id"]])
        return bool(frame[2]), str(frame[3])

    async def auth(self, key: bytes, relay_url: str) -> tuple[bool, str]:
        """Answer the relay's challenge (NIP-42)."""
        event = auth_event(key, relay_url, await self.wait_challenge())
        await self.send(["AUTH", event.to_dict()])
        frame = await self.expect(lambda f: f[0] == "OK" and f[1:2] == [event.id])
        return bool(frame[2]), str(frame[3])

    async def req(self, sub_id: str, *filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Open a subscription and return its stored events (up to EOSE); it stays open."""
        await self.send(["REQ", sub_id, *filters])
        events = []
        while True:
            frame = await self.expect(
                lambda f: f[0] in ("EVENT", "EOSE", "CLOSED") and f[1] == sub_id
            )
            if frame[0] == "EVENT":
                events.append(frame[2])
            elif frame[0] == "EOSE":
                return events
            else:
                raise SubscriptionClosed(sub_id, frame[2])

    async def query(self, *filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Stored events matching `filters` (a one-off subscription, closed afterwards)."""
        self._queries += 1
        sub_id = f"q{self._queries}"
        try:
            return await self.req(sub_id, *filters)
        finally:
            await self.close_sub(sub_id)

    async def count(self, sub_id: str, *filters: dict[str, Any]) -> int:
        """NIP-45 COUNT."""
        await self.send(["COUNT", sub_id, *filters])
        frame = await self.expect(lambda f: f[0] in ("COUNT", "CLOSED") and f[1] == sub_id)
        if frame[0] == "CLOSED":
            raise SubscriptionClosed(sub_id, frame[2])
        return int(frame[2]["count"])

    async def close_sub(self, sub_id: str) -> None:
        """CLOSE a subscription."""
        await self.send(["CLOSE", sub_id])

    async def barrier(self) -> None:
        """Return once every frame the relay queued for us before now has arrived (kept in
        `pending`): the relay writes a connection's frames in order, so an EOSE asked for now
        comes after them."""
        await self.query({"ids": ["0" * 64]})

    def drain_pending(self) -> list[list[Any]]:
        """Take every kept frame."""
        frames = list(self.pending)
        self.pending.clear()
        return frames


@contextlib.asynccontextmanager
async def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> AsyncIterator[WsClient]:
    """A connected `WsClient`, closed on exit."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, max_msg_size=0, autoping=True) as ws,
    ):
        yield WsClient(ws, timeout)


async def publish_all(url: str, events: Iterable[Event]) -> None:
    """Publish `events` in order over one connection; the relay must accept every one."""
    async with connect(url) as client:
        for event in events:
            assert await client.publish(event) == (True, "")


def ids_of(events: Iterable[dict[str, Any]]) -> list[str]:
    """The ids of events given as JSON objects, in order."""
    return [e["id"] for e in events]


# -- the independent implementation (nostr-tools on Node.js) ----------------------------------

INTEROP_DIR = Path(__file__).resolve().parent / "interop"
MIN_NODE_MAJOR = 20  # nostr-tools' @noble dependencies declare node >= 20.19


def _interop_unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"interop prerequisites missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def node_for_interop(packages: Sequence[str] = ("nostr-tools", "ws")) -> str:
    """Path of a Node.js able to run tests/interop; skips the test (fails it under CI) if not."""
    path = shutil.which("node")
    if path is None:
        _interop_unavailable("`node` is not on PATH (the interop tests need Node.js >= 20)")
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        _interop_unavailable(f"`node --version` failed: {exc}")
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        _interop_unavailable(f"Node.js {version} is too old for nostr-tools (need >= 20)")
    for package in packages:
        if not (INTEROP_DIR / "node_modules" / package / "package.json").is_file():
            _interop_unavailable(
                f"tests/interop/node_modules/{package} is missing; "
                "run `npm ci --prefix tests/interop`"
            )
    return path
