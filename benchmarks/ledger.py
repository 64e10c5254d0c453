"""Cost of Koinon's transparency log: appends, proofs and on-chain anchors, in one run.

What it measures:
  1. append throughput: synthetic but well-formed `LogEntry` leaves (random 32-byte ids and
     pubkeys, 64-byte signatures, from a seeded RNG) appended with `LogAppender.append` into a
     fresh SQLite file opened by `koinon.store.sqlite.connect` + `migrate` (WAL, synchronous=FULL),
     in batches of 2,000 like the store's group commit (BEGIN IMMEDIATE, append each leaf,
     `LogAppender.flush`, COMMIT).
     The peer, measured in the same run in alternating rounds, is the same rows (leaves and
     subtree hashes, copied from the appended file) written by plain `executemany` INSERTs in the
     same batches: a ceiling without hashing or per-leaf Python. Reported: both rates and
     their ratio (median of the rounds);
  2. proofs: a log of --leaves leaves is built by the same append path (progress every ~10%),
     then `inclusion_proof` and `consistency_proof` (koinon.store.log) are timed for up to 2,000
     random indexes / size pairs at the full size on a fresh connection (p50/p99/mean, target
     < 1 ms), the timed proofs are checked with `merkle.verify_inclusion` / `verify_consistency`
     against `root()`, and on a 4,096-leaf prefix the plan-based proofs are compared with the
     recursive definitions in `koinon.ledger.reference` (same proofs, speedup ratio). Each timing
     or checking loop stops early once its time budget (--budget) is spent, after at least 10
     samples, so a slow proof path gives a smaller sample rather than an endless run;
  3. gas: tree heads anchored through `koinon.chain.connect` on the embedded py-evm chain, and on
     anvil when `tools/anvil` is installed, covering batches of 1, 100 and 10,000 events
     (successive sizes; an operator's first anchor is reported apart): gas per anchor and per
     event (target < 10 gas/event at 10,000).
It prints a table with the targets met or missed and writes benchmarks/results/ledger.json.

Run from the repository root:
    .venv/bin/python benchmarks/ledger.py --quick      # 200,000 leaves, 15 s budgets: ~1 min
    .venv/bin/python benchmarks/ledger.py [--leaves N] [--budget S] [--keep] [--no-anvil]
The default is 10,000,000 leaves: a 3 GiB file, about 20 min, nearly all of it the build. The
databases live in a temporary folder (under $TMPDIR, else /tmp), deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from koinon import chain
from koinon.chain.testing import find_anvil, run_anvil
from koinon.ledger import merkle, reference
from koinon.ledger.entry import LogEntry
from koinon.store import log
from koinon.store.migrate import migrate
from koinon.store.sqlite import MAX_BATCH, connect

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "ledger.json"
BATCH = MAX_BATCH  # the store's group-commit size, 2,000
FULL_LEAVES = 10_000_000
QUICK_LEAVES = 200_000
THROUGHPUT_LEAVES = 100_000  # per round, for the append-vs-plain comparison
ROUNDS = 5
PROOFS = 2_000
FULL_BUDGET_S = 60.0  # per timing or checking loop; a slow proof path gets fewer samples
QUICK_BUDGET_S = 15.0
MIN_SAMPLES = 10
REFERENCE_PREFIX = 4_096
REFERENCE_PROOFS = 200
GAS_BATCHES = (1, 100, 10_000)
ANCHORS_PER_BATCH = 5
PROOF_TARGET_MS = 1.0
GAS_TARGET = 10.0
START_MS = 1_700_000_000_000  # logged_at of the first synthetic leaf

T = TypeVar("T")
COLUMNS = ("figure", "measured", "target", "status")
NodeRow = tuple[int, int, bytes]  # (level, idx, hash)
EntryRow = tuple[int, bytes, bytes, int]  # (idx, event_id, leaf, logged_at)


@dataclass(frozen=True)
class Options:
    """One run's parameters."""

    leaves: int
    budget: float
    keep: bool
    seed: int
    anvil: bool
    json_path: Path


@dataclass(frozen=True)
class Latency:
    """Summary of one operation's timings, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float


@dataclass(frozen=True)
class Throughput:
    """Append rate against the plain-insert ceiling, medians of alternating rounds."""

    leaves_per_round: int
    rounds: int
    append_leaves_per_s: float
    plain_leaves_per_s: float
    ratio: float
    append_rounds: list[float]
    plain_rounds: list[float]


@dataclass(frozen=True)
class Build:
    """The big log: how long it took and how large the file is."""

    leaves: int
    seconds: float
    append_seconds: float
    leaves_per_s: float
    last_decile_leaves_per_s: float
    db_bytes: int


@dataclass(frozen=True)
class Proofs:
    """Proof latencies at the full size, and the check of every proof."""

    size: int
    inclusion: Latency
    consistency: Latency
    inclusion_verified: int
    inclusion_checked: int
    consistency_verified: int
    consistency_checked: int


@dataclass(frozen=True)
class Speedup:
    """Plan-based proofs against the recursive reference on a prefix of the log."""

    prefix: int
    inclusion_proofs: int
    inclusion_plan_ms: float
    inclusion_reference_ms: float
    inclusion_speedup: float
    consistency_proofs: int
    consistency_plan_ms: float
    consistency_reference_ms: float
    consistency_speedup: float


@dataclass(frozen=True)
class GasBatch:
    """Anchors covering `events` new events each."""

    events: int
    anchors: int
    gas_per_anchor: float
    gas_per_event: float
    seconds_per_anchor: float


@dataclass(frozen=True)
class Gas:
    """Every anchor one chain took, the operator's first apart."""

    chain: str
    first_anchor_gas: int
    batches: list[GasBatch] = field(default_factory=list)


# --- synthetic leaves and the append path ------------------------------------------------------


def synthetic_entries(rng: random.Random, count: int) -> list[LogEntry]:
    """Well-formed leaves: random 32-byte id and pubkey, 64-byte signature."""
    out = []
    for _ in range(count):
        raw = rng.randbytes(128).hex()
        out.append(LogEntry(raw[:64], raw[64:128], raw[128:]))
    return out


def open_log(path: Path) -> sqlite3.Connection:
    """A Koinon store connection (WAL, synchronous=FULL) with the schema applied."""
    conn = connect(path)
    migrate(conn)
    return conn


def append_batch(appender: log.LogAppender, entries: Sequence[LogEntry], logged_at: int) -> None:
    """One group commit, as the store's writer does it: every entry appended, the buffered rows
    flushed, all in a single write transaction."""
    conn = appender.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for entry in entries:
            appender.append(entry, logged_at)
        appender.flush()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        appender.reload()
        raise


def timed_appends(
    appender: log.LogAppender,
    rng: random.Random,
    count: int,
    on_batch: Callable[[int, float], None] | None = None,
) -> float:
    """Append `count` leaves in batches; seconds spent appending and committing (generating the
    synthetic leaves is not timed). `on_batch(size, seconds)` is told after each commit."""
    spent = 0.0
    while appender.size < count:
        entries = synthetic_entries(rng, min(BATCH, count - appender.size))
        start = time.perf_counter()
        append_batch(appender, entries, START_MS + appender.size)
        spent += time.perf_counter() - start
        if on_batch is not None:
            on_batch(appender.size, spent)
    return spent


def stored_batches(conn: sqlite3.Connection) -> list[tuple[list[EntryRow], list[NodeRow]]]:
    """The rows of a log, grouped by the group commit that wrote them, in insertion order.

    A subtree hash is written with its last leaf, so node (level, idx) belongs to the batch of
    leaf ((idx + 1) << level) - 1, after that leaf's own row and the levels below it.
    """
    entries = conn.execute(
        "SELECT idx, event_id, leaf, logged_at FROM log_entries ORDER BY idx"
    ).fetchall()
    nodes = conn.execute("SELECT level, idx, hash FROM log_nodes").fetchall()
    nodes.sort(key=lambda n: ((((n[1] + 1) << n[0]) - 1), n[0]))
    batches: list[tuple[list[EntryRow], list[NodeRow]]] = [
        (entries[i : i + BATCH], []) for i in range(0, len(entries), BATCH)
    ]
    for node in nodes:
        batches[(((node[1] + 1) << node[0]) - 1) // BATCH][1].append(node)
    return batches


def timed_plain_inserts(
    conn: sqlite3.Connection, batches: Sequence[tuple[list[EntryRow], list[NodeRow]]]
) -> float:
    """Seconds to write precomputed rows with executemany, one transaction per batch."""
    start = time.perf_counter()
    for entries, nodes in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO log_entries (idx, event_id, leaf, logged_at) VALUES (?,?,?,?)", entries
        )
        conn.executemany("INSERT INTO log_nodes (level, idx, hash) VALUES (?,?,?)", nodes)
        conn.execute("COMMIT")
    return time.perf_counter() - start


def remove_database(path: Path) -> None:
    """Delete a SQLite file and its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def throughput_round(workdir: Path, rng: random.Random, count: int) -> tuple[float, float]:
    """(append leaves/s, plain-insert leaves/s) of the same rows into two fresh files."""
    appended, plain = workdir / "append.sqlite3", workdir / "plain.sqlite3"
    conn = open_log(appended)
    try:
        append_rate = count / timed_appends(log.LogAppender(conn), rng, count)
        batches = stored_batches(conn)
    finally:
        conn.close()
        remove_database(appended)
    conn = open_log(plain)
    try:
        plain_rate = count / timed_plain_inserts(conn, batches)
    finally:
        conn.close()
        remove_database(plain)
    return append_rate, plain_rate


def measure_throughput(workdir: Path, rng: random.Random, count: int) -> Throughput:
    """Alternating rounds of appends and plain inserts; medians and their ratio."""
    appends, plains = [], []
    for _ in range(ROUNDS):
        append_rate, plain_rate = throughput_round(workdir, rng, count)
        appends.append(append_rate)
        plains.append(plain_rate)
    append_med, plain_med = statistics.median(appends), statistics.median(plains)
    return Throughput(count, ROUNDS, append_med, plain_med, append_med / plain_med, appends, plains)


# --- the big log ---------------------------------------------------------------------------


class Progress:
    """Prints the build's progress about every 10%, with the rate since the last line."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.step = max(BATCH, -(-total // 10 // BATCH) * BATCH)
        self.started = time.perf_counter()
        self.last = (0, 0.0)
        self.last_rate = 0.0

    def __call__(self, size: int, spent: float) -> None:
        if size % self.step and size != self.total:
            return
        done, before = self.last
        self.last_rate = (size - done) / max(spent - before, 1e-9)
        self.last = (size, spent)
        wall = time.perf_counter() - self.started
        print(
            f"  {size:>12,} leaves  {100 * size / self.total:5.1f}%  "
            f"{self.last_rate:>9,.0f} leaves/s now  {size / spent:>9,.0f} overall  "
            f"{wall:7.1f} s",
            flush=True,
        )


def build_log(path: Path, rng: random.Random, leaves: int) -> Build:
    """Append `leaves` leaves through the store's path into a fresh file."""
    progress = Progress(leaves)
    conn = open_log(path)
    try:
        start = time.perf_counter()
        spent = timed_appends(log.LogAppender(conn), rng, leaves, progress)
        wall = time.perf_counter() - start
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    size = path.stat().st_size
    return Build(leaves, wall, spent, leaves / spent, progress.last_rate, size)


# --- proofs --------------------------------------------------------------------------------


def summarize(seconds: Sequence[float]) -> Latency:
    """p50, p99 (nearest rank) and mean of timings given in seconds."""
    ordered = sorted(seconds)
    rank = max(0, -(-99 * len(ordered) // 100) - 1)
    return Latency(
        len(ordered),
        1000 * statistics.median(ordered),
        1000 * ordered[rank],
        1000 * statistics.fmean(ordered),
    )


def timed(fn: Callable[..., T], *args: Any) -> tuple[float, T]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def budgeted(items: Sequence[T], budget: float) -> Iterator[T]:
    """`items`, cut short once the time budget has passed (after at least MIN_SAMPLES), so that
    a slow proof path yields a smaller sample instead of an endless run."""
    start = time.perf_counter()
    for n, item in enumerate(items):
        if n >= MIN_SAMPLES and time.perf_counter() - start > budget:
            print(f"  time budget of {budget:g} s spent after {n:,} of {len(items):,}", flush=True)
            return
        yield item


def leaf_hash_at(conn: sqlite3.Connection, index: int) -> bytes:
    """The leaf hash of stored leaf `index`."""
    (leaf,) = conn.execute("SELECT leaf FROM log_entries WHERE idx = ?", (index,)).fetchone()
    return merkle.leaf_hash(bytes(leaf))


def inclusion_latency(
    conn: sqlite3.Connection, rng: random.Random, size: int, budget: float
) -> tuple[Latency, int, int]:
    """Time inclusion proofs of random leaves at `size`, then verify them against the root.
    Returns (latency, proofs verified, proofs checked)."""
    indexes = [rng.randrange(size) for _ in range(PROOFS)]
    runs = [(i, *timed(log.inclusion_proof, conn, i, size)) for i in budgeted(indexes, budget)]
    root = log.root(conn, size)
    checks = [
        merkle.verify_inclusion(leaf_hash_at(conn, i), i, size, proof, root)
        for i, _, proof in budgeted(runs, budget)
    ]
    return summarize([t for _, t, _ in runs]), sum(checks), len(checks)


def size_pairs(rng: random.Random, size: int, count: int) -> list[tuple[int, int]]:
    """Random (first, second) with 1 <= first <= second <= size."""
    pairs = []
    for _ in range(count):
        second = rng.randint(1, size)
        pairs.append((rng.randint(1, second), second))
    return pairs


def consistency_latency(
    conn: sqlite3.Connection, rng: random.Random, size: int, budget: float
) -> tuple[Latency, int, int]:
    """Time consistency proofs between random sizes, then verify them against both roots."""
    pairs = size_pairs(rng, size, PROOFS)
    runs = [(p, *timed(log.consistency_proof, conn, *p)) for p in budgeted(pairs, budget)]
    checks = [
        merkle.verify_consistency(a, b, log.root(conn, a), log.root(conn, b), proof)
        for (a, b), _, proof in budgeted(runs, budget)
    ]
    return summarize([t for _, t, _ in runs]), sum(checks), len(checks)


def measure_proofs(path: Path, rng: random.Random, size: int, budget: float) -> Proofs:
    """Proof latencies at the full size on a new connection, like a reader of the store."""
    conn = connect(path)
    try:
        inclusion, inclusion_ok, inclusion_checked = inclusion_latency(conn, rng, size, budget)
        consistency, consistency_ok, consistency_checked = consistency_latency(
            conn, rng, size, budget
        )
    finally:
        conn.close()
    return Proofs(
        size,
        inclusion,
        consistency,
        inclusion_ok,
        inclusion_checked,
        consistency_ok,
        consistency_checked,
    )


def compare(
    plan_fn: Callable[[int, int], list[bytes]],
    reference_fn: Callable[[int, int], list[bytes]],
    pairs: Sequence[tuple[int, int]],
    budget: float,
) -> tuple[int, float, float]:
    """(count, mean seconds of the plan, of the reference) over the same arguments; both must
    give the same proofs."""
    plan_total = reference_total = 0.0
    count = 0
    for a, b in budgeted(pairs, budget):
        plan_time, planned = timed(plan_fn, a, b)
        reference_time, expected = timed(reference_fn, a, b)
        if planned != expected:
            raise AssertionError(f"plan and reference proofs differ at {(a, b)}")
        plan_total += plan_time
        reference_total += reference_time
        count += 1
    return count, plan_total / count, reference_total / count


def measure_speedup(path: Path, rng: random.Random, size: int, budget: float) -> Speedup:
    """Plan-based proofs from the store (the whole log, asked about a prefix) against
    `koinon.ledger.reference` over the prefix's leaf hashes held in memory (which favours the
    reference: it reads nothing)."""
    prefix = min(REFERENCE_PREFIX, size)
    conn = connect(path)
    try:
        rows = conn.execute("SELECT leaf FROM log_entries WHERE idx < ? ORDER BY idx", (prefix,))
        hashes = [merkle.leaf_hash(bytes(leaf)) for (leaf,) in rows]
        indexes = [(rng.randrange(prefix), prefix) for _ in range(REFERENCE_PROOFS)]
        inc_count, inc_plan, inc_ref = compare(
            lambda i, n: log.inclusion_proof(conn, i, n),
            lambda i, n: reference.inclusion_proof(hashes[:n], i),
            indexes,
            budget,
        )
        pairs = size_pairs(rng, prefix, REFERENCE_PROOFS)
        con_count, con_plan, con_ref = compare(
            lambda a, b: log.consistency_proof(conn, a, b),
            lambda a, b: reference.consistency_proof(hashes[:b], a),
            pairs,
            budget,
        )
    finally:
        conn.close()
    return Speedup(
        prefix,
        inc_count,
        1000 * inc_plan,
        1000 * inc_ref,
        inc_ref / inc_plan,
        con_count,
        1000 * con_plan,
        1000 * con_ref,
        con_ref / con_plan,
    )


# --- gas -----------------------------------------------------------------------------------


def head_root(conn: sqlite3.Connection, size: int, log_size: int) -> bytes:
    """The log's real root at `size`, or a stand-in digest beyond the log (the contract only
    checks that sizes grow)."""
    if size <= log_size:
        return log.root(conn, size)
    return hashlib.sha256(size.to_bytes(8, "big")).digest()


def anchor_batches(name: str, client: chain.AnchorClient, roots: Callable[[int], bytes]) -> Gas:
    """The operator's first anchor at size 1, then ANCHORS_PER_BATCH anchors per batch size."""
    first = client.anchor(roots(1), 1)
    size, batches = 1, []
    for events in GAS_BATCHES:
        gas, seconds = [], []
        for _ in range(ANCHORS_PER_BATCH):
            size += events
            start = time.perf_counter()
            gas.append(client.anchor(roots(size), size).gas_used)
            seconds.append(time.perf_counter() - start)
        mean = statistics.fmean(gas)
        batches.append(GasBatch(events, len(gas), mean, mean / events, statistics.fmean(seconds)))
    return Gas(name, first.gas_used, batches)


def operator_key(seed: int) -> bytes:
    """A fixed, valid secp256k1 secret key for the benchmark operator."""
    return hashlib.sha256(f"koinon ledger benchmark {seed}".encode()).digest()


def chains(use_anvil: bool) -> Iterator[tuple[str, AbstractContextManager[str | None]]]:
    """(name, context yielding the RPC URL, None for the embedded chain) of each chain."""
    yield "embedded", nullcontext(None)
    if not use_anvil:
        return
    if find_anvil() is None:
        print("anvil not installed (npm ci --prefix tools/anvil): skipped", flush=True)
        return
    yield "anvil", run_anvil()


def measure_gas(workdir: Path, path: Path, log_size: int, opts: Options) -> list[Gas]:
    """Gas figures on every available chain, each with its own data folder."""
    results = []
    conn = connect(path)
    try:
        for name, context in chains(opts.anvil):
            with context as url:
                data_dir = workdir / f"chain-{name}"
                data_dir.mkdir()
                with chain.connect(data_dir, url, operator_key(opts.seed)) as client:
                    roots = functools.partial(head_root, conn, log_size=log_size)
                    results.append(anchor_batches(name, client, roots))
    finally:
        conn.close()
    return results


# --- report --------------------------------------------------------------------------------


Row = tuple[str, str, str, str]  # figure, measured, target, status


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def throughput_rows(through: Throughput, build: Build) -> list[Row]:
    return [
        ("append, LogAppender (leaves/s)", f"{through.append_leaves_per_s:,.0f}", "-", ""),
        ("plain INSERT of same rows (leaves/s)", f"{through.plain_leaves_per_s:,.0f}", "-", ""),
        ("append / plain-insert ratio", f"{through.ratio:.2f}", "-", ""),
        (f"build of {build.leaves:,} leaves (leaves/s)", f"{build.leaves_per_s:,.0f}", "-", ""),
    ]


def latency_row(name: str, size: int, lat: Latency) -> Row:
    values = {"p50": lat.p50_ms, "p99": lat.p99_ms, "mean": lat.mean_ms}
    missed = [k for k, v in values.items() if v >= PROOF_TARGET_MS]
    return (
        f"{name} p50/p99/mean @ {size:,}, n={lat.count:,} (ms)",
        " / ".join(f"{v:.3f}" for v in values.values()),
        f"< {PROOF_TARGET_MS:g} each",
        f"MISSED ({', '.join(missed)})" if missed else "met",
    )


def proof_rows(proofs: Proofs, speed: Speedup) -> list[Row]:
    checked = proofs.inclusion_checked + proofs.consistency_checked
    verified = proofs.inclusion_verified + proofs.consistency_verified
    return [
        latency_row("inclusion", proofs.size, proofs.inclusion),
        latency_row("consistency", proofs.size, proofs.consistency),
        (
            "proofs verified against root()",
            f"{verified:,}/{checked:,}",
            "all",
            verdict(verified == checked),
        ),
        (
            f"inclusion plan vs reference @ {speed.prefix:,}, n={speed.inclusion_proofs}",
            f"{speed.inclusion_speedup:.3g}x faster",
            "-",
            "",
        ),
        (
            f"consistency plan vs reference @ {speed.prefix:,}, n={speed.consistency_proofs}",
            f"{speed.consistency_speedup:.3g}x faster",
            "-",
            "",
        ),
    ]


def gas_rows(gas: Gas) -> list[Row]:
    rows: list[Row] = [(f"{gas.chain}: first anchor (gas)", f"{gas.first_anchor_gas:,}", "-", "")]
    for b in gas.batches:
        target = b.events == GAS_BATCHES[-1]
        rows.append(
            (
                f"{gas.chain}: gas/event, {b.events:,} events/anchor",
                f"{b.gas_per_event:,.2f} ({b.gas_per_anchor:,.0f}/anchor)",
                f"< {GAS_TARGET:g}" if target else "-",
                verdict(b.gas_per_event < GAS_TARGET) if target else "",
            )
        )
    return rows


def summary_rows(
    through: Throughput, build: Build, proofs: Proofs, speed: Speedup, gas: Sequence[Gas]
) -> list[Row]:
    """The final table."""
    rows = throughput_rows(through, build) + proof_rows(proofs, speed)
    for g in gas:
        rows += gas_rows(g)
    return rows


def render(rows: Sequence[Row]) -> str:
    """A plain-text table."""
    widths = [max(len(r[i]) for r in (COLUMNS, *rows)) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def machine(load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    """What the figures were measured on (the load averages too: the machines are shared)."""
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": load_at_start,
        "loadavg_end": os.getloadavg(),
    }


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaves", type=int, help=f"log size for proofs (default {FULL_LEAVES:,})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_LEAVES:,} leaves, {QUICK_BUDGET_S:g} s budgets",
    )
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds per proof timing or checking loop (default {FULL_BUDGET_S:g})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic leaves")
    parser.add_argument("--no-anvil", action="store_true", help="embedded chain only")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args(argv)
    leaves = args.leaves or (QUICK_LEAVES if args.quick else FULL_LEAVES)
    if leaves < 2:
        parser.error("--leaves must be at least 2")
    budget = args.budget or (QUICK_BUDGET_S if args.quick else FULL_BUDGET_S)
    return Options(leaves, budget, args.keep, args.seed, not args.no_anvil, args.json)


def print_details(through: Throughput, build: Build, proofs: Proofs, speed: Speedup) -> None:
    print(
        f"append rounds (leaves/s): {[round(r) for r in through.append_rounds]}, "
        f"plain rounds: {[round(r) for r in through.plain_rounds]}"
    )
    print(
        f"build: {build.leaves:,} leaves in {build.seconds:.1f} s "
        f"({build.append_seconds:.1f} s appending), last 10% at "
        f"{build.last_decile_leaves_per_s:,.0f} leaves/s, file {build.db_bytes / 2**30:.2f} GiB"
    )
    print(
        f"verified: {proofs.inclusion_verified}/{proofs.inclusion_checked} inclusion, "
        f"{proofs.consistency_verified}/{proofs.consistency_checked} consistency proofs"
    )
    print(
        f"@ {speed.prefix:,} leaves: inclusion {speed.inclusion_plan_ms:.3f} ms plan vs "
        f"{speed.inclusion_reference_ms:.3f} ms reference; consistency "
        f"{speed.consistency_plan_ms:.3f} vs {speed.consistency_reference_ms:.3f} ms"
    )


class Phases:
    """Wall time of each phase, printed as it ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, what: str) -> Iterator[None]:
        print(what, flush=True)
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start
        print(f"  ({name}: {self.seconds[name]:.1f} s)", flush=True)


def run(opts: Options, workdir: Path) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    phase = Phases()
    load = os.getloadavg()
    count = min(THROUGHPUT_LEAVES, opts.leaves)
    path = workdir / "log.sqlite3"
    with phase("throughput", f"append vs plain insert: {ROUNDS} rounds of {count:,} leaves"):
        through = measure_throughput(workdir, rng, count)
    with phase("build", f"building a log of {opts.leaves:,} leaves in {path}"):
        build = build_log(path, rng, opts.leaves)
    with phase("proofs", f"timing up to {PROOFS:,} inclusion and consistency proofs each"):
        proofs = measure_proofs(path, rng, opts.leaves, opts.budget)
    with phase("reference", f"plan vs reference on the first {REFERENCE_PREFIX:,} leaves"):
        speed = measure_speedup(path, rng, opts.leaves, opts.budget)
    with phase("gas", "anchoring tree heads"):
        gas = measure_gas(workdir, path, opts.leaves, opts)
    print()
    print_details(through, build, proofs, speed)
    rows = summary_rows(through, build, proofs, speed, gas)
    print()
    print(render(rows))
    return {
        "options": {
            "leaves": opts.leaves,
            "seed": opts.seed,
            "batch": BATCH,
            "budget_s": opts.budget,
        },
        "machine": machine(load),
        "phase_seconds": phase.seconds,
        "throughput": asdict(through),
        "build": asdict(build),
        "proofs": asdict(proofs),
        "reference": asdict(speed),
        "gas": [asdict(g) for g in gas],
        "table": [dict(zip(COLUMNS, r, strict=True)) for r in rows],
        "all_targets_met": not any(r[3].startswith("MISSED") for r in rows),
    }


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="koinon-ledger-bench-"))
    try:
        report = run(opts, workdir)
    finally:
        if opts.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    opts.json_path.parent.mkdir(parents=True, exist_ok=True)
    opts.json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {opts.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
