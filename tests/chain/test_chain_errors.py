"""Failures surface as Koinon's chain errors, with retryable ones told apart."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from koinon.chain import ChainError, ChainUnavailable, connect
from koinon.chain.testing import run_anvil


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_node_is_unavailable(operator_key: bytes) -> None:
    with pytest.raises(ChainUnavailable):
        connect(None, closed_port_url(), operator_key, timeout=5)


def test_node_going_away_is_unavailable(anvil_binary: Path, operator_key: bytes) -> None:
    with run_anvil(anvil_binary) as url:
        client = connect(None, url, operator_key)
    try:
        with pytest.raises(ChainUnavailable):
            client.anchor(bytes(31) + b"\x01", 1)
    finally:
        client.close()


@pytest.mark.parametrize(
    "key", [b"\x01" * 31, bytes(32), b"\xff" * 32], ids=["short", "zero", "past the order"]
)
def test_invalid_operator_key(key: bytes) -> None:
    with pytest.raises(ChainError, match="operator key"):
        connect(None, None, key)


def test_contract_given_must_be_a_registry(anvil_url: str, operator_key: bytes) -> None:
    with connect(None, anvil_url, operator_key) as client:
        with pytest.raises(ChainError, match="no AnchorRegistry"):
            connect(None, anvil_url, operator_key, contract=client.operator_address)
        with pytest.raises(ChainError, match="not an address"):
            connect(None, anvil_url, operator_key, contract="registry")


def test_rpc_registry_is_remembered_per_chain(
    anvil_url: str, operator_key: bytes, tmp_path: Path
) -> None:
    with connect(tmp_path, anvil_url, operator_key) as first:
        address = first.contract_address
    with connect(tmp_path, anvil_url, operator_key) as again:
        assert again.contract_address == address
