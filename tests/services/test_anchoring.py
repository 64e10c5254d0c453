"""The anchoring service against real chains: the embedded EVM and anvil killed mid-run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from koinon.chain import ChainUnavailable
from koinon.chain.reader import read_anchor
from koinon.chain.testing import find_anvil
from koinon.ledger.heads import parse_anchor_record
from koinon.node import Node
from koinon.settings import Settings
from tests.helpers import connect as ws_connect
from tests.helpers import make_event, make_key

HOUR = 3600.0


async def _publish(node: Node, count: int, start: int = 0) -> None:
    async with ws_connect(node.ws_url) as client:
        for n in range(start, start + count):
            accepted, message = await client.publish(make_event(make_key(1), content=f"n{n}"))
            assert accepted, message


async def _start(data_dir: Path, **settings: object) -> Node:
    node = Node(Settings(data_dir=data_dir, port=0, anchor_interval=HOUR, **settings))  # type: ignore[arg-type]
    await node.start()
    return node


def _chain_sizes(node: Node) -> list[int]:
    chain = node._chain
    assert chain is not None
    return [record.size for record in chain.anchors()]


async def _indexed_sizes(node: Node) -> list[int]:
    assert node.anchoring is not None
    return [anchor.size for anchor in await node.anchoring.indexed()]


async def test_anchors_grow_and_are_never_repeated(tmp_path: Path) -> None:
    node = await _start(tmp_path / "node")
    try:
        assert node.anchoring is not None
        await _publish(node, 3)
        first = await node.anchoring.anchor_now()
        assert first is not None and first.size == 3
        assert await node.anchoring.anchor_now() is None  # nothing new: no second anchor
        await _publish(node, 2, start=3)
        second = await node.anchoring.anchor_now()
        assert second is not None and second.size > first.size
        assert _chain_sizes(node) == await _indexed_sizes(node) == [first.size, second.size]
        assert second.block_time >= first.block_time
    finally:
        await node.stop()


async def test_an_anchor_whose_receipt_was_lost_is_indexed_not_repeated(tmp_path: Path) -> None:
    node = await _start(tmp_path / "node")
    try:
        assert node.anchoring is not None and node._chain is not None
        await _publish(node, 4)
        head = await node.heads.sign_now()
        # The transaction lands, but the service never hears back (crash, dropped connection).
        landed = node._chain.anchor(head.root, head.size)
        assert await _indexed_sizes(node) == []
        assert await node.anchoring.anchor_now() is None  # reconciled: already on chain
        indexed = await node.anchoring.indexed()
        assert [a.size for a in indexed] == [head.size]
        assert indexed[0].tx_hash == "0x" + landed.tx_hash.hex()
        assert _chain_sizes(node) == [head.size]
    finally:
        await node.stop()


async def test_anchors_survive_a_restart_of_the_node(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    node = await _start(data_dir)
    try:
        assert node.anchoring is not None
        await _publish(node, 2)
        anchored = await node.anchoring.anchor_now()
        assert anchored is not None
    finally:
        await node.stop()
    again = await _start(data_dir)
    try:
        assert again.anchoring is not None
        assert _chain_sizes(again) == [anchored.size]
        events = await again._store.anchors()  # type: ignore[union-attr]
        assert [parse_anchor_record(e).tx_hash for e in events] == [anchored.tx_hash]
        await _publish(again, 1, start=2)
        later = await again.anchoring.anchor_now()
        assert later is not None and later.size == anchored.size + 1
        assert later.contract == anchored.contract  # the same registry, not a new deployment
    finally:
        await again.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Anvil:
    """An anvil process that can be killed and started again with its state kept on disk."""

    def __init__(self, binary: Path, state: Path) -> None:
        self.binary = binary
        self.state = state
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--state",
            str(self.state),
            "--silent",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        _wait_for_rpc(self.url)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)  # anvil writes --state on the way out
        self.process.wait(timeout=30)
        self.process = None


def _wait_for_rpc(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                timeout=1,
            ).raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[Anvil]:
    binary = find_anvil()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("anvil is missing: run `npm ci --prefix tools/anvil`")
        pytest.skip("anvil is not installed (npm ci --prefix tools/anvil)")
    chain = Anvil(binary, tmp_path / "anvil-state.json")
    chain.start()
    try:
        yield chain
    finally:
        if chain.process is not None:
            chain.process.kill()
            chain.process.wait()


async def test_anchoring_over_rpc_survives_the_chain_going_away(
    tmp_path: Path, anvil: Anvil
) -> None:
    node = await _start(tmp_path / "node", chain_rpc=anvil.url)
    try:
        assert node.anchoring is not None
        await _publish(node, 3)
        first = await node.anchoring.anchor_now()
        assert first is not None
        anvil.kill()
        await _publish(node, 2, start=3)  # the node keeps accepting events meanwhile
        with pytest.raises(ChainUnavailable):
            await node.anchoring.anchor_now()
        assert await _indexed_sizes(node) == [first.size]
        anvil.start()
        second = await node.anchoring.anchor_now()
        assert second is not None and second.size == 5
        assert await node.anchoring.anchor_now() is None
        # What the chain holds, read independently of the node, matches the node's own index.
        indexed = await node.anchoring.indexed()
        for anchor in indexed:
            on_chain = read_anchor(anvil.url, anchor.contract, anchor.operator, anchor.index)
            assert on_chain is not None
            assert (on_chain.root, on_chain.size) == (anchor.root, anchor.size)
        assert [a.size for a in indexed] == [3, 5]
        assert read_anchor(anvil.url, first.contract, first.operator, 2) is None
    finally:
        await node.stop()
