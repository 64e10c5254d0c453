"""The committed contract artifacts match their Vyper sources, byte for byte."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from koinon.chain.artifacts import load_artifact

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_contracts.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_contracts", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_artifacts_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_compiling_twice_gives_identical_bytes(build: ModuleType) -> None:
    source = ROOT / "contracts" / "AnchorRegistry.vy"
    assert build.compile_contract(source) == build.compile_contract(source)


def test_check_names_stale_missing_and_orphan_artifacts(
    build: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    artifacts = tmp_path / "koinon" / "chain" / "artifacts"
    shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
    artifacts.mkdir(parents=True)
    (artifacts / "Gone.json").write_text("{}\n")
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "SOURCES", tmp_path / "contracts")
    monkeypatch.setattr(build, "ARTIFACTS", artifacts)

    assert build.main(["--check"]) == 1
    assert "AnchorRegistry.json is missing" in capsys.readouterr().err

    assert build.main([]) == 0
    (artifacts / "Gone.json").unlink()
    assert build.main(["--check"]) == 0

    source = tmp_path / "contracts" / "AnchorRegistry.vy"
    source.write_text(source.read_text() + "\n# an edit\n")
    assert build.main(["--check"]) == 1
    assert "AnchorRegistry.json is stale" in capsys.readouterr().err


def test_orphan_artifact_is_reported(
    build: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "SOURCES", tmp_path / "contracts")
    monkeypatch.setattr(build, "ARTIFACTS", tmp_path)
    (tmp_path / "Gone.json").write_text("{}\n")

    assert build.main(["--check"]) == 1
    assert "Gone.json has no source" in capsys.readouterr().err


def test_shipped_artifact_loads() -> None:
    artifact = load_artifact("AnchorRegistry")
    names = {entry.get("name") for entry in artifact.abi}
    assert {"anchor", "anchor_count", "get_anchor", "latest", "Anchored"} <= names
    assert artifact.vyper_version == "0.4.3"
    assert artifact.bytecode_runtime in artifact.bytecode


def test_an_edited_library_module_makes_its_importers_stale(
    build: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
    shutil.copytree(ROOT / "koinon" / "chain" / "artifacts", tmp_path / "artifacts")
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "SOURCES", tmp_path / "contracts")
    monkeypatch.setattr(build, "ARTIFACTS", tmp_path / "artifacts")
    assert build.main(["--check"]) == 0
    assert "5 artifact(s) fresh" in capsys.readouterr().out  # the module itself has none

    module = tmp_path / "contracts" / "lib" / "settlement_tree.vy"
    module.write_text(
        module.read_text().replace(
            "MAX_DEPTH: constant(uint256) = 64", "MAX_DEPTH: constant(uint256) = 63"
        )
    )
    assert build.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "RewardDistributor.json is stale" in err
    assert "StakeBonds.json is stale" in err
    assert "KoinToken.json" not in err


@pytest.mark.parametrize(
    ("name", "functions"),
    [
        ("KoinToken", {"transfer", "transferFrom", "approve", "mint", "burn", "set_minter"}),
        ("OperatorQuorum", {"submit", "finalize", "finalized", "is_finalized", "support"}),
        ("RewardDistributor", {"claim", "claimed", "claimed_total", "payout_leaf", "verify"}),
        ("StakeBonds", {"bond", "settle", "bond_of", "is_settled", "bond_leaf"}),
    ],
)
def test_rewards_artifacts_load(name: str, functions: set[str]) -> None:
    artifact = load_artifact(name)
    assert functions <= {entry.get("name") for entry in artifact.abi}
    assert artifact.bytecode_runtime in artifact.bytecode
