"""HTTP view of the node's chain, for verifiers when the chain is embedded in the node.

An embedded EVM lives inside the node process, so nobody else can query it; this route reads the
registry through its view functions. With `--chain-rpc` a verifier should ask the chain itself.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from koinon.api.problem import problem
from koinon.chain.client import AnchorClient
from koinon.chain.errors import AnchorNotFound, ChainError, ChainUnavailable


class ChainApi:
    """Read-only registry look-ups."""

    def __init__(self, chain: AnchorClient) -> None:
        self.chain = chain

    def routes(self) -> list[web.RouteDef]:
        """The /chain routes."""
        return [web.get("/chain/anchor/{operator}/{index}", self.anchor)]

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
