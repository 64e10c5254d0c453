"""Anchors the newest signed tree head on chain on a cadence, and keeps its own index of anchors.

The registry only accepts strictly growing sizes, so a head can never be anchored twice. After an
RPC failure the service asks the chain what it already holds before sending anything again: an
anchor whose transaction landed but whose receipt was lost is indexed, not repeated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from koinon.chain.client import AnchorClient
from koinon.chain.errors import ChainError, ChainUnavailable
from koinon.chain.records import AnchorRecord as ChainRecord
from koinon.core.keys import SecretKey
from koinon.ledger.heads import AnchorRecord, parse_anchor_record, sign_anchor_record
from koinon.pipeline import AcceptPipeline
from koinon.services.heads import TreeHeadService
from koinon.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class AnchoringService:
    """Moves signed tree heads onto the chain."""

    def __init__(
        self,
        store: SqliteStore,
        heads: TreeHeadService,
        chain: AnchorClient,
        pipeline: AcceptPipeline,
        key: SecretKey,
        clock: Callable[[], float],
        random_bytes: Callable[[int], bytes],
    ) -> None:
        self.store = store
        self.heads = heads
        self.chain = chain
        self.pipeline = pipeline
        self.key = key
        self.clock = clock
        self.random_bytes = random_bytes
        self._lock = asyncio.Lock()

    async def indexed(self) -> list[AnchorRecord]:
        """The anchors this node has recorded, oldest first."""
        return [parse_anchor_record(e) for e in await self.store.anchors()]

    async def reconcile(self) -> int:
        """Index anchors the chain holds but the node's index lacks; return how many."""
        known = await self.indexed()
        on_chain = await asyncio.to_thread(self.chain.anchor_count)
        added = 0
        for index in range(len(known), on_chain):
            record = await asyncio.to_thread(self.chain.get_anchor, None, index)
            tx_hash = await asyncio.to_thread(self.chain.transaction_of, record)
            await self._index(record, tx_hash)
            added += 1
        return added

    async def anchor_now(self) -> AnchorRecord | None:
        """Anchor the newest head if it is larger than the last anchored one."""
        async with self._lock:
            await self.reconcile()
            head = await self.heads.sign_now()
            known = await self.indexed()
            if head.size == 0 or (known and known[-1].size >= head.size):
                return None
            receipt = await asyncio.to_thread(self.chain.anchor, head.root, head.size)
            return await self._index(receipt.record, receipt.tx_hash)

    async def _index(self, record: ChainRecord, tx_hash: bytes) -> AnchorRecord:
        block_time = await asyncio.to_thread(self.chain.block_time, record.block_number)
        anchor = AnchorRecord(
            size=record.size,
            root=record.root,
            chain_id=self.chain.chain_id,
            contract=str(self.chain.contract_address),
            operator=str(self.chain.operator_address),
            index=record.index,
            tx_hash="0x" + tx_hash.hex(),
            block_number=record.block_number,
            block_time=block_time,
        )
        event = sign_anchor_record(self.key.raw, anchor, int(self.clock()), self.random_bytes(32))
        await self.store.save_anchor(anchor, event)
        try:
            await self.pipeline.accept(event)
        except Exception:
            log.exception("could not publish anchor record %s", event.id)
        return anchor

    async def run(self, interval: float) -> None:
        """Anchor every `interval` seconds (the first after one interval); back off while the
        chain is unreachable."""
        delay = interval
        while True:
            await asyncio.sleep(delay)
            try:
                await self.anchor_now()
                delay = interval
            except ChainUnavailable as exc:
                delay = min(MAX_BACKOFF, max(interval, delay * 2))
                log.warning("chain unreachable, retrying in %.0f s: %s", delay, exc)
            except ChainError:
                log.exception("anchoring failed")
