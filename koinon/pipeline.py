"""The one write path: verify → admit → commit → fan out. Websocket, HTTP and sync all use it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from koinon.core import kinds
from koinon.core.admission import AdmissionLimits, admit
from koinon.core.event import Event, verify_event
from koinon.errors import Reason, Rejected
from koinon.store.base import EventStore, StoreError

log = logging.getLogger(__name__)

Listener = Callable[[Event, bytes], None]
Done = Callable[[Rejected | None], None]


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

    def submit(self, event: Event, done: Done) -> None:
        """Accept `event` and call `done(None)` once it is durable (or ephemeral), or
        `done(rejection)`. Runs on the event loop; `done` may be called before this returns."""
        try:
            verify_event(event)
            admit(event, self.limits, int(self.clock()))
        except Rejected as rejected:
            done(rejected)
            return
        if kinds.classify(event.kind) is kinds.KindClass.EPHEMERAL:
            self._fan_out(event)
            done(None)
            return

        def committed(outcome: BaseException | None) -> None:
            if outcome is None:
                self._fan_out(event)
                done(None)
            elif isinstance(outcome, Rejected):
                done(outcome)
            else:
                if not isinstance(outcome, StoreError):
                    log.error("store failed on %s", event.id, exc_info=outcome)
                done(Rejected(Reason.ERROR, "could not store the event, try again"))

        try:
            self.store.submit(event, committed)
        except StoreError:
            done(Rejected(Reason.ERROR, "could not store the event, try again"))

    async def accept(self, event: Event) -> None:
        """Accept `event` or raise `Rejected`; returning means it is durable (or ephemeral)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(error: Rejected | None) -> None:
            if not future.done():
                future.set_result(None) if error is None else future.set_exception(error)

        self.submit(event, done)
        await future

    def _fan_out(self, event: Event) -> None:
        event_json = event.to_json()
        for listener in self._listeners:
            try:
                listener(event, event_json)
            except Exception:
                log.exception("listener failed for event %s", event.id)
