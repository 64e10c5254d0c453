"""The accept pipeline: check the id, the signature and the node's policy, commit, then fan out."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from koinon.core import kinds
from koinon.core.admission import AdmissionLimits, admit
from koinon.core.event import BAD_SIGNATURE_MESSAGE, Event, check_id
from koinon.errors import Reason, Rejected, invalid
from koinon.pipeline.signatures import MAX_BATCH, SignatureChecker, record
from koinon.store.base import EventStore, StoreError

log = logging.getLogger(__name__)

Listener = Callable[[Event, bytes], None]
Done = Callable[[Rejected | None], None]
StoreCallback = Callable[[BaseException | None], None]


class AcceptPipeline:
    """Takes events from any source and, once they are durable, hands them to listeners.

    Events submitted during one turn of the event loop are checked together: their signatures
    go to `checker` as one batch (a child process when it runs), and the valid ones reach the
    store in the order they were submitted.
    """

    def __init__(
        self,
        store: EventStore,
        limits: AdmissionLimits,
        clock: Callable[[], float],
        checker: SignatureChecker | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self.clock = clock
        self.checker = checker or SignatureChecker()
        self._listeners: list[Listener] = []
        self._waiting: list[tuple[Event, Done]] = []
        self._records: list[bytes] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event, json)` for every accepted event, after it is committed."""
        self._listeners.append(listener)

    def submit(self, event: Event, done: Done) -> None:
        """Accept `event` and call `done(None)` once it is durable (or ephemeral), or
        `done(rejection)`. Runs on the event loop; `done` may be called before this returns."""
        try:
            check_id(event)
        except Rejected as rejected:
            done(rejected)
            return
        if not self._waiting:
            asyncio.get_running_loop().call_soon(self._check_signatures)
        self._waiting.append((event, done))
        self._records.append(record(event.pubkey, event.id, event.sig))

    def _check_signatures(self) -> None:
        waiting, records = self._waiting, self._records
        self._waiting, self._records = [], []
        # In slices the checker answers one at a time, so the loop can serve other work between.
        for start in range(0, len(waiting), MAX_BATCH):
            self.checker.check(
                records[start : start + MAX_BATCH],
                functools.partial(self._signed, waiting[start : start + MAX_BATCH]),
            )

    def _signed(self, waiting: list[tuple[Event, Done]], verdicts: list[bool]) -> None:
        now = int(self.clock())
        to_store: list[tuple[Event, StoreCallback]] = []
        for (event, done), valid in zip(waiting, verdicts, strict=True):
            try:
                if not valid:
                    raise invalid(BAD_SIGNATURE_MESSAGE)
                admit(event, self.limits, now)
            except Rejected as rejected:
                self._tell(event, done, rejected)
                continue
            if kinds.is_ephemeral(event.kind):
                self._fan_out(event)
                self._tell(event, done, None)
            else:
                to_store.append((event, self._committed(event, done)))
        if to_store:
            try:
                self.store.submit_many(to_store)
            except StoreError as closed:
                for event, committed in to_store:
                    try:
                        committed(closed)
                    except Exception:
                        log.exception("reporting on event %s failed", event.id)

    def _tell(self, event: Event, done: Done, outcome: Rejected | None) -> None:
        try:
            done(outcome)
        except Exception:  # one caller's failure must not take the rest of the batch down
            log.exception("reporting on event %s failed", event.id)

    def _committed(self, event: Event, done: Done) -> StoreCallback:
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

        return committed

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
