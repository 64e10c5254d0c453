"""Finding the AnchorRegistry to use: the one given, the one remembered, or a new deployment."""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3

from koinon.chain.artifacts import load_artifact
from koinon.chain.errors import ChainError, translated
from koinon.chain.transactions import send

REGISTRY = "AnchorRegistry"
REGISTRY_FILE = "registry.json"
DEPLOY_GAS = 600_000  # measured: 321,858


def is_registry(w3: Web3, address: ChecksumAddress) -> bool:
    """Whether `address` holds exactly the AnchorRegistry code this package ships."""
    with translated("read contract code"):
        code = bytes(w3.eth.get_code(address))
    return code == load_artifact(REGISTRY).bytecode_runtime


def deploy_registry(w3: Web3, deployer: LocalAccount, *, timeout: float) -> ChecksumAddress:
    """Deploy a new AnchorRegistry paid by `deployer`; returns its address."""
    bytecode = load_artifact(REGISTRY).bytecode
    with translated("deploy AnchorRegistry"):
        receipt = send(w3, deployer, {"data": bytecode}, gas=DEPLOY_GAS, timeout=timeout)
    address = receipt.get("contractAddress")
    if receipt["status"] != 1 or address is None:
        raise ChainError(f"deploying AnchorRegistry failed in block {receipt['blockNumber']}")
    return address


def recall(data_dir: Path, chain_id: int) -> ChecksumAddress | None:
    """The registry address remembered in `data_dir` for chain `chain_id`, if any."""
    try:
        document = json.loads((data_dir / REGISTRY_FILE).read_text(encoding="utf-8"))
        address = document["address"]
        if document["chain_id"] != chain_id or not Web3.is_address(address):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Web3.to_checksum_address(address)


def remember(data_dir: Path, chain_id: int, address: ChecksumAddress) -> None:
    """Write the registry address to `data_dir` atomically."""
    write_document(data_dir / REGISTRY_FILE, {"address": address, "chain_id": chain_id})


def write_document(target: Path, document: dict[str, object]) -> None:
    """Write `document` as JSON to `target` atomically (a crash leaves the old file or the new)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    text = json.dumps(document, indent=2) + "\n"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(target)


def resolve_registry(
    w3: Web3,
    deployer: LocalAccount,
    *,
    data_dir: Path | None,
    contract: str | None,
    timeout: float,
) -> ChecksumAddress:
    """The registry to anchor in.

    A `contract` given explicitly must hold the registry code. Otherwise the address remembered
    in `data_dir` is reused while it still holds the code (a restarted dev chain loses it), and
    a fresh deployment is made and remembered when it does not.
    """
    with translated("read chain id"):
        chain_id = w3.eth.chain_id
    if contract is not None:
        if not Web3.is_address(contract):
            raise ChainError(f"{contract!r} is not an address")
        address = Web3.to_checksum_address(contract)
        if not is_registry(w3, address):
            raise ChainError(f"no AnchorRegistry at {address} on chain {chain_id}")
        return address
    remembered = recall(data_dir, chain_id) if data_dir is not None else None
    if remembered is not None and is_registry(w3, remembered):
        return remembered
    address = deploy_registry(w3, deployer, timeout=timeout)
    if data_dir is not None:
        remember(data_dir, chain_id, address)
    return address
