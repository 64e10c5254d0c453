"""Websocket clients of the load generator: a pipelining EVENT publisher and a timed REQ reader.

Frames are sent as pre-serialized bytes with permessage-deflate off, so the client spends its time
on the socket rather than on JSON or compression. Every wait is bounded by `REPLY_TIMEOUT`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

REPLY_TIMEOUT = 60.0
CONNECT_TIMEOUT = 60.0
_STOP_CHECK_EVERY = 256
_SAMPLES = 3


@dataclass
class PublishResult:
    """What one publishing connection saw."""

    sent: int = 0
    acked: int = 0
    ok_false: int = 0
    false_samples: list[str] = field(default_factory=list)
    other_messages: int = 0
    first_send: float | None = None
    last_ok: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ReqTiming:
    """One REQ round trip: which filter shape, seconds to EOSE, events received."""

    shape: str
    seconds: float
    events: int
    under_load: bool


async def connect(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """Open a websocket without compression and with room for large relay replies."""
    return await session.ws_connect(
        url,
        compress=0,
        max_msg_size=16 * 1024 * 1024,
        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
        decode_text=False,
    )


async def publish(
    ws: aiohttp.ClientWebSocketResponse,
    frames: Sequence[bytes],
    window: int,
    should_stop: Callable[[], bool],
) -> PublishResult:
    """Send `frames` keeping up to `window` un-acknowledged, counting the relay's OK replies."""
    result = PublishResult()
    limit = len(frames)
    result.first_send = time.monotonic()
    while result.sent < min(window, limit):
        await ws.send_frame(frames[result.sent], aiohttp.WSMsgType.TEXT)
        result.sent += 1
    replies = 0
    while replies < result.sent:
        data = await _receive(ws, result)
        if data is None:
            break
        if not data.startswith(b'["OK"'):
            result.other_messages += 1
            continue
        replies += 1
        _count_ok(data, result)
        if replies % _STOP_CHECK_EVERY == 0 and should_stop():
            limit = result.sent
        if result.sent < limit:
            await ws.send_frame(frames[result.sent], aiohttp.WSMsgType.TEXT)
            result.sent += 1
    return result


async def timed_reqs(
    ws: aiohttp.ClientWebSocketResponse,
    filters: Sequence[tuple[str, dict[str, Any]]],
    under_load: Callable[[], bool],
) -> tuple[list[ReqTiming], list[str]]:
    """Issue each (shape, filter) REQ in turn and time it until its EOSE."""
    timings: list[ReqTiming] = []
    errors: list[str] = []
    for number, (shape, nostr_filter) in enumerate(filters):
        sub_id = f"lat{number}"
        loaded = under_load()
        started = time.perf_counter()
        await ws.send_frame(orjson.dumps(["REQ", sub_id, nostr_filter]), aiohttp.WSMsgType.TEXT)
        events = await _read_until_eose(ws, sub_id)
        elapsed = time.perf_counter() - started
        if events is None:
            errors.append(f"REQ {sub_id} got no EOSE")
            break
        timings.append(ReqTiming(shape, elapsed, events, loaded and under_load()))
        await ws.send_frame(orjson.dumps(["CLOSE", sub_id]), aiohttp.WSMsgType.TEXT)
    return timings, errors


async def count_events(url: str, nostr_filter: dict[str, Any], timeout: float) -> int | None:
    """NIP-45 COUNT of `nostr_filter`, or None when the relay does not answer it."""
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, url)
        try:
            await ws.send_frame(orjson.dumps(["COUNT", "n", nostr_filter]), aiohttp.WSMsgType.TEXT)
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                msg = await ws.receive(timeout=left)
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    return None
                reply = orjson.loads(msg.data)
                if reply[0] == "COUNT" and reply[1] == "n":
                    return int(reply[2]["count"])
                if reply[0] in ("CLOSED", "NOTICE"):
                    return None
        except TimeoutError:
            return None
        finally:
            await ws.close()
    return None


async def _receive(ws: aiohttp.ClientWebSocketResponse, result: PublishResult) -> bytes | None:
    try:
        msg = await ws.receive(timeout=REPLY_TIMEOUT)
    except TimeoutError:
        result.errors.append(f"no reply within {REPLY_TIMEOUT:.0f} s")
        return None
    if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
        result.errors.append(f"connection ended: {msg.type.name} {msg.extra or ''}".strip())
        return None
    data: bytes = msg.data
    return data


def _count_ok(data: bytes, result: PublishResult) -> None:
    reply = orjson.loads(data)
    if reply[2] is True:
        result.acked += 1
        result.last_ok = time.monotonic()
        return
    result.ok_false += 1
    if len(result.false_samples) < _SAMPLES:
        result.false_samples.append(str(reply[3]) if len(reply) > 3 else "")


async def _read_until_eose(ws: aiohttp.ClientWebSocketResponse, sub_id: str) -> int | None:
    events = 0
    while True:
        try:
            msg = await ws.receive(timeout=REPLY_TIMEOUT)
        except TimeoutError:
            return None
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return None
        reply = orjson.loads(msg.data)
        if len(reply) < 2 or reply[1] != sub_id:
            continue
        if reply[0] == "EVENT":
            events += 1
        elif reply[0] == "EOSE":
            return events
        elif reply[0] == "CLOSED":
            return None
