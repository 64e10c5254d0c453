"""AnchorRegistry.vy alone, called through plain web3 (no Koinon client) on eth-tester and anvil."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import requests
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from eth_typing import ChecksumAddress
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from koinon.chain.artifacts import load_artifact
from tests.chain.support import root_of

Reverted = (ContractLogicError, TransactionFailed)


def accounts(w3: Web3) -> Sequence[ChecksumAddress]:
    """The node's unlocked accounts (web3 types the tuple as holding exactly one)."""
    return w3.eth.accounts


@pytest.fixture(params=["eth-tester", "anvil"])
def w3(request: pytest.FixtureRequest) -> Iterator[Web3]:
    """A web3 with unlocked, funded accounts: in-memory eth-tester, or the session's anvil."""
    if request.param == "eth-tester":
        yield Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
        return
    with requests.Session() as session:
        yield Web3(HTTPProvider(request.getfixturevalue("anvil_url"), session=session))


@pytest.fixture
def registry(w3: Web3) -> Contract:
    artifact = load_artifact("AnchorRegistry")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor().transact({"from": accounts(w3)[0]})
    address = w3.eth.wait_for_transaction_receipt(tx_hash)["contractAddress"]
    assert address is not None
    assert w3.eth.get_code(address) == artifact.bytecode_runtime
    return w3.eth.contract(address=address, abi=artifact.abi)


def anchor(registry: Contract, sender: str, root: bytes, size: int) -> Any:
    w3 = registry.w3
    tx_hash = registry.functions.anchor(root, size).transact({"from": sender, "gas": 150_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    return receipt


def test_anchored_event_names_the_operator_in_a_topic(registry: Contract) -> None:
    sender = accounts(registry.w3)[1]
    receipt = anchor(registry, sender, root_of("r"), 5)
    block = registry.w3.eth.get_block(receipt["blockNumber"])

    (log,) = receipt["logs"]
    assert bytes(log["topics"][1]) == bytes(12) + bytes.fromhex(sender[2:])
    event = registry.events.Anchored().process_log(log)
    assert dict(event["args"]) == {
        "operator": sender,
        "index": 0,
        "root": root_of("r"),
        "size": 5,
        "timestamp": block["timestamp"],
    }


def test_views_return_root_size_timestamp_and_block(registry: Contract) -> None:
    sender = accounts(registry.w3)[1]
    receipts = [anchor(registry, sender, root_of(str(size)), size) for size in (1, 4)]
    views = registry.functions

    assert views.anchor_count(sender).call() == 2
    for index, (size, receipt) in enumerate(zip((1, 4), receipts, strict=True)):
        block = registry.w3.eth.get_block(receipt["blockNumber"])
        expected = [root_of(str(size)), size, block["timestamp"], block["number"]]
        assert list(views.get_anchor(sender, index).call()) == expected
    assert views.latest(sender).call() == views.get_anchor(sender, 1).call()


def test_each_operator_has_its_own_log(registry: Contract) -> None:
    alice, bob = accounts(registry.w3)[1:3]
    anchor(registry, alice, root_of("a"), 100)
    anchor(registry, bob, root_of("b"), 1)

    assert registry.functions.anchor_count(alice).call() == 1
    assert registry.functions.anchor_count(bob).call() == 1
    assert registry.functions.latest(bob).call()[1] == 1


@pytest.mark.parametrize(
    ("root", "size", "reason"),
    [
        (bytes(32), 1, "zero root"),
        (root_of("x"), 2**64, "size too large"),
        (root_of("x"), 0, "size must grow"),
    ],
    ids=["zero root", "size past uint64", "size zero"],
)
def test_anchor_refusals(registry: Contract, root: bytes, size: int, reason: str) -> None:
    with pytest.raises(Reverted, match=reason):
        registry.functions.anchor(root, size).call({"from": accounts(registry.w3)[1]})


def test_append_only(registry: Contract) -> None:
    sender = accounts(registry.w3)[1]
    anchor(registry, sender, root_of("a"), 10)

    for size in (10, 9):
        with pytest.raises(Reverted, match="size must grow"):
            registry.functions.anchor(root_of("b"), size).call({"from": sender})
    anchor(registry, sender, root_of("c"), 2**64 - 1)  # the largest size still fits
    assert registry.functions.anchor_count(sender).call() == 2


def test_reading_missing_anchors_reverts(registry: Contract) -> None:
    nobody = accounts(registry.w3)[3]
    assert registry.functions.anchor_count(nobody).call() == 0
    with pytest.raises(Reverted, match="no anchors"):
        registry.functions.latest(nobody).call()
    with pytest.raises(Reverted, match="no such anchor"):
        registry.functions.get_anchor(nobody, 0).call()
