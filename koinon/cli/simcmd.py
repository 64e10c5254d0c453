"""`koinon sim`: settle one generated event log by Koinon, Hive-current and Steem-HF21, with
attackers that pick their best strategy against each, and report the figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from koinon.errors import KoinonError

QUICK_ACCOUNTS = 300


class SimError(KoinonError):
    """Bad options for the simulation."""


def register(commands: Any) -> None:
    """Add the `sim` command."""
    sim = commands.add_parser(
        "sim",
        help="compare Koinon's rewards with Hive's and Steem's under attack",
        description="Generate one event log per seed (honest people in two opinion camps, "
        "self-voters, vote rings, sybil farms, vote buyers), settle it with Koinon, Hive-current "
        "and Steem-HF21, let the attackers pick their best strategy against each scheme, and "
        "print attackers' share of rewards against their true contribution, Kendall tau of "
        "payout against hidden quality, and the minority camp's share, with 95%% confidence "
        "intervals over the seeds.",
    )
    sim.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    sim.add_argument(
        "--accounts",
        type=int,
        help=f"real accounts per world (default 1000, or {QUICK_ACCOUNTS} with --quick)",
    )
    sim.add_argument("--out", help="folder for the PNG plots and results.json")
    sim.add_argument("--json", action="store_true", help="print the figures as JSON")
    sim.add_argument(
        "--quick", action="store_true", help=f"smaller worlds ({QUICK_ACCOUNTS} accounts)"
    )
    sim.set_defaults(run=simulate)


def simulate(args: argparse.Namespace) -> int:
    """Run the experiment with a progress bar on stderr; print a table or JSON."""
    # numpy, scipy and matplotlib load here, not when any other command starts
    from koinon.sim.report import as_json, plot, table
    from koinon.sim.runner import SimConfig
    from koinon.sim.world import WorldConfig

    accounts = args.accounts or (QUICK_ACCOUNTS if args.quick else 1000)
    if args.seeds < 2:
        raise SimError("--seeds must be at least 2 (confidence intervals need two)")
    if accounts < 50:
        raise SimError("--accounts must be at least 50")
    config = SimConfig(seeds=args.seeds, world=WorldConfig(accounts=accounts))
    outcome = _run_with_progress(config)
    result = as_json(outcome)
    if args.out:
        folder = Path(args.out)
        try:
            written = plot(outcome, folder)
            (folder / "results.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            raise SimError(f"cannot write to {folder}: {exc.strerror}") from None
        if not args.json:
            print("wrote " + ", ".join(str(p) for p in [*written, folder / "results.json"]))
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(table(outcome))
    return 0


def _run_with_progress(config: Any) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from koinon.sim.runner import run, units

    console = Console(stderr=True)
    with Progress(
        TextColumn("settling logs"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("sim", total=units(config))
        return run(config, lambda: progress.advance(task))
