"""The simulation's results as JSON, a text table, the target checks, and PNG plots."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from koinon.sim.runner import SCHEMES, Outcome, scenarios

TARGET_MARGIN = 0.02  # attackers may get at most their contribution share plus 2 points
TARGET_TAU = 0.6
FLAT_WITHIN = 0.01  # capture counts as flat when it moves less than a point across farm sizes


def targets(outcome: Outcome) -> dict[str, Any]:
    """The issue's targets, checked on Koinon's figures (means over seeds)."""
    koinon = outcome.best["koinon"]
    attacked = [s for s in scenarios(outcome.config) if s != "honest"]
    share_ok = {
        s: koinon[s].figures["attacker_reward_share"].mean
        <= koinon[s].figures["attacker_contribution_share"].mean + TARGET_MARGIN
        for s in attacked
    }
    tau_ok = {s: koinon[s].figures["kendall_tau"].mean >= TARGET_TAU for s in attacked}
    capture = [
        koinon[f"adaptive_fakes_{f}"].figures["attacker_reward_share"].mean
        for f in outcome.config.fakes
    ]
    spread = max(capture) - min(capture) if capture else 0.0
    return {
        "attacker_share_within_contribution_plus_2pp": share_ok,
        "kendall_tau_at_least_0_6": tau_ok,
        "capture_spread_across_fake_counts": spread,
        "capture_flat": spread <= FLAT_WITHIN,
        "all_met": all(share_ok.values()) and all(tau_ok.values()) and spread <= FLAT_WITHIN,
    }


def as_json(outcome: Outcome) -> dict[str, Any]:
    """The figures with confidence intervals, per scheme and scenario."""
    config = asdict(outcome.config)
    schemes: dict[str, Any] = {}
    for scheme in SCHEMES:
        schemes[scheme] = {}
        for scenario in scenarios(outcome.config):
            cell = outcome.best[scheme][scenario]
            entry: dict[str, Any] = {"strategy": cell.strategy}
            entry.update({name: est.as_dict() for name, est in cell.figures.items()})
            schemes[scheme][scenario] = entry
    strategies = {
        scheme: {
            scenario: {name: est.as_dict() for name, est in sorted(by_name.items())}
            for scenario, by_name in by_scenario.items()
        }
        for scheme, by_scenario in outcome.strategies.items()
    }
    return {
        "config": config,
        "schemes": schemes,
        "attacker_reward_share_by_strategy": strategies,
        "targets": targets(outcome),
    }


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}"


def table(outcome: Outcome) -> str:
    """A fixed-width table: one row per scenario and scheme, means with 95% intervals (%)."""
    head = (
        f"{'scenario':22} {'scheme':7} {'best strategy':17} {'attackers %':>21} "
        f"{'contrib %':>9} {'Kendall tau':>19} {'minority %':>9} {'contrib %':>9} {'honest %':>8}"
    )
    lines = [head, "-" * len(head)]
    for scenario in scenarios(outcome.config):
        for scheme in SCHEMES:
            cell = outcome.best[scheme][scenario]
            f = cell.figures
            share, tau = f["attacker_reward_share"], f["kendall_tau"]
            lines.append(
                f"{scenario:22} {scheme:7} {cell.strategy:17} "
                f"{_pct(share.mean)} [{_pct(share.low)},{_pct(share.high)}] "
                f"{_pct(f['attacker_contribution_share'].mean):>9} "
                f"{tau.mean:5.3f} [{tau.low:5.3f},{tau.high:5.3f}] "
                f"{_pct(f['minority_camp_share'].mean):>9} "
                f"{_pct(f['minority_contribution_share'].mean):>9} "
                f"{_pct(f['honest_share'].mean):>8}"
            )
    checks = targets(outcome)
    lines.append("")
    lines.append(
        "targets (Koinon): attackers <= contribution + 2 pp: "
        + ", ".join(
            f"{k} {'ok' if v else 'MISSED'}"
            for k, v in checks["attacker_share_within_contribution_plus_2pp"].items()
        )
    )
    lines.append(
        "                  tau >= 0.6: "
        + ", ".join(
            f"{k} {'ok' if v else 'MISSED'}" for k, v in checks["kendall_tau_at_least_0_6"].items()
        )
    )
    lines.append(
        f"                  capture across fake counts moves "
        f"{100 * checks['capture_spread_across_fake_counts']:.2f} pp: "
        f"{'flat' if checks['capture_flat'] else 'NOT flat'}"
    )
    return "\n".join(lines)


def plot(outcome: Outcome, folder: Path) -> list[Path]:
    """Write the PNG plots into `folder`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    names = scenarios(outcome.config)
    fakes = list(outcome.config.fakes)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for scheme in SCHEMES:
        cells = [outcome.best[scheme][f"adaptive_fakes_{f}"] for f in fakes]
        means = [100 * c.figures["attacker_reward_share"].mean for c in cells]
        errors = [
            100
            * (c.figures["attacker_reward_share"].high - c.figures["attacker_reward_share"].mean)
            for c in cells
        ]
        ax.errorbar(fakes, means, yerr=errors, marker="o", capsize=4, label=scheme)
    contribution = [
        100
        * outcome.best["koinon"][f"adaptive_fakes_{f}"].figures["attacker_contribution_share"].mean
        for f in fakes
    ]
    ax.plot(fakes, contribution, "k--", label="attackers' true contribution")
    ax.set_xscale("log")
    ax.set_xlabel("fake accounts available to the attackers")
    ax.set_ylabel("attackers' share of rewards (%)")
    ax.set_title("Capture as the sybil farm grows (attackers' best strategy per scheme)")
    ax.legend()
    fig.tight_layout()
    written.append(folder / "capture.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    for figure, label, filename in (
        ("attacker_reward_share", "attackers' share of rewards (%)", "attacker_share.png"),
        ("kendall_tau", "Kendall tau, payout vs hidden quality", "kendall_tau.png"),
        ("minority_camp_share", "minority camp's share of rewards (%)", "minority_share.png"),
    ):
        fig, ax = plt.subplots(figsize=(9, 4.5))
        width = 0.8 / len(SCHEMES)
        scale = 1.0 if figure == "kendall_tau" else 100.0
        for k, scheme in enumerate(SCHEMES):
            cells = [outcome.best[scheme][s] for s in names]
            means = [scale * c.figures[figure].mean for c in cells]
            errors = [scale * (c.figures[figure].high - c.figures[figure].mean) for c in cells]
            positions = [i + (k - 1) * width for i in range(len(names))]
            ax.bar(positions, means, width, yerr=errors, capsize=3, label=scheme)
        if figure != "kendall_tau":
            reference = (
                "attacker_contribution_share"
                if figure == "attacker_reward_share"
                else "minority_contribution_share"
            )
            ax.plot(
                range(len(names)),
                [scale * outcome.best["koinon"][s].figures[reference].mean for s in names],
                "k_",
                markersize=30,
                label="true contribution",
            )
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=15)
        ax.set_ylabel(label)
        ax.legend()
        fig.tight_layout()
        written.append(folder / filename)
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)
    return written
