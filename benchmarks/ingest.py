"""Ingest throughput and REQ latency of Koinon against two peer relays, measured in one run.

What it measures, for each target (Koinon, nostr-sdk's Rust LocalRelay, the nostr-relay package):
  1. ingest: N pre-signed kind-1 events published by K pipelining websocket clients into an empty
     store; events/s = acknowledged events / (last `OK true` - first send);
  2. pre-load: more events by the same path until the store holds --store-size (or the per-target
     time budget runs out, in which case the store is reported as capped);
  3. REQ latency: REQ-to-EOSE round trips ({"authors":[a],"limit":20} and
     {"kinds":[1],"#t":[t],"limit":50}, alternating) while fresh events are published at
     --req-load events/s (default 1000); p50/p99 in ms.
Before timing, each target is sent a valid event, one with a bad signature and one with a wrong id
(see harness/checks.py), and the cost of one BIP-340 check here is measured. During each publishing
phase the CPU time of the relay's process tree and of the load generator is recorded.
It prints a table with Koinon/peer ratios, CPU per event and cores used, and writes the same to
benchmarks/results/ingest.json.

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
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from harness.checks import check_relay, describe, secp256k1_in_binary, verification_floor
from harness.events import EventPlan, generate, public_keys, topic
from harness.publisher import Pipeline
from harness.report import Summary, latency_summary, phase_summary, ratios, render_table
from harness.servers import Server, ServerFailed, log_tail, stop_server
from harness.targets import (
    ALL_TARGETS,
    BENCH_DIR,
    BENCH_VENV,
    DEFAULT_TARGETS,
    KOINON,
    KOINON_NAME,
    PEER_PINS,
    Target,
    ensure_bench_venv,
    targets,
)
from harness.workers import LoadShape, PhaseResult, ReqJob, ReqPlan, run_phase
from harness.wsclients import count_events

RESULTS = BENCH_DIR / "results" / "ingest.json"
_FULL = {"events": 100_000, "store_size": 1_000_000, "reqs": 300, "budget": 600.0}
_QUICK = {"events": 5_000, "store_size": 20_000, "reqs": 200, "budget": 120.0}
_BACKGROUND_SECONDS = 30  # enough background events for a REQ phase this long at --req-load


@dataclass(frozen=True)
class Options:
    """One run's parameters, after --quick defaults are applied."""

    events: int
    store_size: int
    reqs: int
    req_load: float
    budget: float
    shape: LoadShape
    only: tuple[str, ...]
    quickack: bool
    koinon: Path
    koinon_args: tuple[str, ...]
    json_path: Path

    @property
    def store_events(self) -> int:
        return max(self.events, self.store_size)

    @property
    def background_shape(self) -> LoadShape:
        """The publishers' shape while REQs are timed: paced at --req-load unless it is 0."""
        rate = self.req_load / self.shape.clients if self.req_load > 0 else None
        return replace(self.shape, pipeline=replace(self.shape.pipeline, rate=rate))

    @property
    def req_ingest_events(self) -> int:
        return int(self.req_load * _BACKGROUND_SECONDS) if self.req_load > 0 else self.events

    @property
    def total_events(self) -> int:
        return self.store_events + self.req_ingest_events


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line; --quick only changes the defaults of unset sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, help="events in the timed ingest (100000; quick 5000)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent websocket clients")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="client processes")
    parser.add_argument("--window", type=int, default=256, help="un-acked EVENTs per client")
    parser.add_argument(
        "--per-connection",
        type=int,
        default=5_000,
        help="EVENTs per websocket before a client reconnects (LocalRelay cuts one at 6000)",
    )
    parser.add_argument("--store-size", type=int, help="events stored before REQ timing (1000000)")
    parser.add_argument("--reqs", type=int, help="REQs timed per target (300; quick 200)")
    parser.add_argument(
        "--req-load",
        type=float,
        default=1000.0,
        help="background ingest while REQs are timed, events/s over all clients (0: flat out)",
    )
    parser.add_argument(
        "--budget", type=float, help="max seconds for ingest + pre-load per target (600; quick 120)"
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_TARGETS),
        help=f"comma-separated targets among {', '.join(ALL_TARGETS)}",
    )
    parser.add_argument(
        "--no-quickack",
        action="store_true",
        help="time REQs like a stock client (see README: LocalRelay then shows a ~40 ms floor)",
    )
    parser.add_argument("--koinon", type=Path, default=KOINON, help="the koinon command to run")
    parser.add_argument(
        "--koinon-arg",
        action="append",
        default=[],
        help="extra argument for `koinon up`, repeatable (e.g. --koinon-arg=--no-anchor)",
    )
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
        req_load=args.req_load,
        budget=args.budget or defaults["budget"],
        shape=LoadShape(args.clients, args.procs, Pipeline(args.window, args.per_connection)),
        only=only,
        quickack=not args.no_quickack,
        koinon=args.koinon,
        koinon_args=tuple(args.koinon_arg),
        json_path=args.json,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every selected target in turn and report."""
    opts = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every relay started so far is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if any(name != KOINON_NAME for name in opts.only):
        ensure_bench_venv()
    plan = EventPlan(
        count=opts.total_events, created_base=int(time.time()) - opts.total_events // 10 - 60
    )
    frames = _generate(plan)
    floor = _floor()
    reqs = ReqJob(req_plan(plan, opts.reqs), opts.quickack)
    known = targets(opts.koinon, opts.koinon_args)
    results = {name: run_target(known[name], frames, reqs, opts) for name in opts.only}
    relative = ratios(results)
    print()
    print(render_table(results, relative))
    _print_ratios(relative)
    _print_cpu(results)
    _print_unverified(results)
    _write_json(opts, results, relative, floor)
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


def run_target(target: Target, frames: list[bytes], reqs: ReqJob, opts: Options) -> Summary:
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
            summary["checks"] = _check(target.name, server.url)
            summary.update(_phases(target, server, frames, reqs, opts))
        except Exception as exc:
            print(f"[{target.name}] failed: {exc!r}\n{log_tail(server)}")
            summary.update(status="failed", reason=repr(exc))
        finally:
            stop_server(server)
    return summary


def _check(name: str, url: str) -> Summary:
    """Send the tampered and valid probes; say loudly if the relay keeps what it should refuse."""
    report = asyncio.run(check_relay(url))
    print(f"[{name}] checks: {describe(report)}", flush=True)
    if not report["verifies_ids_and_signatures"]:
        print(f"[{name}] WARNING: does not reject bad ids and signatures as it should", flush=True)
    return report


def _phases(
    target: Target, server: Server, frames: list[bytes], reqs: ReqJob, opts: Options
) -> Summary:
    name, url, pid = target.name, server.url, server.process.pid
    # Other work on these shared machines moves every figure; say how busy it was.
    load_before = os.getloadavg()
    ingest = run_phase(url, frames[: opts.events], opts.shape, budget=opts.budget, relay_pid=pid)
    _report_phase(name, "ingest", ingest)
    if ingest.acked == 0:
        raise RuntimeError(f"no event was acknowledged: {ingest.errors[:3]}")
    store = _build_store(target, server, frames, ingest, opts)
    concurrent = run_phase(url, frames[opts.store_events :], opts.background_shape, reqs=reqs)
    _report_phase(name, "ingest during REQs", concurrent)
    latency = latency_summary(concurrent.reqs)
    load_after = os.getloadavg()
    print(
        f"[{name}] REQ p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms "
        f"({latency['under_load']}/{latency['count']} issued while ingest ran); "
        f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after",
        flush=True,
    )
    return {
        "ingest": phase_summary(ingest),
        "preload": store,
        "req": latency,
        "ingest_during_req": phase_summary(concurrent),
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
    }


def _build_store(
    target: Target, server: Server, frames: list[bytes], ingest: PhaseResult, opts: Options
) -> Summary:
    """Pre-load up to --store-size events, within what is left of the target's time budget."""
    url = server.url
    goal = min(opts.store_events, target.capacity or opts.store_events)
    budget_left = opts.budget - ingest.seconds
    reasons: list[str] = []
    if target.capacity is not None and target.capacity < opts.store_events:
        reasons.append(f"store keeps at most {target.capacity:,} events")
    if ingest.stopped_early or (goal > opts.events and budget_left <= 0):
        reasons.append(f"time budget of {opts.budget:.0f} s ran out")
        preload = PhaseResult()
    else:
        preload = _preload(target.name, server, frames[opts.events : goal], budget_left, opts)
        if preload.stopped_early:
            reasons.append(f"time budget of {opts.budget:.0f} s ran out")
    acked = ingest.acked + preload.acked
    counted = asyncio.run(count_events(url, {"kinds": [1]}, timeout=60.0))
    stored = counted if counted is not None else min(acked, target.capacity or acked)
    print(
        f"[{target.name}] store: {stored:,} events (acknowledged {acked:,}; NIP-45 COUNT "
        f"{'unsupported' if counted is None else f'{counted:,}'})"
        + (f"; capped: {'; '.join(reasons)}" if reasons else ""),
        flush=True,
    )
    return {
        **phase_summary(preload),
        "target": opts.store_events,
        "stored": stored,
        "acknowledged_total": acked,
        "nip45_count": counted,
        "capped": bool(reasons),
        "cap_reasons": reasons,
    }


def _preload(
    name: str, server: Server, frames: list[bytes], budget: float, opts: Options
) -> PhaseResult:
    if not frames:
        return PhaseResult()
    print(f"[{name}] pre-loading {len(frames):,} more events ({budget:.0f} s left)", flush=True)
    preload = run_phase(server.url, frames, opts.shape, budget=budget, relay_pid=server.process.pid)
    _report_phase(name, "pre-load", preload)
    return preload


def _report_phase(name: str, label: str, result: PhaseResult) -> None:
    print(
        f"[{name}] {label}: {result.acked:,} acknowledged ({result.sent:,} sent) "
        f"in {result.seconds:.2f} s = {result.events_per_second:,.0f} events/s; "
        f"OK false {result.ok_false}"
        + (" (stopped by the time budget)" if result.stopped_early else "")
        + (f" e.g. {result.false_samples}" if result.false_samples else ""),
        flush=True,
    )
    if result.drops:
        print(
            f"[{name}]   the relay dropped {result.drops} connection(s), which reconnected and "
            f"re-sent unanswered events; e.g. {result.drop_samples}",
            flush=True,
        )
    if result.cpu is not None and result.acked:
        cpu = result.cpu.summary(result.acked)
        parts = ", ".join(
            f"{part} {us:,.0f}" for part, us in cpu["relay_us_per_event_by_part"].items() if us
        )
        print(
            f"[{name}]   CPU over {cpu['wall_s']:.2f} s: relay {cpu['relay_us_per_event']:,.0f} "
            f"µs/event ({cpu['relay_cores']:.2f} cores; {parts}), load generator "
            f"{cpu['loadgen_us_per_event']:,.0f} µs/event ({cpu['loadgen_cores']:.2f} cores), "
            f"other work {cpu['other_cores']:.2f} cores",
            flush=True,
        )
    for error in result.errors[:3]:
        print(f"[{name}]   error: {error}", flush=True)


def _generate(plan: EventPlan) -> list[bytes]:
    started = time.monotonic()
    frames = generate(plan, os.cpu_count() or 1)
    print(
        f"signed {len(frames):,} events by {plan.keys} keys in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    return frames


def _floor() -> Summary:
    """The per-event cost every relay pays, measured here, and the Rust relay's secp256k1."""
    floor = verification_floor()
    wheel = next(BENCH_VENV.glob("lib/python*/site-packages/nostr_sdk/libnostr_sdk_ffi.so"), None)
    floor["localrelay_secp256k1"] = secp256k1_in_binary(wheel) if wheel else None
    print(
        f"one BIP-340 verification: {floor['bip340_verify_us']} µs ({floor['library']}); "
        f"one event id (orjson + SHA-256): {floor['event_id_sha256_us']} µs; "
        f"LocalRelay: {floor['localrelay_secp256k1'] or 'no libsecp256k1 found in its wheel'}",
        flush=True,
    )
    return floor


def _print_cpu(results: dict[str, Summary]) -> None:
    """Per target: relay and load-generator CPU per event in the ingest window, cores used."""
    for name, summary in results.items():
        cpu = summary.get("ingest", {}).get("cpu")
        if cpu:
            print(
                f"{name}: relay {cpu['relay_us_per_event']:,.0f} µs CPU/event on "
                f"{cpu['relay_cores']:.2f} cores; load generator {cpu['loadgen_us_per_event']:,.0f}"
                f" µs/event on {cpu['loadgen_cores']:.2f} cores; other work "
                f"{cpu['other_cores']:.2f} cores (machine {cpu['machine_cores']:.2f})"
            )


def _print_unverified(results: dict[str, Summary]) -> None:
    for name, summary in results.items():
        checks = summary.get("checks")
        if checks and not checks["verifies_ids_and_signatures"]:
            print(
                f"WARNING: {name} accepted or stored a tampered event ({describe(checks)}); "
                "its events/s do not include the checks the others make"
            )


def _print_ratios(relative: Summary) -> None:
    for pair, values in relative.items():
        if values["events_per_s"] is not None:
            print(
                f"{pair}: events/s x{values['events_per_s']}, REQ p50 x{values['req_p50']}, "
                f"p99 x{values['req_p99']} (latency ratio < 1 means Koinon is faster)"
            )


def _write_json(
    opts: Options, results: dict[str, Summary], relative: Summary, floor: Summary
) -> None:
    payload = {
        "benchmark": "ingest",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "per_event_floor": floor,
        "options": {**asdict(opts), "json_path": str(opts.json_path), "koinon": str(opts.koinon)},
        "peer_pins": list(PEER_PINS),
        "targets": results,
        "ratios": relative,
    }
    opts.json_path.parent.mkdir(parents=True, exist_ok=True)
    opts.json_path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {opts.json_path}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the relays started so far were stopped", file=sys.stderr)
        sys.exit(130)
