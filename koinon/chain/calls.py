"""`ContractCaller`: one account's calls to contracts, dry-run first, sent with a fixed gas limit.

The rewards clients share one caller per account and one lock per chain, so an approval and the
bond that spends it, or a claim and the anchoring that runs beside it, never interleave their
nonces. Every public method of the clients takes the lock; the caller itself assumes it is held.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.types import TxParams

from koinon.chain.artifacts import load_artifact
from koinon.chain.errors import ChainError, RewardsRejected, translated
from koinon.chain.transactions import send


@dataclass(frozen=True)
class CallReceipt:
    """A transaction this client sent and the chain mined successfully."""

    tx_hash: bytes
    block_number: int
    gas_used: int


def to_address(value: str | bytes) -> ChecksumAddress:
    """A checksummed address from 20 raw bytes or hex text; `ValueError` for anything else."""
    if isinstance(value, bytes):
        if len(value) != 20:
            raise ValueError("an address is 20 bytes")
        return Web3.to_checksum_address(value)
    if not Web3.is_address(value):
        raise ValueError(f"{value!r} is not an address")
    return Web3.to_checksum_address(value)


def check_uint(name: str, value: int) -> None:
    """`ValueError` unless `value` fits a uint256 (caught before anything is sent)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise ValueError(f"{name} must be an integer in 0 … 2**256 - 1")


def check_hash(name: str, value: bytes) -> None:
    """`ValueError` unless `value` is 32 bytes."""
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes")


class ContractCaller:
    """Calls made by `account` on one chain; `lock` guards the chain for every caller sharing it."""

    def __init__(
        self, w3: Web3, account: LocalAccount, lock: threading.Lock, *, timeout: float
    ) -> None:
        self.w3 = w3
        self.account = account
        self.address: ChecksumAddress = account.address
        self.lock = lock
        self.timeout = timeout

    def contract(self, name: str, address: ChecksumAddress) -> Contract:
        """A web3 handle on contract `name` (an artifact) at `address`."""
        return self.w3.eth.contract(address=address, abi=load_artifact(name).abi)

    def view(self, contract: Contract, function: str, *args: Any) -> Any:
        """The result of view `function(*args)`; the caller holds the lock."""
        with translated(f"read {function}"):
            return contract.functions[function](*args).call()

    def view_at(self, block: int, contract: Contract, function: str, *args: Any) -> Any:
        """The result of view `function(*args)` in the state after block `block`; the caller
        holds the lock."""
        with translated(f"read {function}"):
            return contract.functions[function](*args).call(block_identifier=block)

    def transact(
        self, contract: Contract, function: str, args: list[Any], *, gas: int, action: str
    ) -> CallReceipt:
        """Dry-run `function(*args)`, then send it with limit `gas`; the caller holds the lock.

        A refusal in the dry run costs nothing and raises `RewardsRejected(action, reason)`.
        """
        call = contract.functions[function](*args)
        with translated(action, rejected=lambda reason: RewardsRejected(action, reason)):
            call.call({"from": self.address})
        tx: TxParams = {"to": contract.address, "data": contract.encode_abi(function, args=args)}
        with translated(action):
            receipt = send(self.w3, self.account, tx, gas=gas, timeout=self.timeout)
        if receipt["status"] != 1:
            # Someone else's transaction changed the state between the dry run and this one.
            raise ChainError(f"{action} reverted in block {receipt['blockNumber']}")
        return CallReceipt(
            bytes(receipt["transactionHash"]), receipt["blockNumber"], receipt["gasUsed"]
        )
