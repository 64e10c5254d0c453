"""Compile every `contracts/*.vy` with the Vyper Python API into `koinon/chain/artifacts/`.

Modules the contracts import (`from lib import settlement_tree`) live in `contracts/lib/`; they
are compiled into the contracts that import them and get no artifact of their own.

    python scripts/build_contracts.py           # (re)write the artifacts
    python scripts/build_contracts.py --check   # exit 1 if a committed artifact is stale

An artifact is {abi, bytecode, bytecode_runtime, vyper_version, source_sha256} as sorted,
indented JSON, so the same source and compiler give byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import vyper
from vyper.compiler.input_bundle import FilesystemInputBundle

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "contracts"
ARTIFACTS = ROOT / "koinon" / "chain" / "artifacts"
FORMATS = ["abi", "bytecode", "bytecode_runtime"]


def compile_contract(source_path: Path) -> str:
    """The artifact JSON text of one Vyper source file."""
    source = source_path.read_text(encoding="utf-8")
    # The file name, not its absolute path, so artifacts do not depend on the checkout folder;
    # imports resolve from the source's own folder.
    output: dict[str, Any] = vyper.compile_code(
        source,
        contract_path=source_path.name,
        input_bundle=FilesystemInputBundle([source_path.parent]),
        output_formats=FORMATS,
    )
    document = {
        "abi": output["abi"],
        "bytecode": output["bytecode"],
        "bytecode_runtime": output["bytecode_runtime"],
        "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "vyper_version": vyper.__version__,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def expected_artifacts() -> dict[Path, str]:
    """Artifact path -> the text it must have, for every contract source."""
    return {
        ARTIFACTS / f"{path.stem}.json": compile_contract(path)
        for path in sorted(SOURCES.glob("*.vy"))
    }


def stale_artifacts(expected: dict[Path, str]) -> list[str]:
    """Human-readable problems: artifacts missing, differing, or without a source."""
    problems = []
    for path, text in expected.items():
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.relative_to(ROOT)} is stale")
    for path in sorted(ARTIFACTS.glob("*.json")):
        if path not in expected:
            problems.append(f"{path.relative_to(ROOT)} has no source in contracts/")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Build or check the artifacts; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify the committed artifacts, write nothing"
    )
    args = parser.parse_args(argv)
    expected = expected_artifacts()
    if args.check:
        problems = stale_artifacts(expected)
        for problem in problems:
            print(f"build_contracts: {problem}", file=sys.stderr)
        if problems:
            print(
                "build_contracts: run `python scripts/build_contracts.py` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"build_contracts: {len(expected)} artifact(s) fresh (vyper {vyper.__version__})")
        return 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for path, text in expected.items():
        path.write_text(text, encoding="utf-8")
        print(f"build_contracts: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
