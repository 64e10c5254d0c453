"""`AnchorClient`: record this node's tree heads in the AnchorRegistry and read anyone's back.

The client is synchronous (web3's sync API); the asyncio node calls it from a worker thread.
One lock serialises calls, so one caller may use it from any thread. State is read through the
registry's view functions, never by scanning blocks or logs.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Protocol

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from koinon.chain.artifacts import load_artifact
from koinon.chain.deployment import REGISTRY
from koinon.chain.errors import AnchorNotFound, ChainError, translated
from koinon.chain.records import AnchorReceipt, AnchorRecord
from koinon.chain.transactions import send

ANCHOR_GAS = 150_000  # measured: 90,831 for an operator's first anchor, 73,731 after
MAX_SIZE = 2**64 - 1


class ChainBackend(Protocol):
    """What the client needs from the embedded chain or a JSON-RPC node."""

    kind: str
    web3: Web3

    def ensure_funds(self, address: ChecksumAddress) -> None: ...

    def close(self) -> None: ...


class AnchorClient:
    """The registry at `contract_address`, used by the operator holding `operator`'s key."""

    def __init__(
        self,
        backend: ChainBackend,
        contract_address: ChecksumAddress,
        operator: LocalAccount,
        *,
        chain_id: int,
        timeout: float,
    ) -> None:
        self._backend = backend
        self._w3 = backend.web3
        self._operator = operator
        self._timeout = timeout
        self._lock = threading.Lock()
        self._registry: Contract = self._w3.eth.contract(
            address=contract_address, abi=load_artifact(REGISTRY).abi
        )
        self.chain_id = chain_id
        self.contract_address = contract_address
        self.operator_address: ChecksumAddress = operator.address
        self.backend_kind = backend.kind

    def anchor(self, root: bytes, size: int) -> AnchorReceipt:
        """Record tree head `root` at `size` leaves; returns once the transaction is mined.

        Raises `AnchorRejected` when the registry refuses (size not larger than the last
        anchored size), `ChainUnavailable` when the chain cannot be reached in time.
        """
        if len(root) != 32:
            raise ValueError("a tree head root is 32 bytes")
        if not 0 < size <= MAX_SIZE:
            raise ValueError("tree size out of range")
        call = self._registry.functions.anchor(root, size)
        with self._lock:
            # A dry run first: a refusal costs no gas and comes back with its reason.
            with translated("anchor", rejected=True):
                call.call({"from": self.operator_address})
            with translated("anchor"):
                tx = call.build_transaction({"from": self.operator_address, "gas": ANCHOR_GAS})
                receipt = send(self._w3, self._operator, tx, gas=ANCHOR_GAS, timeout=self._timeout)
            if receipt["status"] != 1:
                raise ChainError(f"anchor transaction reverted in block {receipt['blockNumber']}")
            with translated("decode Anchored event"):
                event = self._registry.events.Anchored().process_log(receipt["logs"][0])
        args = event["args"]
        record = AnchorRecord(
            operator=self.operator_address,
            index=args["index"],
            root=bytes(args["root"]),
            size=args["size"],
            timestamp=args["timestamp"],
            block_number=receipt["blockNumber"],
        )
        return AnchorReceipt(record, bytes(receipt["transactionHash"]), receipt["gasUsed"])

    def anchor_count(self, operator: str | None = None) -> int:
        """How many anchors `operator` (default: this node) has recorded."""
        address = self._address(operator)
        with self._lock, translated("read anchor count"):
            count: int = self._registry.functions.anchor_count(address).call()
        return count

    def get_anchor(self, operator: str | None, index: int) -> AnchorRecord:
        """Anchor number `index` (from 0) of `operator` (None: this node)."""
        address = self._address(operator)
        with self._lock:
            return self._read(address, index)

    def latest(self, operator: str | None = None) -> AnchorRecord | None:
        """The newest anchor of `operator` (default: this node), or None before the first."""
        address = self._address(operator)
        with self._lock:
            with translated("read anchor count"):
                count: int = self._registry.functions.anchor_count(address).call()
            return self._read(address, count - 1) if count else None

    def anchors(
        self, operator: str | None = None, start: int = 0, stop: int | None = None
    ) -> list[AnchorRecord]:
        """Anchors `start` to `stop` (default: all) of `operator` (default: this node), in order."""
        address = self._address(operator)
        with self._lock:
            with translated("read anchor count"):
                count: int = self._registry.functions.anchor_count(address).call()
            end = count if stop is None else min(stop, count)
            return [self._read(address, index) for index in range(max(start, 0), end)]

    def block_time(self, block_number: int) -> int:
        """The timestamp of block `block_number`."""
        with self._lock, translated("read block"):
            return int(self._w3.eth.get_block(block_number)["timestamp"])

    def close(self) -> None:
        """Release the chain (close the embedded database or the HTTP session)."""
        with self._lock:
            self._backend.close()

    def __enter__(self) -> AnchorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _address(self, operator: str | None) -> ChecksumAddress:
        if operator is None:
            return self.operator_address
        if not Web3.is_address(operator):
            raise ValueError(f"{operator!r} is not an address")
        return Web3.to_checksum_address(operator)

    def _read(self, operator: ChecksumAddress, index: int) -> AnchorRecord:
        if index < 0:
            raise AnchorNotFound(f"{operator} has no anchor {index}")
        with translated("read anchor"):
            count: int = self._registry.functions.anchor_count(operator).call()
            if index >= count:
                raise AnchorNotFound(f"{operator} has no anchor {index}")
            root, size, timestamp, block_number = self._registry.functions.get_anchor(
                operator, index
            ).call()
        return AnchorRecord(operator, index, bytes(root), size, timestamp, block_number)
