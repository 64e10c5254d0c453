"""`koinon sim`: the JSON it prints, and the quick run's figures (Koinon beside Hive and Steem)."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from koinon.sim.report import as_json, targets
from koinon.sim.runner import SCHEMES, SimConfig, run, scenarios
from koinon.sim.world import WorldConfig
from tests.helpers import ROOT

pytestmark = pytest.mark.timeout(600)  # the quick run is ~65 s alone; CI runs two tests at once

FIGURES = (
    "attacker_reward_share",
    "attacker_contribution_share",
    "kendall_tau",
    "minority_camp_share",
)


def test_json_has_every_figure_with_its_interval(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "koinon.cli.main", "sim", "--json", "--seeds", "2",
         "--accounts", "80", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = orjson.loads(result.stdout)
    assert set(data["schemes"]) == {"koinon", "hive", "steem"}
    for scheme in data["schemes"].values():
        assert set(scheme) == {"honest", "mixed", "adaptive_fakes_10", "adaptive_fakes_100",
                               "adaptive_fakes_1000"}  # fmt: skip
        for cell in scheme.values():
            for name in FIGURES:
                est = cell[name]
                assert est["ci_low"] <= est["mean"] <= est["ci_high"]
    assert {p.name for p in tmp_path.iterdir()} >= {"capture.png", "results.json"}


def test_bad_options_fail_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "koinon.cli.main", "sim", "--seeds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "seeds" in result.stderr


@pytest.fixture(scope="module")
def quick() -> dict[str, object]:
    """The `--quick` run: ten seeds of 300 accounts."""
    outcome = run(SimConfig(seeds=10, world=WorldConfig(accounts=300)))
    return {
        "json": as_json(outcome),
        "targets": targets(outcome),
        "names": scenarios(outcome.config),
    }


def figure(quick: dict[str, object], scheme: str, scenario: str, name: str) -> float:
    data = quick["json"]
    assert isinstance(data, dict)
    return float(data["schemes"][scheme][scenario][name]["mean"])


def test_koinon_beats_hive_and_steem_under_adaptive_attack(quick: dict[str, object]) -> None:
    names = quick["names"]
    assert isinstance(names, list)
    for scenario in names[1:]:
        koinon = figure(quick, "koinon", scenario, "attacker_reward_share")
        for other in set(SCHEMES) - {"koinon"}:
            assert koinon < figure(quick, other, scenario, "attacker_reward_share")
            assert figure(quick, "koinon", scenario, "kendall_tau") > figure(
                quick, other, scenario, "kendall_tau"
            )


def test_koinon_pays_honest_behaviour_its_contribution(quick: dict[str, object]) -> None:
    share = figure(quick, "koinon", "honest", "attacker_reward_share")
    contribution = figure(quick, "koinon", "honest", "attacker_contribution_share")
    assert share <= contribution + 0.02


def test_issue_targets_hold_in_the_quick_run(quick: dict[str, object]) -> None:
    checks = quick["targets"]
    assert isinstance(checks, dict)
    assert checks["all_met"]
