"""Read-only access to the AnchorRegistry and KOIN over any JSON-RPC endpoint, for verifiers."""

from __future__ import annotations

from collections.abc import Sequence

from web3 import Web3

from koinon.chain.artifacts import load_artifact
from koinon.chain.deployment import REGISTRY
from koinon.chain.errors import AnchorNotFound, ChainError, translated
from koinon.ledger.verify import OnChainAnchor

DEFAULT_TIMEOUT = 15.0


def read_anchor(
    rpc_url: str, contract: str, operator: str, index: int, timeout: float = DEFAULT_TIMEOUT
) -> OnChainAnchor | None:
    """Anchor `index` of `operator` as the chain holds it, with its block's own timestamp."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    if not (Web3.is_address(contract) and Web3.is_address(operator)):
        raise ChainError("anchor record names a malformed contract or operator address")
    registry = w3.eth.contract(
        address=Web3.to_checksum_address(contract), abi=load_artifact(REGISTRY).abi
    )
    owner = Web3.to_checksum_address(operator)
    with translated("read anchor"):
        if index >= registry.functions.anchor_count(owner).call():
            return None
        root, size, _timestamp, block_number = registry.functions.get_anchor(owner, index).call()
        block = w3.eth.get_block(block_number)
    if block is None or "timestamp" not in block:
        raise AnchorNotFound(f"block {block_number} is not on this chain")
    return OnChainAnchor(bytes(root), int(size), int(block_number), int(block["timestamp"]))


def read_balance(rpc_url: str, token: str, account: bytes, timeout: float = DEFAULT_TIMEOUT) -> int:
    """The KOIN balance of 20-byte `account`, read through the token's `balanceOf`."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    if not Web3.is_address(token) or len(account) != 20:
        raise ChainError("a malformed token or account address")
    contract = w3.eth.contract(
        address=Web3.to_checksum_address(token), abi=load_artifact("KoinToken").abi
    )
    with translated("read balance"):
        return int(contract.functions.balanceOf(Web3.to_checksum_address(account)).call())


def read_finalized(
    rpc_url: str, quorum: str, epoch: int, timeout: float = DEFAULT_TIMEOUT
) -> tuple[bytes, int] | None:
    """The (root, total) the OperatorQuorum finalized for `epoch`, or None while there is none."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    if not Web3.is_address(quorum):
        raise ChainError("a malformed quorum address")
    contract = w3.eth.contract(
        address=Web3.to_checksum_address(quorum), abi=load_artifact("OperatorQuorum").abi
    )
    with translated("read finalized root"):
        root, total = contract.functions.finalized(epoch).call()
    return None if bytes(root) == bytes(32) else (bytes(root), int(total))


def read_bonds(
    rpc_url: str,
    bonds: str,
    keys: Sequence[tuple[bytes, bytes]],
    block: int,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[int]:
    """KOIN StakeBonds held for each (event id, 20-byte owner) of `keys` after block `block`."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    if not Web3.is_address(bonds):
        raise ChainError("a malformed bonds address")
    if any(len(event_id) != 32 or len(owner) != 20 for event_id, owner in keys):
        raise ChainError("a malformed event id or owner address")
    contract = w3.eth.contract(
        address=Web3.to_checksum_address(bonds), abi=load_artifact("StakeBonds").abi
    )
    with translated("read bonds"):
        if block > w3.eth.block_number:
            raise ChainError(f"block {block} is not on this chain yet")
        return [
            int(
                contract.functions.bond_of(event_id, Web3.to_checksum_address(owner)).call(
                    block_identifier=block
                )
            )
            for event_id, owner in keys
        ]
