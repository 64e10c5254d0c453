"""Fan the websocket clients out over processes, start them together, and merge what they saw.

One Python process cannot saturate a fast relay, so the K clients are spread over P forked worker
processes (client c runs in process c % P and publishes frames c, c+K, c+2K, ...). All workers
connect first and meet at a barrier, so connection set-up is never timed; they start once the
parent has read the CPU counters (a go signal after the barrier). An optional REQ worker
times queries while the publishers run, and asks them to stop once it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier, Event
from typing import Any

import aiohttp

from harness import cpu as cputime
from harness.publisher import Pipeline, PublishResult, publish
from harness.wsclients import ReqTiming, WebSocket, connect, timed_reqs

_CTX = multiprocessing.get_context("fork")
_BARRIER_TIMEOUT = 120.0
_RESULT_POLL = 0.25

ReqPlan = Sequence[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class ReqJob:
    """The REQs to time during a phase, and whether the REQ client sets TCP_QUICKACK."""

    queries: ReqPlan
    quickack: bool = True


@dataclass(frozen=True)
class LoadShape:
    """How the publishing load is spread over clients and processes, and how each client paces."""

    clients: int
    processes: int
    pipeline: Pipeline


@dataclass
class PhaseResult:
    """The merged outcome of one publishing phase (and its REQ timings, if any)."""

    sent: int = 0
    acked: int = 0
    ok_false: int = 0
    false_samples: list[str] = field(default_factory=list)
    other_messages: int = 0
    drops: int = 0
    drop_samples: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False
    reqs: list[ReqTiming] = field(default_factory=list)
    cpu: cputime.CpuUsage | None = None  # measured when the relay's pid is known

    @property
    def events_per_second(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Report:
    """What one worker process sends back: its clients' results and its own CPU seconds."""

    published: list[PublishResult] = field(default_factory=list)
    timings: list[ReqTiming] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # process CPU time from the barrier to the end of publishing


@dataclass
class _Shared:
    barrier: Barrier
    go: Event  # set by the parent once everyone is at the barrier and the counters are read
    stop: Event
    publishers_left: Any  # multiprocessing.Value("i"), untyped in typeshed
    results: multiprocessing.Queue[_Report]


def run_phase(
    url: str,
    frames: Sequence[bytes],
    shape: LoadShape,
    *,
    budget: float | None = None,
    reqs: ReqJob | None = None,
    relay_pid: int | None = None,
) -> PhaseResult:
    """Publish `frames` to `url` with `shape`; stop after `budget` s or when `reqs` are done.

    With `relay_pid`, the CPU time of the relay's process tree, of the publishing workers and of
    the whole machine from the start barrier until every worker has reported is measured too.
    """
    processes = max(1, min(shape.processes, shape.clients))
    workers = processes + (1 if reqs else 0)
    shared = _Shared(
        barrier=_CTX.Barrier(workers + 1),
        go=_CTX.Event(),
        stop=_CTX.Event(),
        publishers_left=_CTX.Value("i", processes),
        results=_CTX.Queue(),
    )
    children = [
        _CTX.Process(target=_publisher_main, args=(url, frames, shape, p, processes, shared))
        for p in range(processes)
    ]
    if reqs:
        children.append(_CTX.Process(target=_reqs_main, args=(url, reqs, shared)))
    for child in children:
        child.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # failed workers report below
        shared.barrier.wait(_BARRIER_TIMEOUT)
    # Read before the workers may start: a parent scheduled late must not miss their first sends.
    before = cputime.snapshot(relay_pid) if relay_pid is not None else None
    shared.go.set()
    started = time.monotonic()
    collected = _collect(shared, children, workers, started + budget if budget else None)
    after = cputime.snapshot(relay_pid) if relay_pid is not None else None
    for child in children:
        child.join()
    merged = _merge(collected)
    if before is not None and after is not None:
        merged.cpu = cputime.usage(before, after, sum(report.cpu_seconds for report in collected))
    # Cut short means frames were left unsent; a deadline met during the last replies is not that.
    merged.stopped_early = budget is not None and shared.stop.is_set() and merged.sent < len(frames)
    return merged


def _collect(
    shared: _Shared,
    children: Sequence[multiprocessing.process.BaseProcess],
    expected: int,
    deadline: float | None,
) -> list[_Report]:
    collected: list[_Report] = []
    while len(collected) < expected:
        try:
            collected.append(shared.results.get(timeout=_RESULT_POLL))
        except queue.Empty:
            if deadline is not None and time.monotonic() >= deadline:
                shared.stop.set()
            if not any(child.is_alive() for child in children) and shared.results.empty():
                collected.append(_Report(errors=["a worker process died without a result"]))
                break
    return collected


def _merge(collected: list[_Report]) -> PhaseResult:
    merged = PhaseResult()
    clients = [result for report in collected for result in report.published]
    for result in clients:
        merged.sent += result.sent
        merged.acked += result.acked
        merged.ok_false += result.ok_false
        merged.other_messages += result.other_messages
        merged.false_samples.extend(result.false_samples[: 3 - len(merged.false_samples)])
        merged.drops += len(result.drops)
        merged.drop_samples.extend(result.drops[: 3 - len(merged.drop_samples)])
        merged.errors.extend(result.errors)
    for report in collected:
        merged.reqs.extend(report.timings)
        merged.errors.extend(report.errors)
    firsts = [r.first_send for r in clients if r.first_send is not None]
    lasts = [r.last_ok for r in clients if r.last_ok is not None]
    if firsts and lasts:
        merged.seconds = max(lasts) - min(firsts)
    return merged


def _publisher_main(
    url: str, frames: Sequence[bytes], shape: LoadShape, index: int, processes: int, shared: _Shared
) -> None:
    report = _Report()
    try:
        clients = range(index, shape.clients, processes)
        slices = [frames[c :: shape.clients] for c in clients]
        asyncio.run(_publish_all(url, slices, shape.pipeline, shared, report))
    except Exception as exc:  # a worker reports its failure instead of hanging the run
        report.errors.append(f"publisher {index}: {exc!r}")
        _release_barrier(shared)
    finally:
        with shared.publishers_left.get_lock():
            shared.publishers_left.value -= 1
        shared.results.put(report)


async def _publish_all(
    url: str, slices: list[Sequence[bytes]], pipeline: Pipeline, shared: _Shared, report: _Report
) -> None:
    async with aiohttp.ClientSession() as session:

        async def reconnect() -> WebSocket:
            return await connect(session, url)

        sockets = [await reconnect() for _ in slices]
        _wait_for_start(shared)
        cpu_start = time.process_time()
        clients = (
            publish(ws, reconnect, part, pipeline, shared.stop.is_set)
            for ws, part in zip(sockets, slices, strict=True)
        )
        report.published = list(await asyncio.gather(*clients))
        report.cpu_seconds = time.process_time() - cpu_start


def _reqs_main(url: str, reqs: ReqJob, shared: _Shared) -> None:
    report = _Report()
    try:
        report.timings, report.errors = asyncio.run(_time_reqs(url, reqs, shared))
    except Exception as exc:
        report.errors.append(f"REQ client: {exc!r}")
        _release_barrier(shared)
    finally:
        shared.stop.set()
        shared.results.put(report)


async def _time_reqs(url: str, reqs: ReqJob, shared: _Shared) -> tuple[list[ReqTiming], list[str]]:
    def publishing() -> bool:
        return bool(shared.publishers_left.value > 0)

    async with aiohttp.ClientSession() as session:
        ws = await connect(session, url)
        _wait_for_start(shared)
        try:
            return await timed_reqs(ws, reqs.queries, publishing, reqs.quickack)
        finally:
            await ws.close()


def _wait_for_start(shared: _Shared) -> None:
    shared.barrier.wait(_BARRIER_TIMEOUT)
    shared.go.wait(_BARRIER_TIMEOUT)


def _release_barrier(shared: _Shared) -> None:
    # A worker that failed before the barrier must not leave the others waiting for it;
    # once everyone has passed, breaking the barrier is harmless.
    shared.barrier.abort()
