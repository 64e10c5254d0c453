"""Ingest throughput and REQ latency of Koinon against two peer relays, measured in one run.

What it measures, for each target (Koinon, nostr-sdk's Rust LocalRelay, the nostr-relay package):
  1. ingest: N pre-signed kind-1 events published by K pipelining websocket clients into an empty
     store; events/s = acknowledged events / (last `OK true` - first send);
  2. pre-load: more events by the same path until the store holds --store-size (or the per-target
     time budget runs out, in which case the store is reported as capped);
  3. REQ latency: REQ-to-EOSE round trips ({"authors":[a],"limit":20} and
     {"kinds":[1],"#t":[t],"limit":50}, alternating) while another ingest runs; p50/p99 in ms.
It prints a table with Koinon/peer ratios and writes the same data to benchmarks/results/ingest.json.

Run from the repository root:
    .venv/bin/python benchmarks/ingest.py --quick
    .venv/bin/python benchmarks/ingest.py [--events N] [--clients K] [--only koinon,localrelay]
The peers are installed into .venv-bench on first use (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.events import EventPlan, generate, public_keys, topic
from harness.report import Summary, latency_summary, phase_summary, ratios, render_table
from harness.servers import ServerFailed, log_tail, stop_server
from harness.targets import (
    ALL_TARGETS,
    BENCH_DIR,
    KOINON_NAME,
    PEER_PINS,
    Target,
    ensure_bench_venv,
    targets,
)
from harness.workers import LoadShape, PhaseResult, ReqPlan, run_phase
from harness.wsclients import count_events

RESULTS = BENCH_DIR / "results" / "ingest.json"
_FULL = {"events": 100_000, "store_size": 1_000_000, "reqs": 300, "preload_budget": 600.0}
_QUICK = {"events": 5_000, "store_size": 20_000, "reqs": 200, "preload_budget": 120.0}


@dataclass(frozen=True)
class Options:
    """One run's parameters, after --quick defaults are applied."""

    events: int
    store_size: int
    reqs: int
    preload_budget: float
    shape: LoadShape
    only: tuple[str, ...]
    localrelay_db: str
    json_path: Path

    @property
    def store_events(self) -> int:
        return max(self.events, self.store_size)

    @property
    def total_events(self) -> int:
        # the REQ phase publishes a fresh batch as large as the ingest phase
        return self.store_events + self.events


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line; --quick only changes the defaults of unset sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help="events in the timed ingest (100000; quick 5000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent websocket clients")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="client processes")
    parser.add_argument("--window", type=int, default=256, help="un-acked EVENTs per client")
    parser.add_argument("--store-size", type=int, help="events stored before REQ timing (1000000)")
    parser.add_argument("--reqs", type=int, help="REQs timed per target (300; quick 200)")
    parser.add_argument("--preload-budget", type=float, help="max seconds of pre-load per target")
    parser.add_argument("--only", default=",".join(ALL_TARGETS), help="comma-separated targets")
    parser.add_argument("--localrelay-db", choices=("lmdb", "memory"), default="lmdb")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument("--quick", action="store_true", help="small sizes for a fast check")
    args = parser.parse_args(argv)
    defaults = _QUICK if args.quick else _FULL
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = set(only) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(ALL_TARGETS)}")
    return Options(
        events=args.events or int(defaults["events"]),
        store_size=args.store_size or int(defaults["store_size"]),
        reqs=args.reqs or int(defaults["reqs"]),
        preload_budget=args.preload_budget or defaults["preload_budget"],
        shape=LoadShape(args.clients, args.procs, args.window),
        only=only,
        localrelay_db=args.localrelay_db,
        json_path=args.json,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every selected target in turn and report."""
    opts = parse_args(argv)
    if any(name != KOINON_NAME for name in opts.only):
        ensure_bench_venv()
    plan = EventPlan(count=opts.total_events, created_base=int(time.time()) - opts.total_events // 10 - 60)
    frames = _generate(plan)
    reqs = req_plan(plan, opts.reqs)
    known = targets(opts.localrelay_db)
    results = {name: run_target(known[name], frames, reqs, opts) for name in opts.only}
    relative = ratios(results)
    print()
    print(render_table(results, relative))
    _print_ratios(relative)
    _write_json(opts, results, relative)
    return 0 if all(r["status"] in ("ok", "skipped") for r in results.values()) else 1


def req_plan(plan: EventPlan, count: int) -> ReqPlan:
    """Alternating author and hashtag queries, spread over all authors and topics."""
    authors = public_keys(plan)
    queries: list[tuple[str, dict[str, Any]]] = []
    for i in range(count):
        if i % 2 == 0:
            queries.append(("authors", {"authors": [authors[(i // 2) % plan.keys]], "limit": 20}))
        else:
            tag = topic((i // 2) % plan.topics)
            queries.append(("kind+tag", {"kinds": [1], "#t": [tag], "limit": 50}))
    return queries


def run_target(target: Target, frames: list[bytes], reqs: ReqPlan, opts: Options) -> Summary:
    """Start one relay in a scratch directory, run the three phases, stop it."""
    summary: Summary = {"status": "ok", "storage": target.storage}
    if target.unavailable:
        print(f"[{target.name}] skipped: {target.unavailable}")
        return {**summary, "status": "skipped", "reason": target.unavailable}
    with tempfile.TemporaryDirectory(prefix=f"ingest-{target.name}-") as scratch:
        work = Path(scratch)
        try:
            server = target.launch(work, work / "server.log")
        except (ServerFailed, OSError) as exc:
            print(f"[{target.name}] failed to start: {exc}")
            return {**summary, "status": "failed", "reason": str(exc)}
        print(f"[{target.name}] listening on {server.url} ({target.storage})", flush=True)
        try:
            summary.update(_phases(target.name, server.url, frames, reqs, opts))
        except Exception as exc:
            print(f"[{target.name}] failed: {exc!r}\n{log_tail(server)}")
            summary.update(status="failed", reason=repr(exc))
        finally:
            stop_server(server)
    return summary


def _phases(name: str, url: str, frames: list[bytes], reqs: ReqPlan, opts: Options) -> Summary:
    ingest = run_phase(url, frames[: opts.events], opts.shape)
    _report_phase(name, "ingest", ingest)
    if ingest.acked == 0:
        raise RuntimeError(f"no event was acknowledged: {ingest.errors[:3]}")
    preload = _preload(name, url, frames[opts.events : opts.store_events], opts)
    stored = ingest.acked + preload.acked
    counted = asyncio.run(count_events(url, {"kinds": [1]}, timeout=60.0))
    print(f"[{name}] store: {stored:,} events acknowledged; NIP-45 COUNT says {counted}", flush=True)
    concurrent = run_phase(url, frames[opts.store_events :], opts.shape, reqs=reqs)
    _report_phase(name, "ingest during REQs", concurrent)
    latency = latency_summary(concurrent.reqs)
    print(f"[{name}] REQ p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms "
          f"({latency['under_load']}/{latency['count']} while ingest ran)", flush=True)
    return {
        "ingest": phase_summary(ingest),
        "preload": {
            **phase_summary(preload),
            "target": opts.store_events,
            "stored": stored,
            "capped": stored < opts.store_events,
            "nip45_count": counted,
        },
        "req": latency,
        "ingest_during_req": phase_summary(concurrent),
    }


def _preload(name: str, url: str, frames: list[bytes], opts: Options) -> PhaseResult:
    if not frames:
        return PhaseResult()
    print(f"[{name}] pre-loading {len(frames):,} more events (budget {opts.preload_budget:.0f} s)",
          flush=True)
    preload = run_phase(url, frames, opts.shape, budget=opts.preload_budget)
    _report_phase(name, "pre-load", preload)
    if preload.stopped_early:
        print(f"[{name}] pre-load capped by the time budget: store holds fewer than "
              f"{opts.store_events:,} events", flush=True)
    return preload


def _report_phase(name: str, label: str, result: PhaseResult) -> None:
    print(f"[{name}] {label}: {result.acked:,}/{result.sent:,} acknowledged in {result.seconds:.2f} s "
          f"= {result.events_per_second:,.0f} events/s; OK false {result.ok_false}"
          + (f" e.g. {result.false_samples}" if result.false_samples else ""), flush=True)
    for error in result.errors[:3]:
        print(f"[{name}]   error: {error}", flush=True)


def _generate(plan: EventPlan) -> list[bytes]:
    started = time.monotonic()
    frames = generate(plan, os.cpu_count() or 1)
    print(f"signed {len(frames):,} events by {plan.keys} keys in {time.monotonic() - started:.1f} s",
          flush=True)
    return frames


def _print_ratios(relative: Summary) -> None:
    for pair, values in relative.items():
        if values["events_per_s"] is not None:
            print(f"{pair}: events/s x{values['events_per_s']}, REQ p50 x{values['req_p50']}, "
                  f"p99 x{values['req_p99']} (latency ratio < 1 means Koinon is faster)")


def _write_json(opts: Options, results: dict[str, Summary], relative: Summary) -> None:
    payload = {
        "benchmark": "ingest",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "options": {**asdict(opts), "json_path": str(opts.json_path)},
        "peer_pins": list(PEER_PINS),
        "targets": results,
        "ratios": relative,
    }
    opts.json_path.parent.mkdir(parents=True, exist_ok=True)
    opts.json_path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {opts.json_path}")


if __name__ == "__main__":
    sys.exit(main())
