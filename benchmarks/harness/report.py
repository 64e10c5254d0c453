"""Turn phase results into JSON-ready summaries, Koinon-versus-peer ratios and a text table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from harness.targets import ALL_TARGETS, KOINON_NAME
from harness.workers import PhaseResult
from harness.wsclients import ReqTiming

Summary = dict[str, Any]
PEERS = tuple(name for name in ALL_TARGETS if name != KOINON_NAME)


def phase_summary(result: PhaseResult) -> Summary:
    """Counts, duration and rate of one publishing phase."""
    return {
        "sent": result.sent,
        "acked": result.acked,
        "ok_false": result.ok_false,
        "ok_false_samples": result.false_samples,
        "other_messages": result.other_messages,
        "connections_dropped_by_relay": result.drops,
        "drop_samples": result.drop_samples,
        "seconds": round(result.seconds, 3),
        "events_per_s": round(result.events_per_second, 1),
        "stopped_early": result.stopped_early,
        "errors": result.errors[:5],
        "cpu": result.cpu.summary(result.acked) if result.cpu else None,
    }


def latency_summary(timings: Sequence[ReqTiming]) -> Summary:
    """p50/p99 of REQ-to-EOSE time in ms, overall and per filter shape."""
    summary: Summary = _percentiles([t.seconds for t in timings])
    summary["under_load"] = sum(t.under_load for t in timings)
    summary["mean_events"] = (
        round(sum(t.events for t in timings) / len(timings), 1) if timings else 0
    )
    summary["by_filter"] = {
        shape: _percentiles([t.seconds for t in timings if t.shape == shape])
        for shape in sorted({t.shape for t in timings})
    }
    return summary


def ratios(results: dict[str, Summary]) -> Summary:
    """Koinon's ingest rate over each peer's (>1: Koinon faster) and REQ latency (<1: faster)."""
    koinon = results.get(KOINON_NAME, {})
    out: Summary = {}
    for peer in PEERS:
        if peer not in results:
            continue
        other = results[peer]
        out[f"koinon/{peer}"] = {
            "events_per_s": _ratio(
                _get(koinon, "ingest", "events_per_s"), _get(other, "ingest", "events_per_s")
            ),
            "req_p50": _ratio(_get(koinon, "req", "p50_ms"), _get(other, "req", "p50_ms")),
            "req_p99": _ratio(_get(koinon, "req", "p99_ms"), _get(other, "req", "p99_ms")),
        }
    return out


def render_table(results: dict[str, Summary], relative: Summary) -> str:
    """The human-readable table printed at the end of a run."""
    header = (
        "target",
        "events/s",
        "Koinon/this",
        "OK false",
        "store",
        "preload s",
        "REQ p50 ms",
        "REQ p99 ms",
        "REQs under load",
        "relay µs/ev",
        "relay cores",
        "loadgen µs/ev",
        "other cores",
    )
    rows = [header] + [_row(name, summary, relative) for name, summary in results.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _row(name: str, summary: Summary, relative: Summary) -> tuple[str, ...]:
    if summary.get("status") != "ok":
        return (name, summary.get("status", "?"), *[""] * 11)
    ratio = relative.get(f"koinon/{name}", {}).get("events_per_s")
    preload = summary["preload"]
    store = f"{preload['stored']:,}" + (" (capped)" if preload["capped"] else "")
    return (
        name,
        f"{summary['ingest']['events_per_s']:,.0f}",
        "-" if name == KOINON_NAME else _fmt(ratio, "x"),
        str(summary["ingest"]["ok_false"]),
        store,
        f"{preload['seconds']:.1f}",
        _fmt(summary["req"]["p50_ms"]),
        _fmt(summary["req"]["p99_ms"]),
        f"{summary['req']['under_load']}/{summary['req']['count']}",
        *_cpu_cells(summary["ingest"].get("cpu")),
    )


def _cpu_cells(cpu: Summary | None) -> tuple[str, ...]:
    """The ingest window's CPU columns: relay and load-generator µs per event, cores used."""
    if not cpu:
        return ("n/a",) * 4
    return (
        _fmt(cpu["relay_us_per_event"], digits=0),
        _fmt(cpu["relay_cores"]),
        _fmt(cpu["loadgen_us_per_event"], digits=0),
        _fmt(cpu["other_cores"]),
    )


def _percentiles(seconds: Sequence[float]) -> Summary:
    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "p50_ms": _nearest_rank(ordered, 0.50),
        "p99_ms": _nearest_rank(ordered, 0.99),
    }


def _nearest_rank(ordered: Sequence[float], quantile: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(quantile * len(ordered)))
    return round(ordered[rank - 1] * 1000, 2)


def _get(summary: Summary, section: str, key: str) -> float | None:
    value = summary.get(section, {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _fmt(value: float | None, suffix: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{suffix}"
