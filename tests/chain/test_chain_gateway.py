"""The node's /chain/rpc gateway and /chain/fund on a real in-process node with its embedded EVM:
web3's own HTTP provider reads the chain and sends a transaction the caller signed; methods off
the list, and bodies that are not JSON-RPC, get JSON-RPC errors."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError
from web3.types import Wei

from koinon.chain.artifacts import load_artifact
from koinon.chain.transactions import transfer
from koinon.node import Node
from koinon.settings import Settings

pytestmark = pytest.mark.system


@pytest.fixture
async def anchoring_node(tmp_path: Any) -> Any:
    node = Node(
        Settings(data_dir=tmp_path / "node", host="127.0.0.1", port=0, anchor_interval=3600)
    )
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


async def post(node: Node, path: str, body: bytes) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(node.http_url + path, data=body) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_web3_reads_and_sends_through_the_gateway(anchoring_node: Node) -> None:
    w3 = Web3(HTTPProvider(anchoring_node.http_url + "/chain/rpc"))
    chain_id = await asyncio.to_thread(lambda: w3.eth.chain_id)
    assert chain_id == anchoring_node.anchoring.chain.chain_id  # type: ignore[union-attr]
    registry = anchoring_node.anchoring.chain.contract_address  # type: ignore[union-attr]
    assert len(await asyncio.to_thread(w3.eth.get_code, registry)) > 0

    sender, receiver = Account.create(), Account.create()
    status, body = await post(anchoring_node, f"/chain/fund/{sender.address}", b"")
    assert (status, body["funded"]) == (200, True)
    assert await asyncio.to_thread(w3.eth.get_balance, sender.address) > 0
    receipt = await asyncio.to_thread(
        transfer,
        w3,
        sender,
        receiver.address,
        Wei(12345),
        timeout=10.0,
    )
    assert receipt["status"] == 1
    assert await asyncio.to_thread(w3.eth.get_balance, receiver.address) == 12345


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", -32700),
        (b"[]", -32600),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "eth_chainId", "params": []}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 7, "params": []}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": {}}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []}', -32601),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": []}', -32601),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}', -32601),
    ],
    ids=[
        "not-json",
        "batch",
        "old-version",
        "method-type",
        "params-type",
        "accounts",
        "unsigned-send",
        "evm-mine",
    ],
)
async def test_bad_calls_get_json_rpc_errors(anchoring_node: Node, body: bytes, code: int) -> None:
    status, response = await post(anchoring_node, "/chain/rpc", body)
    assert status == 200
    assert response["error"]["code"] == code
    assert "result" not in response


async def test_fund_refuses_what_is_not_an_address(anchoring_node: Node) -> None:
    status, body = await post(anchoring_node, "/chain/fund/0x1234", b"")
    assert status == 400
    assert body["reason"] == "invalid"


async def test_a_revert_keeps_its_reason_through_the_gateway(anchoring_node: Node) -> None:
    w3 = Web3(HTTPProvider(anchoring_node.http_url + "/chain/rpc"))
    chain = anchoring_node.anchoring.chain  # type: ignore[union-attr]
    registry = w3.eth.contract(chain.contract_address, abi=load_artifact("AnchorRegistry").abi)
    call = registry.functions.anchor(b"\1" * 32, 0)
    with pytest.raises(ContractLogicError) as caught:
        await asyncio.to_thread(call.call, {"from": chain.operator_address})
    assert "size" in str(caught.value)
