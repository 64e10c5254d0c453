"""Signature checks in a child process, and the accept pipeline that batches events for them.

Everything runs for real: the child is `python -m koinon.pipeline.verify_worker` on pipes, the store
is a SQLite file. The fallback is tested by killing our own child with SIGKILL.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from koinon.core.event import Event, sign_event
from koinon.core.filters import Filter
from koinon.errors import Rejected
from koinon.pipeline import AcceptPipeline, SignatureChecker
from koinon.pipeline import signatures as sig
from koinon.pipeline.verify_worker import serve
from koinon.settings import Limits
from koinon.store.sqlite import SqliteStore
from tests.helpers import AUX_RAND, make_event, make_key

ALICE, BOB = make_key(61), make_key(62)
T0 = 1_700_000_000


def records_of(events: list[Event]) -> list[bytes]:
    return [sig.record(e.pubkey, e.id, e.sig) for e in events]


def forged(event: Event, other: Event) -> Event:
    """`event` carrying `other`'s signature: well-formed, wrong."""
    return Event(
        event.id, event.pubkey, event.created_at, event.kind, event.tags, event.content, other.sig
    )


NOTES = [make_event(ALICE if i % 2 else BOB, 1, f"note {i}", (), T0 + i) for i in range(40)]
BAD = [forged(NOTES[i], NOTES[i + 1]) for i in range(0, 40, 5)]
MIXED = [e for pair in zip(NOTES[:8], BAD, strict=True) for e in pair]
EXPECTED = [not i % 2 for i in range(len(MIXED))]


@pytest.fixture
async def checker() -> AsyncIterator[SignatureChecker]:
    started = SignatureChecker()
    await started.start()
    try:
        yield started
    finally:
        await started.close()


async def verdicts(checker: SignatureChecker, records: list[bytes]) -> list[bool]:
    answer: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
    checker.check(records, answer.set_result)
    return await answer


def test_worker_answers_one_byte_per_record() -> None:
    request = len(MIXED).to_bytes(sig.HEADER, "little") + b"".join(records_of(MIXED))
    replies = io.BytesIO()
    serve(io.BytesIO(request + request), replies)
    header = len(MIXED).to_bytes(sig.HEADER, "little")
    assert replies.getvalue() == (header + bytes(EXPECTED)) * 2


def test_inline_checks_need_no_child() -> None:
    assert sig.check_inline(records_of(MIXED)) == EXPECTED


async def test_child_checks_batches_in_order(checker: SignatureChecker) -> None:
    assert checker.running
    answered: list[int] = []
    futures = []
    for n in range(5):
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()

        def done(
            found: list[bool], n: int = n, future: asyncio.Future[list[bool]] = future
        ) -> None:
            answered.append(n)
            future.set_result(found)

        checker.check(records_of(MIXED[n:]), done)
        futures.append(future)
    results = await asyncio.gather(*futures)
    assert answered == [0, 1, 2, 3, 4]
    assert results == [EXPECTED[n:] for n in range(5)]


async def test_a_batch_larger_than_one_message_is_answered_whole(
    checker: SignatureChecker,
) -> None:
    records = records_of(MIXED) * (sig.MAX_BATCH // len(MIXED) + 2)
    assert len(records) > sig.MAX_BATCH
    assert await verdicts(checker, records) == EXPECTED * (sig.MAX_BATCH // len(MIXED) + 2)


async def test_a_killed_child_is_replaced_by_inline_checks(checker: SignatureChecker) -> None:
    pid = checker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert await verdicts(checker, records_of(MIXED)) == EXPECTED
    assert not checker.running
    assert await verdicts(checker, records_of(MIXED[3:])) == EXPECTED[3:]
    await checker.start()
    assert checker.running and checker.pid != pid
    assert await verdicts(checker, records_of(MIXED)) == EXPECTED


async def test_a_closed_checker_checks_inline() -> None:
    closed = SignatureChecker()
    await closed.start()
    await closed.close()
    assert not closed.running
    assert await verdicts(closed, records_of(MIXED)) == EXPECTED


# -- the pipeline around it -----------------------------------------------------------------------


@pytest.fixture
async def pipeline(
    tmp_path: Path, checker: SignatureChecker
) -> AsyncIterator[tuple[AcceptPipeline, SqliteStore]]:
    store = SqliteStore(tmp_path / "events.sqlite3")
    try:
        yield AcceptPipeline(store, Limits(), lambda: float(T0 + 100), checker), store
    finally:
        await store.close()


async def outcome(pipeline: AcceptPipeline, event: Event) -> str | None:
    try:
        await pipeline.accept(event)
    except Rejected as rejected:
        return rejected.wire
    return None


async def test_pipeline_judges_a_batch_and_stores_it_in_order(
    pipeline: tuple[AcceptPipeline, SqliteStore],
) -> None:
    accept, store = pipeline
    seen: list[str] = []
    accept.subscribe(lambda event, _json: seen.append(event.id))
    target = NOTES[0]
    deletion = make_event(BOB, 5, "", [["e", target.id]], T0 + 50)
    ephemeral = make_event(ALICE, 20001, "typing", (), T0 + 51)
    too_new = make_event(ALICE, 1, "from the future", (), T0 + 100_000)
    signed = sign_event(ALICE, kind=1, content="x", created_at=T0, aux_rand=AUX_RAND)
    edited = Event(signed.id, signed.pubkey, T0, 1, (), "edited", signed.sig)
    # Submitted in one turn of the event loop, so their signatures are checked as one batch.
    batch = [target, BAD[1], deletion, ephemeral, too_new, edited, NOTES[1]]
    results = await asyncio.gather(*(outcome(accept, e) for e in batch))
    assert results == [
        None,
        "invalid: bad signature",
        None,
        None,
        "invalid: created_at is more than 900 seconds in the future",
        "invalid: event id does not match its content",
        None,
    ]
    # Stored in the order submitted: the deletion came after its target, which is gone.
    assert seen == [ephemeral.id, target.id, deletion.id, NOTES[1].id]
    found = await store.query([Filter()])
    assert sorted(orjson.loads(raw)["id"] for raw in found) == sorted([deletion.id, NOTES[1].id])
    assert await outcome(accept, target) == (
        "blocked: this event was accepted before and since removed"
    )
