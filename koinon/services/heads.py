"""Signs the log's tree head whenever the log has grown, and publishes it as a kind-3961 event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from koinon.core.event import Event
from koinon.core.keys import SecretKey
from koinon.ledger.heads import TreeHead, parse_tree_head, sign_tree_head
from koinon.pipeline import AcceptPipeline
from koinon.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


class TreeHeadService:
    """Keeps a fresh signed tree head; `sign_now` is what tests and receipts call directly."""

    def __init__(
        self,
        store: SqliteStore,
        pipeline: AcceptPipeline,
        key: SecretKey,
        clock: Callable[[], float],
        random_bytes: Callable[[int], bytes],
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.key = key
        self.clock = clock
        self.random_bytes = random_bytes
        self._lock = asyncio.Lock()

    async def latest(self) -> TreeHead | None:
        """The newest head the node signed."""
        event = await self.store.latest_tree_head()
        return parse_tree_head(event) if event else None

    async def sign_now(self) -> TreeHead:
        """Sign the current size unless the newest head already covers it."""
        async with self._lock:
            latest = await self.latest()
            size = await self.store.log_size()
            if latest is not None and latest.size >= size:
                return latest
            root = await self.store.log_root(size)
            timestamp = int(self.clock())
            if latest is not None:
                timestamp = max(timestamp, latest.timestamp)
            head = sign_tree_head(self.key.raw, size, root, timestamp, self.random_bytes(32))
            await self.store.save_tree_head(head)
            await self._publish(head.event)
            return head

    async def _publish(self, event: Event) -> None:
        try:
            await self.pipeline.accept(event)
        except Exception:
            log.exception("could not publish tree head %s", event.id)

    async def run(self, interval: float) -> None:
        """Sign heads every `interval` seconds for as long as the node runs."""
        while True:
            try:
                await self.sign_now()
            except Exception:
                log.exception("signing a tree head failed")
            await asyncio.sleep(interval)
