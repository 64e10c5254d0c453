"""The one write path: verify → admit → commit → fan out. Websocket, HTTP and sync all use it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from koinon.core import kinds
from koinon.core.admission import AdmissionLimits, admit
from koinon.core.event import Event, verify_event
from koinon.errors import Reason, Rejected
from koinon.store.base import EventStore, StoreError

log = logging.getLogger(__name__)

Listener = Callable[[Event, bytes], None]


class AcceptPipeline:
    """Takes events from any source and, once they are durable, hands them to listeners."""

    def __init__(
        self, store: EventStore, limits: AdmissionLimits, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.limits = limits
        self.clock = clock
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event, json)` for every accepted event, after it is committed."""
        self._listeners.append(listener)

    async def accept(self, event: Event) -> None:
        """Accept `event` or raise `Rejected`; returning means it is durable (or ephemeral)."""
        verify_event(event)
        admit(event, self.limits, int(self.clock()))
        if kinds.classify(event.kind) is not kinds.KindClass.EPHEMERAL:
            try:
                await self.store.add(event)
            except StoreError as exc:
                raise Rejected(Reason.ERROR, "could not store the event, try again") from exc
        self._fan_out(event)

    def _fan_out(self, event: Event) -> None:
        event_json = event.to_json()
        for listener in self._listeners:
            try:
                listener(event, event_json)
            except Exception:
                log.exception("listener failed for event %s", event.id)
