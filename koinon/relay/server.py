"""The websocket shell around `Session`: reads frames, runs commands, writes frames in order."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import WSMsgType, web

from koinon.core.event import Event
from koinon.errors import Reason, Rejected
from koinon.pipeline import AcceptPipeline
from koinon.relay import frames
from koinon.relay.session import Count, Publish, Query, Send, Session
from koinon.settings import Settings
from koinon.store.base import EventStore, StoreError

log = logging.getLogger(__name__)

# Frames the transport accepts before closing the connection (1009); below it, and above the
# protocol limit, the session answers with a NIP-01 error and the connection stays open.
TRANSPORT_LIMIT_FACTOR = 4
MAX_OUTBOX_FRAMES = 100_000
YIELD_EVERY = 32  # messages read before letting other tasks run
COALESCE_BELOW = 65_536  # bytes: frames are written together while the transport holds less
INTERNAL = Rejected(Reason.ERROR, "internal error")


class Connection:
    """One websocket client: a session, an ordered outbox, and the tasks it started."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: Session,
        relay: Relay,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.ws = ws
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.session = session
        self.relay = relay
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()
        self._max_inflight = relay.settings.limits.max_inflight_events
        self._inflight = 0
        self._room = asyncio.Event()
        self._closing = False

    def send(self, frame: bytes) -> None:
        """Queue a frame; a client that stops reading is disconnected, not buffered forever."""
        if self._closing:
            return
        if len(self._outbox) >= MAX_OUTBOX_FRAMES:
            log.warning("closing a connection whose client does not read")
            self._closing = True
            self._spawn(self.ws.close(code=1008, message=b"too slow"))
            return
        self._outbox.append(frame)
        self._wake.set()

    async def _writer(self) -> None:
        outbox = self._outbox
        while not self._closing or outbox:
            if not outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(outbox) > 1 and self._write_together():
                continue
            try:
                await self.ws.send_frame(outbox.popleft(), WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):
                self._closing = True
                return

    def _write_together(self) -> bool:
        """Write several queued frames with one system call (a burst of OKs after a commit
        would otherwise cost one each). Only while the client keeps up: once the transport
        holds a backlog, frames go one by one through aiohttp, which waits for it to drain."""
        transport = self._transport
        if (
            transport is None
            or self.ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() > COALESCE_BELOW
        ):
            return False
        outbox, chunk, size = self._outbox, [], 0
        while outbox and size < COALESCE_BELOW:
            frame = outbox.popleft()
            chunk.append(_text_frame_header(len(frame)))
            chunk.append(frame)
            size += len(frame)
        transport.write(b"".join(chunk))
        return True

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Serve the connection until the client goes away."""
        writer = asyncio.create_task(self._writer())
        try:
            self._run_commands(self.session.start())
            unyielded = 0
            async for message in self.ws:
                # Frames already buffered are read without a pause; give other connections
                # (a REQ waiting for its answer) a turn now and then.
                unyielded += 1
                if unyielded >= YIELD_EVERY:
                    unyielded = 0
                    await asyncio.sleep(0)
                if message.type == WSMsgType.TEXT:
                    self._run_commands(self.session.receive(message.data, self.relay.clock()))
                elif message.type == WSMsgType.BINARY:
                    self.send(frames.notice("invalid: binary frames are not supported"))
                    continue
                else:
                    break
                while self._inflight >= self._max_inflight:
                    self._room.clear()
                    await self._room.wait()  # back-pressure: stop reading for a while
        finally:
            self._closing = True
            self._wake.set()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _run_commands(self, commands: list[Send | Publish | Query | Count]) -> None:
        for command in commands:
            if isinstance(command, Send):
                self.send(command.frame)
            elif isinstance(command, Publish):
                self._publish(command.event)
            elif isinstance(command, Query):
                if not self._query_now(command):
                    self._spawn(self._query(command))
            elif not self._count_now(command):
                self._spawn(self._count(command))

    def _publish(self, event: Event) -> None:
        self._inflight += 1

        def done(error: Rejected | None) -> None:
            self._inflight -= 1
            if self._inflight < self._max_inflight:
                self._room.set()
            self.send(self.session.published(event.id, error))

        try:
            self.relay.pipeline.submit(event, done)
        except Exception:
            log.exception("accepting event %s failed", event.id)
            done(INTERNAL)

    def _query_now(self, command: Query) -> bool:
        """Answer a cheap REQ in this turn of the loop; False when it needs a reader thread."""
        try:
            stored = self.relay.store.query_now(command.filters, command.readers)
        except StoreError:
            stored = None  # the reader thread tries again, and reports a lasting failure
        if stored is None:
            return False
        for frame in self.session.query_done(command.sub_id, command.generation, stored):
            self.send(frame)
        return True

    def _count_now(self, command: Count) -> bool:
        try:
            value = self.relay.store.count_now(command.filters, command.readers)
        except StoreError:
            value = None
        if value is None:
            return False
        self.send(self.session.counted(command.sub_id, value))
        return True

    async def _query(self, command: Query) -> None:
        try:
            stored = await self.relay.store.query(command.filters, command.readers)
        except StoreError:
            error = Rejected(Reason.ERROR, "could not read events, try again")
            for frame in self.session.query_failed(command.sub_id, command.generation, error):
                self.send(frame)
            return
        for frame in self.session.query_done(command.sub_id, command.generation, stored):
            self.send(frame)

    async def _count(self, command: Count) -> None:
        try:
            value = await self.relay.store.count(command.filters, command.readers)
        except StoreError:
            self.send(frames.closed(command.sub_id, "error: could not count events"))
            return
        self.send(self.session.counted(command.sub_id, value))

    def deliver(self, event: Event, event_json: bytes) -> None:
        """Offer a newly accepted event to this client's subscriptions."""
        for frame in self.session.live(event, event_json):
            self.send(frame)


class Relay:
    """All websocket connections of a node and the fan-out between them."""

    def __init__(
        self,
        settings: Settings,
        pipeline: AcceptPipeline,
        store: EventStore,
        clock: Callable[[], float],
        random_bytes: Callable[[int], bytes],
    ) -> None:
        self.settings = settings
        self.random_bytes = random_bytes
        self.pipeline = pipeline
        self.store = store
        self.clock = clock
        self.connections: set[Connection] = set()
        pipeline.subscribe(self._broadcast)

    def _broadcast(self, event: Event, event_json: bytes) -> None:
        for connection in self.connections:
            if connection.session.subscriptions:
                connection.deliver(event, event_json)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for a websocket upgrade."""
        limits = self.settings.limits
        ws = web.WebSocketResponse(
            max_msg_size=limits.max_message_bytes * TRANSPORT_LIMIT_FACTOR,
            compress=False,
            heartbeat=60,
        )
        await ws.prepare(request)
        session = Session(
            limits, self.settings.public_url, self.random_bytes(16).hex(), self.clock()
        )
        connection = Connection(ws, session, self, request.transport)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)
        return ws


def _text_frame_header(length: int) -> bytes:
    """The header of an unmasked, final text frame of `length` bytes (RFC 6455, section 5.2)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65_536:
        return bytes((0x81, 126)) + length.to_bytes(2, "big")
    return bytes((0x81, 127)) + length.to_bytes(8, "big")
