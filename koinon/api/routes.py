"""HTTP routes: the landing page, NIP-11, and events in and out as JSON."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from koinon.api.problem import from_rejected, problem
from koinon.core.event import parse_event
from koinon.core.filters import parse_filter
from koinon.errors import Rejected, invalid
from koinon.pipeline import AcceptPipeline
from koinon.store.base import EventStore, StoreError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
}


class Api:
    """Handlers bound to one node's pipeline and store."""

    def __init__(
        self,
        pipeline: AcceptPipeline,
        store: EventStore,
        info: dict[str, object],
        websocket: Handler,
        max_body: int,
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.info = info
        self.websocket = websocket
        self.max_body = max_body

    def routes(self) -> list[web.RouteDef]:
        """Every route of the node."""
        return [
            web.get("/", self.root),
            web.get("/health", self.health),
            web.post("/api/events", self.publish),
            web.get("/api/events", self.query),
            web.options("/{tail:.*}", self.preflight),
        ]

    async def root(self, request: web.Request) -> web.StreamResponse:
        """Websocket upgrade, NIP-11 document, or a small human-readable page."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.websocket(request)
        if "application/nostr+json" in request.headers.get("Accept", ""):
            return web.json_response(
                self.info,
                content_type="application/nostr+json",
                headers=CORS,
                dumps=lambda o: orjson.dumps(o).decode(),
            )
        name = html.escape(str(self.info.get("name", "Koinon")))
        page = (
            f"<!doctype html><meta charset=utf-8><title>{name}</title>"
            f"<h1>{name}</h1><p>{html.escape(str(self.info.get('description', '')))}</p>"
            "<p>Connect a Nostr client to this address over websocket.</p>"
        )
        return web.Response(text=page, content_type="text/html")

    async def health(self, request: web.Request) -> web.Response:
        """Liveness probe."""
        return web.json_response({"status": "ok"})

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS preflight."""
        return web.Response(status=204, headers=CORS)

    async def publish(self, request: web.Request) -> web.Response:
        """POST an event; 200 once durable, problem JSON otherwise."""
        if request.content_length is not None and request.content_length > self.max_body:
            return problem(413, "too large", f"body larger than {self.max_body} bytes", "invalid")
        try:
            body = await request.content.read(self.max_body + 1)
            if len(body) > self.max_body:
                raise invalid(f"body larger than {self.max_body} bytes")
            try:
                raw = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise invalid("malformed JSON") from None
            event = parse_event(raw)
            await self.pipeline.accept(event)
        except Rejected as rejected:
            return from_rejected(rejected)
        except Exception:
            log.exception("HTTP publish failed")
            return problem(500, "error", "internal error", "error")
        return web.json_response({"ok": True, "id": event.id}, headers=CORS)

    async def query(self, request: web.Request) -> web.Response:
        """GET /api/events?filter={json}: stored events matching one NIP-01 filter."""
        try:
            try:
                raw = orjson.loads(request.query.get("filter", "{}"))
            except orjson.JSONDecodeError:
                raise invalid("filter is not valid JSON") from None
            flt = parse_filter(raw)
            stored = await self.store.query([flt], readers=frozenset())  # wraps need NIP-42
        except Rejected as rejected:
            return from_rejected(rejected)
        except StoreError:
            return problem(503, "error", "could not read events, try again", "error")
        body = b"[" + b",".join(stored) + b"]"
        return web.Response(body=body, content_type="application/json", headers=CORS)
