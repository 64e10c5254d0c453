"""`AnchorClient`: record this node's tree heads in the AnchorRegistry and read anyone's back.

The client is synchronous (web3's sync API); the asyncio node calls it from a worker thread.
One lock serialises calls, so one caller may use it from any thread. State is read through the
registry's view functions, never by scanning blocks or logs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint, TxParams

from koinon.chain.artifacts import load_artifact
from koinon.chain.deployment import REGISTRY
from koinon.chain.errors import (
    AnchorNotFound,
    AnchorRejected,
    ChainError,
    translated,
    unreachable_translated,
)
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

    @property
    def backend(self) -> ChainBackend:
        """The chain this client talks to (other clients on the same chain share it)."""
        return self._backend

    @property
    def lock(self) -> threading.Lock:
        """The lock that serialises calls on this chain; clients sharing the chain share it."""
        return self._lock

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
        data = self._registry.encode_abi("anchor", args=[root, size])
        tx: TxParams = {"to": self.contract_address, "data": data}
        with self._lock:
            # A dry run first: a refusal costs no gas and comes back with its reason.
            with translated("anchor", rejected=AnchorRejected):
                call.call({"from": self.operator_address})
            with translated("anchor"):
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
        with self._lock:
            return self._count(address)

    def get_anchor(self, operator: str | None, index: int) -> AnchorRecord:
        """Anchor number `index` (from 0) of `operator` (None: this node)."""
        address = self._address(operator)
        with self._lock:
            if not 0 <= index < self._count(address):
                raise AnchorNotFound(f"{address} has no anchor {index}")
            return self._read(address, index)

    def latest(self, operator: str | None = None) -> AnchorRecord | None:
        """The newest anchor of `operator` (default: this node), or None before the first."""
        address = self._address(operator)
        with self._lock:
            count = self._count(address)
            return self._read(address, count - 1) if count else None

    def anchors(
        self, operator: str | None = None, start: int = 0, stop: int | None = None
    ) -> list[AnchorRecord]:
        """Anchors `start` to `stop` (default: all) of `operator` (default: this node), in order."""
        address = self._address(operator)
        with self._lock:
            count = self._count(address)
            end = count if stop is None else min(stop, count)
            return [self._read(address, index) for index in range(max(start, 0), end)]

    def transaction_of(self, record: AnchorRecord) -> bytes:
        """The hash of the transaction that recorded `record` (to rebuild a lost index).

        Reads only the block the record names: logs or receipts would make the embedded
        chain scan every block back from its head.
        """
        with self._lock, translated("find anchor transaction"):
            block = self._w3.eth.get_block(record.block_number, full_transactions=True)
            found = [
                bytes(tx["hash"])
                for tx in block["transactions"]
                if isinstance(tx, Mapping) and self._made(tx, record)
            ]
            if len(found) > 1:  # a refused duplicate in the same block: keep the one that worked
                found = [
                    h for h in found if self._w3.eth.get_transaction_receipt(HexBytes(h))["status"]
                ]
        if len(found) != 1:
            raise AnchorNotFound(f"no transaction of anchor {record.index} in its block")
        return found[0]

    def block_time(self, block_number: int) -> int:
        """The timestamp of block `block_number`."""
        with self._lock, translated("read block"):
            return int(self._w3.eth.get_block(block_number)["timestamp"])

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call as web3 makes it: its result as Python values, or web3's exception.

        Only an unreachable chain is translated (`ChainUnavailable`); a refused call keeps web3's
        exception so the gateway can report it the way a JSON-RPC node would.
        """
        with self._lock, unreachable_translated(method):
            return self._w3.manager.request_blocking(RPCEndpoint(method), params)

    def fund(self, address: str) -> None:
        """Top `address` up with gas money when the chain can give some (development chains)."""
        with self._lock:
            self._backend.ensure_funds(self._address(address))

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

    def _made(self, tx: Mapping[str, Any], record: AnchorRecord) -> bool:
        """Whether `tx` is the call `anchor(record.root, record.size)` from `record.operator`."""
        if tx.get("to") != self.contract_address or tx.get("from") != record.operator:
            return False
        # eth-tester leaves full transactions in blocks with its own key, "data".
        calldata = tx.get("input", tx.get("data"))
        if calldata is None:
            return False
        function, args = self._registry.decode_function_input(calldata)
        return bool(
            function.fn_name == "anchor"
            and args["size"] == record.size
            and bytes(args["root"]) == record.root
        )

    def _count(self, operator: ChecksumAddress) -> int:
        with translated("read anchor count"):
            count: int = self._registry.functions.anchor_count(operator).call()
        return count

    def _read(self, operator: ChecksumAddress, index: int) -> AnchorRecord:
        """Anchor `index` of `operator`, known to exist."""
        with translated("read anchor"):
            root, size, timestamp, block_number = self._registry.functions.get_anchor(
                operator, index
            ).call()
        return AnchorRecord(operator, index, bytes(root), size, timestamp, block_number)
