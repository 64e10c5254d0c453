"""The EVENT publisher of the load generator: one client sending pre-serialized frames.

A client runs either flat out, keeping `window` EVENTs un-acknowledged, or paced at a fixed rate
(the background load while REQs are timed). Every `per_connection` frames it moves to a fresh
websocket, once all replies on the old one are in. If the relay drops the connection, the client
reconnects and sends again every frame it has no OK for (a relay that had stored one answers
`duplicate:`, still `true`), so each event is counted once. A connection with no reply for
`REPLY_TIMEOUT` seconds ends the client.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import orjson

from harness.events import frame_event_id
from harness.wsclients import REPLY_TIMEOUT, WebSocket

_STOP_CHECK_EVERY = 256
_SAMPLES = 3
_MAX_DROPS = 20
# A paced client needs little in flight; a short queue also keeps a slow relay's keepalive pings
# answered in time (nostr-relay drops a connection whose pong waits behind ~20 s of EVENTs).
_PACED_WINDOW = 32


@dataclass(frozen=True)
class Pipeline:
    """How a client paces itself: frames in flight, frames per connection, optional rate."""

    window: int
    per_connection: int
    rate: float | None = None  # events/s for this client; None means as fast as the relay allows


@dataclass
class PublishResult:
    """What one publishing client saw, over all its connections."""

    sent: int = 0
    acked: int = 0
    ok_false: int = 0
    false_samples: list[str] = field(default_factory=list)
    other_messages: int = 0
    drops: list[str] = field(default_factory=list)
    first_send: float | None = None
    last_ok: float | None = None
    errors: list[str] = field(default_factory=list)


class _Outcome(enum.Enum):
    DONE = "done"
    STOPPED = "stopped"
    DROPPED = "dropped"
    STALLED = "stalled"


@dataclass
class _Batch:
    """One connection's share of frames and what has happened to them."""

    frames: Sequence[bytes]
    sent: int = 0
    replies: int = 0
    sending_done: bool = False
    dropped: bool = False
    unanswered: dict[str, int] = field(default_factory=dict)  # event id -> index in frames
    replied: asyncio.Event = field(default_factory=asyncio.Event)  # set on each reply or hang-up

    def leftover(self) -> list[bytes]:
        """Frames without an OK: sent but unanswered, then never sent."""
        resend = [self.frames[i] for i in sorted(self.unanswered.values())]
        return resend + list(self.frames[self.sent :])


async def publish(
    first: WebSocket,
    reconnect: Callable[[], Awaitable[WebSocket]],
    frames: Sequence[bytes],
    pipeline: Pipeline,
    should_stop: Callable[[], bool],
) -> PublishResult:
    """Send `frames` over `first`, then over fresh connections, and count the OK replies."""
    result = PublishResult()
    queue: Sequence[bytes] = frames
    ws: WebSocket | None = first
    while queue and not should_stop():
        if ws is None:
            ws = await _reconnect(reconnect, result)
            if ws is None:
                break
        batch = _Batch(queue[: pipeline.per_connection])
        try:
            outcome = await _publish_batch(ws, batch, pipeline, should_stop, result)
        finally:
            await ws.close()
            ws = None
        if outcome is _Outcome.DONE:
            queue = queue[pipeline.per_connection :]
        elif outcome is _Outcome.DROPPED and len(result.drops) <= _MAX_DROPS:
            queue = [*batch.leftover(), *queue[pipeline.per_connection :]]
        else:
            break
    if ws is not None:
        await ws.close()
    return result


async def _reconnect(
    reconnect: Callable[[], Awaitable[WebSocket]], result: PublishResult
) -> WebSocket | None:
    try:
        return await reconnect()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        result.errors.append(f"reconnecting failed: {exc!r}")
        return None


async def _publish_batch(
    ws: WebSocket,
    batch: _Batch,
    pipeline: Pipeline,
    should_stop: Callable[[], bool],
    result: PublishResult,
) -> _Outcome:
    """Publish one connection's frames and say how that ended."""
    if result.first_send is None:
        result.first_send = time.monotonic()
    try:
        async with asyncio.timeout(REPLY_TIMEOUT) as stall:
            loop = asyncio.get_running_loop()

            def alive() -> None:
                # Any reply proves the relay is alive; only a silent relay trips the timeout.
                stall.reschedule(loop.time() + REPLY_TIMEOUT)

            if pipeline.rate is None:
                await _flat_out(ws, batch, pipeline.window, should_stop, result, alive)
            else:
                window = min(pipeline.window, _PACED_WINDOW)
                await _paced(ws, batch, pipeline.rate, window, should_stop, result, alive)
    except TimeoutError:
        result.errors.append(f"no reply within {REPLY_TIMEOUT:.0f} s")
        return _Outcome.STALLED
    if batch.dropped:
        return _Outcome.DROPPED
    return _Outcome.DONE if batch.replies == len(batch.frames) else _Outcome.STOPPED


async def _flat_out(
    ws: WebSocket,
    batch: _Batch,
    window: int,
    should_stop: Callable[[], bool],
    result: PublishResult,
    alive: Callable[[], None],
) -> None:
    """Keep `window` frames in flight; every OK releases the next frame."""
    limit = len(batch.frames)
    while batch.sent < min(window, limit):
        await _send(ws, batch, result)
    while batch.replies < batch.sent:
        if not await _next_reply(ws, batch, result, alive):
            return
        if batch.replies % _STOP_CHECK_EVERY == 0 and should_stop():
            limit = batch.sent
        if batch.sent < limit:
            await _send(ws, batch, result)


async def _paced(
    ws: WebSocket,
    batch: _Batch,
    rate: float,
    window: int,
    should_stop: Callable[[], bool],
    result: PublishResult,
    alive: Callable[[], None],
) -> None:
    """Send frame i at start + i/rate, at most `window` ahead of the replies a task counts."""
    loop = asyncio.get_running_loop()
    receiver = asyncio.create_task(_drain_replies(ws, batch, result, alive))
    try:
        start = loop.time()
        for index in range(len(batch.frames)):
            await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
            while batch.sent - batch.replies >= window and not receiver.done():
                batch.replied.clear()
                await batch.replied.wait()
            if should_stop() or receiver.done():
                break
            await _send(ws, batch, result)
        batch.sending_done = True
        if batch.replies >= batch.sent:
            receiver.cancel()
        await asyncio.wait({receiver})
    finally:
        receiver.cancel()


async def _drain_replies(
    ws: WebSocket, batch: _Batch, result: PublishResult, alive: Callable[[], None]
) -> None:
    try:
        while not (batch.sending_done and batch.replies >= batch.sent):
            if not await _next_reply(ws, batch, result, alive):
                return
            batch.replied.set()
    finally:
        batch.replied.set()  # a sender waiting for room must see the hang-up


async def _send(ws: WebSocket, batch: _Batch, result: PublishResult) -> None:
    frame = batch.frames[batch.sent]
    batch.unanswered[frame_event_id(frame)] = batch.sent
    await ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
    batch.sent += 1
    result.sent += 1


async def _next_reply(
    ws: WebSocket, batch: _Batch, result: PublishResult, alive: Callable[[], None]
) -> bool:
    """Wait for the next OK (counting other messages on the way); False if the relay hung up."""
    while True:
        msg = await ws.receive()
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            batch.dropped = True
            result.drops.append(f"{msg.type.name} {msg.extra or ''}".strip())
            return False
        alive()
        data: bytes = msg.data
        if data.startswith(b'["OK"'):
            break
        result.other_messages += 1
    batch.replies += 1
    reply = orjson.loads(data)
    batch.unanswered.pop(reply[1], None)
    if reply[2] is True:
        result.acked += 1
        result.last_ok = time.monotonic()
    else:
        result.ok_false += 1
        if len(result.false_samples) < _SAMPLES:
            result.false_samples.append(str(reply[3]) if len(reply) > 3 else "")
    return True
