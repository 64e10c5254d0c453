"""CPU time spent in a timed phase: by the relay's process tree, the load generator, the machine.

The relay's figure is user + system time from `/proc/<pid>/stat` of every process descended from
the relay's root process (Koinon's signature-checking child, gunicorn's worker), including the time
of children they have already reaped. It is also split by where it was spent: the root process's
main thread (Koinon's and nostr-relay's event loop), its other threads (Koinon's store writer and
readers; LocalRelay's tokio workers) and each child process, from `/proc/<pid>/task/<tid>/stat`.
The kernel reports these in clock ticks (usually 10 ms per thread), so a window shorter than a
second carries a few per cent of rounding. The load
generator's workers measure themselves with `time.process_time()`. The machine's busy time, from
`/proc/stat`, shows how much of the 2 cores other work took during the same window.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")
# /proc/<pid>/stat fields after "(comm)", counted from 0 at the state field (field 3 of proc(5)).
_PPID, _UTIME, _STIME, _CUTIME, _CSTIME = 1, 11, 12, 13, 14
# /proc/stat "cpu" columns that are not idle time: user nice system (idle iowait) irq softirq steal.
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds of the relay's process tree and of the machine, at one instant."""

    wall: float
    relay: float
    machine: float
    parts: dict[str, float]  # the relay's seconds by where they were spent (see `tree_parts`)


@dataclass(frozen=True)
class CpuUsage:
    """CPU seconds consumed during one phase, and the wall time it spanned."""

    wall_seconds: float
    relay_seconds: float
    loadgen_seconds: float
    machine_seconds: float
    relay_parts: dict[str, float]

    def summary(self, events: int) -> dict[str, Any]:
        """Per-event CPU (µs) and cores used (CPU seconds / wall seconds), JSON-ready."""
        other = max(0.0, self.machine_seconds - self.relay_seconds - self.loadgen_seconds)
        return {
            "events": events,
            "wall_s": round(self.wall_seconds, 3),
            "relay_cpu_s": round(self.relay_seconds, 3),
            "loadgen_cpu_s": round(self.loadgen_seconds, 3),
            "machine_cpu_s": round(self.machine_seconds, 3),
            "relay_us_per_event": _per_event(self.relay_seconds, events),
            "loadgen_us_per_event": _per_event(self.loadgen_seconds, events),
            "relay_cores": _cores(self.relay_seconds, self.wall_seconds),
            "loadgen_cores": _cores(self.loadgen_seconds, self.wall_seconds),
            "other_cores": _cores(other, self.wall_seconds),
            "machine_cores": _cores(self.machine_seconds, self.wall_seconds),
            "relay_us_per_event_by_part": {
                part: _per_event(seconds, events) for part, seconds in self.relay_parts.items()
            },
        }


def snapshot(root_pid: int) -> CpuSnapshot:
    """Read the relay tree's and the machine's CPU counters now."""
    tree = process_tree(root_pid)
    return CpuSnapshot(
        time.monotonic(), tree_cpu_seconds(tree), machine_busy_seconds(), tree_parts(root_pid, tree)
    )


def usage(before: CpuSnapshot, after: CpuSnapshot, loadgen_seconds: float) -> CpuUsage:
    """What was spent between two snapshots, with the load generator's own measurement."""
    parts = {
        part: after.parts[part] - before.parts.get(part, 0.0)
        for part in after.parts
        if after.parts[part] - before.parts.get(part, 0.0) > 0
    }
    return CpuUsage(
        wall_seconds=after.wall - before.wall,
        relay_seconds=after.relay - before.relay,
        loadgen_seconds=loadgen_seconds,
        machine_seconds=after.machine - before.machine,
        relay_parts=parts,
    )


def process_tree(root_pid: int) -> dict[int, list[str]]:
    """The /proc/<pid>/stat fields of `root_pid` and every live descendant, by pid."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[_PPID]), []).append(pid)
    tree: dict[int, list[str]] = {}
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        if pid in stats:
            tree[pid] = stats[pid]
            pending.extend(children.get(pid, ()))
    return tree


def tree_cpu_seconds(tree: dict[int, list[str]]) -> float:
    """User + system seconds of every process in `tree`, with the children each has reaped."""
    ticks = sum(int(f[i]) for f in tree.values() for i in (_UTIME, _STIME, _CUTIME, _CSTIME))
    return ticks / _TICKS


def tree_parts(root_pid: int, tree: dict[int, list[str]]) -> dict[str, float]:
    """CPU seconds by place: the root's main thread, its other live threads, each child process
    (by module or command name), and what the tree's processes have reaped."""
    parts: dict[str, float] = {}
    for pid, fields in tree.items():
        if pid != root_pid:
            name = f"child {_command_name(pid)}"
            seconds = sum(int(fields[i]) for i in (_UTIME, _STIME)) / _TICKS
            parts[name] = parts.get(name, 0.0) + seconds
            continue
        for tid, thread in _thread_stats(pid).items():
            place = "main thread" if tid == pid else "other threads"
            seconds = (int(thread[_UTIME]) + int(thread[_STIME])) / _TICKS
            parts[place] = parts.get(place, 0.0) + seconds
    reaped = sum(int(f[i]) for f in tree.values() for i in (_CUTIME, _CSTIME)) / _TICKS
    parts["reaped children"] = reaped
    return parts


def machine_busy_seconds() -> float:
    """Non-idle CPU seconds of all cores since boot, from the first line of /proc/stat."""
    columns = (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(columns[i]) for i in _BUSY_COLUMNS) / _TICKS


def _all_stats() -> dict[int, list[str]]:
    return _stats_under(_PROC)


def _thread_stats(pid: int) -> dict[int, list[str]]:
    return _stats_under(_PROC / str(pid) / "task")


def _stats_under(folder: Path) -> dict[int, list[str]]:
    stats: dict[int, list[str]] = {}
    try:
        entries = list(folder.iterdir())
    except OSError:  # the process ended while we looked
        return stats
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces or parentheses; the fields start after its last ")".
        stats[int(entry.name)] = text.rsplit(")", 1)[1].split()
    return stats


def _command_name(pid: int) -> str:
    """A child's module (for `python -m module`) or else its command name."""
    try:
        words = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        comm = (_PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return "?"
    if b"-m" in words[:-1]:
        return words[words.index(b"-m") + 1].decode(errors="replace")
    return comm


def _per_event(seconds: float, events: int) -> float | None:
    return round(seconds / events * 1e6, 1) if events else None


def _cores(seconds: float, wall: float) -> float | None:
    return round(seconds / wall, 2) if wall > 0 else None
