"""HTTP routes of the transparency log: heads, proofs, receipts and anchors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from koinon.api.problem import from_rejected, problem
from koinon.core.event import Event
from koinon.core.filters import Filter
from koinon.core.keys import parse_event_id
from koinon.errors import Rejected, invalid
from koinon.ledger.heads import TreeHead, parse_anchor_record
from koinon.store.log import LogError
from koinon.store.sqlite import SqliteStore

FreshHead = Callable[[], Awaitable[TreeHead]]
CORS = {"Access-Control-Allow-Origin": "*"}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=CORS
    )


def _int_param(request: web.Request, name: str) -> int:
    value = request.query.get(name, "")
    if not value.isascii() or not value.isdigit():
        raise invalid(f"query parameter {name} must be a non-negative integer")
    return int(value)


def head_json(head: TreeHead) -> dict[str, Any]:
    """A tree head for clients: fields plus the signed event that proves them."""
    return {
        "size": head.size,
        "root": head.root.hex(),
        "timestamp": head.timestamp,
        "node": head.node,
        "event": head.event.to_dict(),
    }


class LedgerApi:
    """Handlers bound to one node's store."""

    def __init__(self, store: SqliteStore, fresh_head: FreshHead, info: dict[str, Any]) -> None:
        self.store = store
        self.fresh_head = fresh_head
        self.info = info

    def routes(self) -> list[web.RouteDef]:
        """The /ledger routes."""
        return [
            web.get("/ledger", self.describe),
            web.get("/ledger/head", self.head),
            web.get("/ledger/proof/inclusion", self.inclusion),
            web.get("/ledger/proof/consistency", self.consistency),
            web.get("/ledger/receipt/{event}", self.receipt),
            web.get("/ledger/anchors", self.anchors),
        ]

    async def _guard(self, handler: Callable[[], Awaitable[web.Response]]) -> web.Response:
        try:
            return await handler()
        except Rejected as rejected:
            return from_rejected(rejected)
        except LogError as exc:
            return problem(404, "not found", str(exc), "invalid")
        except ValueError as exc:
            return problem(400, "invalid", str(exc), "invalid")

    async def describe(self, request: web.Request) -> web.Response:
        """Who signs this log and where it is anchored."""
        return _json(self.info)

    async def head(self, request: web.Request) -> web.Response:
        """The newest signed tree head (signing one if the log has grown)."""
        return await self._guard(lambda: self._head())

    async def _head(self) -> web.Response:
        return _json(head_json(await self.fresh_head()))

    async def inclusion(self, request: web.Request) -> web.Response:
        """Audit path: ?id=EVENT or ?index=N, and optionally &size=N (default: newest head)."""

        async def run() -> web.Response:
            head = await self.fresh_head()
            size = _int_param(request, "size") if "size" in request.query else head.size
            if "id" in request.query:
                position = await self.store.log_position(parse_event_id(request.query["id"]))
                if position is None:
                    return problem(404, "not found", "that event is not in the log", "invalid")
                index, leaf = position
            else:
                index, leaf = _int_param(request, "index"), b""
            proof = await self.store.inclusion_proof(index, size)
            root = await self.store.log_root(size)
            body = {
                "index": index,
                "size": size,
                "root": root.hex(),
                "proof": [p.hex() for p in proof],
            }
            if leaf:
                body["leaf"] = leaf.hex()
            return _json(body)

        return await self._guard(run)

    async def consistency(self, request: web.Request) -> web.Response:
        """Proof that tree ?second=N extends tree ?first=M."""

        async def run() -> web.Response:
            first, second = _int_param(request, "first"), _int_param(request, "second")
            if first > second:
                raise invalid("first must not be larger than second")
            proof = await self.store.consistency_proof(first, second)
            return _json({"first": first, "second": second, "proof": [p.hex() for p in proof]})

        return await self._guard(run)

    async def receipt(self, request: web.Request) -> web.Response:
        """Everything needed to check an event independently; see docs/protocol.md."""
        return await self._guard(lambda: self._receipt(request.match_info["event"]))

    async def _receipt(self, reference: str) -> web.Response:
        event_id = parse_event_id(reference)
        position = await self.store.log_position(event_id)
        if position is None:
            return problem(404, "not found", "that event is not in this node's log", "invalid")
        index, leaf = position
        latest = await self.fresh_head()
        stored = await self.store.query([Filter(ids=frozenset({event_id}), limit=1)])
        body: dict[str, Any] = {
            "event_id": event_id,
            "index": index,
            "leaf": leaf.hex(),
            "event": orjson.loads(stored[0]) if stored else None,
            "erased": not stored,
            "head": head_json(latest),
            "inclusion": [p.hex() for p in await self.store.inclusion_proof(index, latest.size)],
            "anchor": None,
        }
        anchor_event = await self.store.anchor_covering(index)
        if anchor_event is not None:
            body["anchor"] = await self._anchor_part(anchor_event, index, latest.size)
        return _json(body)

    async def _anchor_part(self, anchor_event: Event, index: int, latest: int) -> dict[str, Any]:
        record = parse_anchor_record(anchor_event)
        anchored_head = await self.store.tree_head(record.size)
        return {
            "record": anchor_event.to_dict(),
            "head": anchored_head.to_dict() if anchored_head else None,
            "inclusion": [p.hex() for p in await self.store.inclusion_proof(index, record.size)],
            "consistency": [
                p.hex() for p in await self.store.consistency_proof(record.size, latest)
            ],
        }

    async def anchors(self, request: web.Request) -> web.Response:
        """Every anchor record the node made, oldest first."""
        events = await self.store.anchors()
        return _json([e.to_dict() for e in events])
