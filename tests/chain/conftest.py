"""Fixtures for the chain tests.

* `anvil_binary`: the anvil executable (tests needing it are skipped when it is not installed,
  and fail when the `CI` variable is set).
* `anvil_url`: one anvil node on 127.0.0.1 for the session.
* `chain`: where a client connects, parametrized over the embedded EVM and anvil, so every test
  that uses it runs against both.
* `open_client(key)`: an `AnchorClient` for the operator `key` on `chain`, closed after the test.
* `operator_key`: a secret key derived from the test's id, so tests sharing anvil never collide.
* `rewards`: the four rewards contracts freshly deployed on `chain` by `operator_key`'s account
  (owner and sole operator of the quorum, M = 1).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from koinon.chain import AnchorClient, RewardsClient, connect, connect_rewards
from koinon.chain.testing import find_anvil, run_anvil
from tests.chain.support import ManualClock, OpenClient


@dataclass(frozen=True)
class ChainTarget:
    """Where to connect: the embedded chain in `data_dir`, or the node at `rpc_url`."""

    kind: str
    data_dir: Path | None
    rpc_url: str | None


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    """The anvil executable; skips the test when it is missing, except in CI where it fails."""
    binary = find_anvil()
    if binary is None:
        message = "anvil is not installed: run `npm ci --prefix tools/anvil`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="session")
def anvil_url(anvil_binary: Path) -> Iterator[str]:
    """The URL of an anvil node shared by the session."""
    with run_anvil(anvil_binary) as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    """The clock that stamps embedded blocks."""
    return ManualClock()


@pytest.fixture
def operator_key(request: pytest.FixtureRequest) -> bytes:
    """A secp256k1 secret key unique to this test."""
    return hashlib.sha256(request.node.nodeid.encode()).digest()


@pytest.fixture(params=["embedded", "anvil"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> ChainTarget:
    """The chain under test: the embedded EVM in a fresh folder, or the session's anvil."""
    if request.param == "anvil":
        return ChainTarget("anvil", None, request.getfixturevalue("anvil_url"))
    return ChainTarget("embedded", tmp_path / "chain", None)


@pytest.fixture
def open_client(chain: ChainTarget, clock: ManualClock) -> Iterator[OpenClient]:
    """Connect operators to `chain`; every client is closed at the end of the test."""
    clients: list[AnchorClient] = []

    def factory(key: bytes, contract: str | None = None) -> AnchorClient:
        client = connect(chain.data_dir, chain.rpc_url, key, contract=contract, clock=clock)
        clients.append(client)
        return client

    try:
        yield factory
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def client(open_client: OpenClient, operator_key: bytes) -> AnchorClient:
    """This test's operator, with a registry of its own on `chain`."""
    return open_client(operator_key)


@pytest.fixture
def rewards(chain: ChainTarget, clock: ManualClock, operator_key: bytes) -> Iterator[RewardsClient]:
    """This test's own rewards contracts on `chain`, used by the operator."""
    with connect_rewards(chain.data_dir, chain.rpc_url, operator_key, clock=clock) as client:
        yield client
