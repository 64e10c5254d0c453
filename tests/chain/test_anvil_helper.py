"""koinon.chain.testing: finding anvil and running it for a test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from koinon.chain import ChainError
from koinon.chain.testing import find_anvil, run_anvil


def test_override_naming_a_missing_file_finds_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOINON_ANVIL", str(tmp_path / "no-anvil"))
    assert find_anvil() is None


def test_an_empty_install_folder_falls_back_to_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KOINON_ANVIL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_anvil(tmp_path) is None


def test_a_binary_that_never_listens_is_reported() -> None:
    false = shutil.which("false")
    assert false is not None
    with pytest.raises(ChainError, match="did not start listening"), run_anvil(Path(false)):
        pass


def test_anvil_answers_then_stops(anvil_binary: Path) -> None:
    with run_anvil(anvil_binary) as url:
        assert url.startswith("http://127.0.0.1:")
        reply = requests.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=5
        )
        assert int(reply.json()["result"], 16) == 31337
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json={}, timeout=5)
