"""HTTP view of the node's chain, for verifiers and wallets when the chain is embedded in the node.

An embedded EVM lives inside the node process, so nobody else can reach it. `/chain/anchor` reads
the registry through its view functions; `/chain/rpc` passes a fixed list of standard JSON-RPC
methods through (reads, and transactions the caller signed), so the CLI and any web3 library
talk to an embedded chain exactly as to a JSON-RPC node. With `--chain-rpc` clients should ask
the chain itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from koinon.api.problem import problem
from koinon.chain.client import AnchorClient
from koinon.chain.errors import AnchorNotFound, ChainError, ChainUnavailable
from koinon.chain.gateway import PARSE_ERROR, SERVER_ERROR, answer, error_body


def _json(body: dict[str, Any]) -> web.Response:
    # JSON-RPC clients read errors from the body, so every answer is a 200.
    return web.Response(body=orjson.dumps(body), content_type="application/json")


class ChainApi:
    """Read-only registry look-ups."""

    def __init__(self, chain: AnchorClient) -> None:
        self.chain = chain

    def routes(self) -> list[web.RouteDef]:
        """The /chain routes."""
        return [
            web.get("/chain/anchor/{operator}/{index}", self.anchor),
            web.post("/chain/rpc", self.rpc),
            web.post("/chain/fund/{address}", self.fund),
        ]

    async def rpc(self, request: web.Request) -> web.Response:
        """One JSON-RPC 2.0 call passed to the chain, if its method is on the allowed list."""
        try:
            call = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _json(error_body(None, PARSE_ERROR, "the body is not JSON"))
        try:
            body = await asyncio.to_thread(answer, self.chain.request, call)
        except ChainUnavailable:
            call_id = call.get("id") if isinstance(call, dict) else None
            body = error_body(call_id, SERVER_ERROR, "the chain is unreachable, try again")
        return _json(body)

    async def fund(self, request: web.Request) -> web.Response:
        """Give `address` gas money on a development chain (refused where the chain has none)."""
        address = request.match_info["address"]
        try:
            await asyncio.to_thread(self.chain.fund, address)
        except ValueError as exc:
            return problem(400, "invalid", str(exc), "invalid")
        except ChainUnavailable:
            return problem(503, "error", "the chain is unreachable, try again", "error")
        except ChainError as exc:
            return problem(403, "restricted", str(exc), "restricted")
        return web.json_response({"address": address, "funded": True})

    async def anchor(self, request: web.Request) -> web.Response:
        """Anchor `index` of `operator` as the registry holds it, with its block's timestamp."""
        operator, index_text = request.match_info["operator"], request.match_info["index"]
        if not index_text.isascii() or not index_text.isdigit():
            return problem(400, "invalid", "index must be a non-negative integer", "invalid")
        try:
            record = await asyncio.to_thread(self.chain.get_anchor, operator, int(index_text))
            block_time = await asyncio.to_thread(self.chain.block_time, record.block_number)
        except AnchorNotFound as exc:
            return problem(404, "not found", str(exc), "invalid")
        except ChainUnavailable:
            return problem(503, "error", "the chain is unreachable, try again", "error")
        except (ChainError, ValueError) as exc:
            return problem(400, "invalid", str(exc), "invalid")
        body = {
            "chain_id": self.chain.chain_id,
            "contract": str(self.chain.contract_address),
            "operator": record.operator,
            "index": record.index,
            "root": record.root.hex(),
            "size": record.size,
            "block_number": record.block_number,
            "block_time": block_time,
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")
