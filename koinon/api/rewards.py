"""HTTP routes of epoch settlement: the rewards config, each epoch's record and exact inputs, and
payout proofs. Everything here can be recomputed by the client (`koinon rewards verify-epoch`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from aiohttp import web

from koinon.api.problem import from_rejected, problem
from koinon.core.event import Event
from koinon.core.keys import SecretKey, parse_public_key
from koinon.errors import Rejected, invalid
from koinon.rewards.accounts import checksum_address, payout_address
from koinon.rewards.columns import UpvoteColumns
from koinon.rewards.config import RewardsConfig
from koinon.rewards.holdings import BondHoldings
from koinon.rewards.settlement import Settlement, settle

CORS = {"Access-Control-Allow-Origin": "*"}


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json", headers=CORS)


def _epoch(request: web.Request) -> int:
    text = request.match_info["epoch"]
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise invalid("epoch must be a non-negative integer")
    return int(text)


def settlement_json(settlement: Settlement) -> dict[str, Any]:
    """The settlement's root, totals and every payout and bond leaf, for clients."""
    payouts = [
        {
            "pubkey": payout.pubkey,
            "account": checksum_address(payout_address(bytes.fromhex(payout.pubkey))),
            "amount": str(payout.amount),
            "author": str(payout.author),
            "curation": str(payout.curation),
            "notes": str(payout.notes),
        }
        for payout in settlement.result.payouts
        if payout.amount > 0
    ]
    return {
        "epoch": settlement.epoch,
        "root": settlement.root.hex(),
        "total": str(settlement.total),
        "inputs": settlement.inputs,
        # what the chain held for the declared bonds, at the block the record names
        "holdings": None if settlement.holdings is None else settlement.holdings.to_json(),
        "payouts": payouts,
        "bonds": [
            {
                "event_id": leaf.event_id.hex(),
                "owner": checksum_address(leaf.owner),
                "slashed": str(leaf.slashed),
            }
            for leaf in settlement.bonds
        ],
    }


class Settlements(Protocol):
    """What the routes read from the node's settlement service."""

    config: RewardsConfig
    key: SecretKey
    delay: float

    def due(self) -> int: ...

    async def inputs(self, epoch: int) -> list[Event] | None: ...

    async def upvote_inputs(self, epoch: int) -> list[Event] | None: ...

    async def earlier_upvotes(self, epoch: int) -> list[UpvoteColumns]: ...

    async def holdings(self, epoch: int) -> BondHoldings | None: ...

    async def record(self, epoch: int) -> Event | None: ...


class RewardsApi:
    """Handlers over the node's settlement service."""

    def __init__(self, service: Settlements, chain: object) -> None:
        self.service = service
        self.chain = chain
        self._cache: dict[int, Settlement] = {}

    def routes(self) -> list[web.RouteDef]:
        """The /rewards routes."""
        return [
            web.get("/rewards/config", self.config),
            web.get("/rewards/epochs/{epoch}", self.epoch),
            web.get("/rewards/epochs/{epoch}/events", self.events),
            web.get("/rewards/epochs/{epoch}/upvote-events", self.upvote_events),
            web.get("/rewards/epochs/{epoch}/proof/{pubkey}", self.proof),
        ]

    async def config(self, request: web.Request) -> web.Response:
        """The rewards constitution this node settles with, and its contracts if it has a chain."""
        body = {
            **self.service.config.to_dict(),
            "node": self.service.key.public_key,
            "settle_delay": self.service.delay,
            "due": self.service.due(),
            "chain": self.chain,
        }
        return _json(body)

    async def _settlement(self, epoch: int) -> Settlement | None:
        if epoch in self._cache:
            return self._cache[epoch]
        events = await self.service.inputs(epoch)
        if events is None:
            return None
        holdings = await self.service.holdings(epoch)
        earlier = await self.service.earlier_upvotes(epoch)
        settlement = settle(events, self.service.config, epoch, None, holdings, earlier)
        self._cache[epoch] = settlement
        return settlement

    async def epoch(self, request: web.Request) -> web.Response:
        """The signed record of an epoch and its full settlement."""
        try:
            epoch = _epoch(request)
        except Rejected as rejected:
            return from_rejected(rejected)
        record = await self.service.record(epoch)
        settlement = await self._settlement(epoch)
        if record is None or settlement is None:
            return problem(404, "not found", f"epoch {epoch} is not settled here", "invalid")
        return _json({"record": record.to_dict(), **settlement_json(settlement)})

    async def events(self, request: web.Request) -> web.Response:
        """The exact events the epoch was settled from (signed; check them, then recompute)."""
        return await self._events(request, self.service.inputs, "epoch {} is not settled here")

    async def upvote_events(self, request: web.Request) -> web.Response:
        """The exact events the upvotes of an epoch that later epochs read were counted from."""
        missing = "no later epoch read the upvotes of epoch {} here"
        return await self._events(request, self.service.upvote_inputs, missing)

    async def _events(
        self,
        request: web.Request,
        read: Callable[[int], Awaitable[list[Event] | None]],
        missing: str,
    ) -> web.Response:
        try:
            epoch = _epoch(request)
        except Rejected as rejected:
            return from_rejected(rejected)
        events = await read(epoch)
        if events is None:
            return problem(404, "not found", missing.format(epoch), "invalid")
        return _json([event.to_dict() for event in events])

    async def proof(self, request: web.Request) -> web.Response:
        """The payout leaf of a user and its proof to the epoch's root."""
        try:
            epoch = _epoch(request)
            pubkey = parse_public_key(request.match_info["pubkey"])
        except Rejected as rejected:
            return from_rejected(rejected)
        settlement = await self._settlement(epoch)
        if settlement is None:
            return problem(404, "not found", f"epoch {epoch} is not settled here", "invalid")
        leaf = settlement.payout_of(pubkey)
        if leaf is None:
            return problem(404, "not found", "that key earned nothing in this epoch", "invalid")
        return _json(
            {
                "epoch": epoch,
                "pubkey": pubkey,
                "account": checksum_address(leaf.account),
                "amount": str(leaf.amount),
                "root": settlement.root.hex(),
                "proof": [sibling.hex() for sibling in settlement.proof(leaf)],
            }
        )
