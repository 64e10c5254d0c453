"""A minimal Nostr websocket client for the CLI: publish and query against any relay."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from koinon.core import kinds
from koinon.core.event import Event, sign_event
from koinon.errors import KoinonError

DEFAULT_TIMEOUT = 15.0


class RelayError(KoinonError):
    """The relay could not be reached or answered out of protocol."""


@dataclass(frozen=True)
class PublishResult:
    """The relay's OK answer."""

    accepted: bool
    message: str


class RelayClient:
    """One websocket connection to a relay, used as an async context manager."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.challenge: str | None = None

    async def __aenter__(self) -> RelayClient:
        self._http = aiohttp.ClientSession()
        try:
            self._ws = await self._http.ws_connect(
                self.url,
                timeout=aiohttp.ClientWSTimeout(ws_receive=self.timeout, ws_close=self.timeout),
                max_msg_size=0,
            )
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            await self._http.close()
            raise RelayError(f"cannot connect to {self.url}: {exc}") from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()

    async def _send(self, message: list[Any]) -> None:
        assert self._ws is not None
        await self._ws.send_str(orjson.dumps(message).decode())

    async def _receive(self) -> list[Any]:
        assert self._ws is not None
        try:
            message = await asyncio.wait_for(self._ws.receive(), self.timeout)
        except TimeoutError:
            raise RelayError(f"{self.url} did not answer within {self.timeout:g} s") from None
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RelayError(f"{self.url} closed the connection")
        try:
            frame = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            raise RelayError(f"{self.url} sent malformed JSON") from None
        if not isinstance(frame, list) or not frame:
            raise RelayError(f"{self.url} sent a frame that is not a JSON array")
        if frame[0] == "AUTH" and len(frame) == 2 and isinstance(frame[1], str):
            self.challenge = frame[1]
        return frame

    async def authenticate(self, secret_key: bytes) -> None:
        """Answer the relay's NIP-42 challenge with a kind-22242 event signed by `secret_key`."""
        while self.challenge is None:
            await self._receive()
        event = sign_event(
            secret_key,
            kind=kinds.CLIENT_AUTH,
            content="",
            tags=[["relay", self.url], ["challenge", self.challenge]],
            created_at=int(time.time()),
            aux_rand=os.urandom(32),
        )
        await self._send(["AUTH", event.to_dict()])
        while True:
            frame = await self._receive()
            if frame[0] == "OK" and len(frame) >= 3 and frame[1] == event.id:
                if not frame[2]:
                    reason = str(frame[3]) if len(frame) > 3 else ""
                    raise RelayError(f"relay refused authentication: {reason}")
                return

    async def publish(self, event: Event) -> PublishResult:
        """Send an event and wait for its OK."""
        await self._send(["EVENT", event.to_dict()])
        while True:
            frame = await self._receive()
            if frame[0] == "OK" and len(frame) >= 3 and frame[1] == event.id:
                return PublishResult(bool(frame[2]), str(frame[3]) if len(frame) > 3 else "")

    async def query(
        self, filters: Sequence[dict[str, Any]], sub_id: str = "cli"
    ) -> list[dict[str, Any]]:
        """Stored events matching `filters`, up to EOSE."""
        await self._send(["REQ", sub_id, *filters])
        events: list[dict[str, Any]] = []
        while True:
            frame = await self._receive()
            if frame[0] == "EVENT" and len(frame) == 3 and frame[1] == sub_id:
                events.append(frame[2])
            elif frame[0] == "EOSE" and frame[1:2] == [sub_id]:
                await self._send(["CLOSE", sub_id])
                return events
            elif frame[0] == "CLOSED" and frame[1:2] == [sub_id]:
                reason = frame[2] if len(frame) > 2 else ""
                raise RelayError(f"relay closed the subscription: {reason}")
