"""`connect()`: one `AnchorClient` over the embedded chain or a JSON-RPC node, ready to anchor."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from koinon.chain.client import AnchorClient, ChainBackend
from koinon.chain.deployment import resolve_registry
from koinon.chain.embedded import EmbeddedChain
from koinon.chain.errors import ChainError, translated
from koinon.chain.rpc import RpcChain

DEFAULT_TIMEOUT = 30.0


def operator_account(secret_key: bytes) -> LocalAccount:
    """The Ethereum account of a 32-byte secp256k1 secret key (the node key works as is)."""
    if len(secret_key) != 32:
        raise ChainError("the operator key must be a 32-byte secp256k1 secret key")
    try:
        account: LocalAccount = Account.from_key(secret_key)
    except ValueError as exc:
        raise ChainError("the operator key is not a valid secp256k1 secret key") from exc
    return account


def operator_address(secret_key: bytes) -> str:
    """The checksummed Ethereum address that anchors made with `secret_key` are filed under."""
    return str(operator_account(secret_key).address)


def connect(
    data_dir: Path | None,
    rpc_url: str | None,
    operator_key: bytes,
    *,
    contract: str | None = None,
    clock: Callable[[], float] = time.time,
    timeout: float = DEFAULT_TIMEOUT,
) -> AnchorClient:
    """Open the chain, fund the operator if needed, and find or deploy the registry.

    Without `rpc_url` the chain is embedded: kept in `data_dir` (in memory when it is None), its
    registry deployed on first start and remembered there. With `rpc_url` the node at that URL
    is used; the registry is `contract` if given, else the one remembered in `data_dir` for that
    chain id if it still exists, else a new deployment. `clock` stamps embedded blocks.
    """
    operator = operator_account(operator_key)
    backend: ChainBackend = (
        RpcChain(rpc_url, timeout) if rpc_url is not None else EmbeddedChain(data_dir, clock)
    )
    try:
        backend.ensure_funds(operator.address)
        address = resolve_registry(
            backend.web3, operator, data_dir=data_dir, contract=contract, timeout=timeout
        )
        with translated("read chain id"):
            chain_id = backend.web3.eth.chain_id
    except BaseException:
        backend.close()
        raise
    return AnchorClient(backend, address, operator, chain_id=chain_id, timeout=timeout)
