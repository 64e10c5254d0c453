"""Websocket plumbing of the load generator, and its readers: timed REQs and a NIP-45 COUNT.

Connections have permessage-deflate off, so clients spend their time on the socket rather than on
compression. Every wait is bounded with an asyncio deadline: aiohttp's own `receive(timeout=)`
restarts whenever a server ping arrives, so it never fires against a relay that pings.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import orjson

REPLY_TIMEOUT = 60.0
CONNECT_TIMEOUT = 60.0

WebSocket = aiohttp.ClientWebSocketResponse[Literal[False]]


@dataclass
class ReqTiming:
    """One REQ round trip: which filter shape, seconds to EOSE, events received."""

    shape: str
    seconds: float
    events: int
    under_load: bool


async def connect(session: aiohttp.ClientSession, url: str) -> WebSocket:
    """Open a websocket without compression and with room for large relay replies."""
    async with asyncio.timeout(CONNECT_TIMEOUT):
        return await session.ws_connect(
            url,
            compress=0,
            max_msg_size=16 * 1024 * 1024,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
            decode_text=False,
        )


async def timed_reqs(
    ws: WebSocket,
    filters: Sequence[tuple[str, dict[str, Any]]],
    under_load: Callable[[], bool],
    quickack: bool,
) -> tuple[list[ReqTiming], list[str]]:
    """Issue each (shape, filter) REQ in turn and time it until its EOSE.

    With `quickack`, the client acknowledges every TCP segment at once (Linux TCP_QUICKACK), so a
    relay that leaves Nagle's algorithm on is not held up ~40 ms by the client's delayed ACK.
    """
    acknowledge = _quickack(ws) if quickack else _no_op
    timings: list[ReqTiming] = []
    errors: list[str] = []
    for number, (shape, nostr_filter) in enumerate(filters):
        sub_id = f"lat{number}"
        loaded = under_load()
        started = time.perf_counter()
        await ws.send_frame(orjson.dumps(["REQ", sub_id, nostr_filter]), aiohttp.WSMsgType.TEXT)
        events = await _read_until_eose(ws, sub_id, acknowledge)
        elapsed = time.perf_counter() - started
        if events is None:
            errors.append(f"REQ {sub_id} got no EOSE")
            break
        timings.append(ReqTiming(shape, elapsed, events, loaded and under_load()))
        await ws.send_frame(orjson.dumps(["CLOSE", sub_id]), aiohttp.WSMsgType.TEXT)
    return timings, errors


async def count_events(url: str, nostr_filter: dict[str, Any], timeout: float) -> int | None:
    """NIP-45 COUNT of `nostr_filter`, or None when the relay does not answer it in time."""
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, url)
        try:
            async with asyncio.timeout(timeout):
                return await _await_count(ws, nostr_filter)
        except TimeoutError:
            return None
        finally:
            await ws.close()


async def _await_count(ws: WebSocket, nostr_filter: dict[str, Any]) -> int | None:
    await ws.send_frame(orjson.dumps(["COUNT", "n", nostr_filter]), aiohttp.WSMsgType.TEXT)
    while True:
        msg = await ws.receive()
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return None
        reply = orjson.loads(msg.data)
        if reply[0] == "COUNT" and reply[1] == "n":
            return int(reply[2]["count"])
        if reply[0] in ("CLOSED", "NOTICE"):
            return None


async def _read_until_eose(
    ws: WebSocket, sub_id: str, acknowledge: Callable[[], None]
) -> int | None:
    events = 0
    try:
        async with asyncio.timeout(REPLY_TIMEOUT):
            while True:
                msg = await ws.receive()
                acknowledge()
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
    except TimeoutError:
        return None


def _quickack(ws: WebSocket) -> Callable[[], None]:
    sock: socket.socket | None = ws.get_extra_info("socket")
    if sock is None or not hasattr(socket, "TCP_QUICKACK"):
        return _no_op
    return lambda: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _no_op() -> None:
    pass
