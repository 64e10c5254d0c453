"""Finding the four rewards contracts: the ones given, the ones remembered, or a new deployment.

A deployment is KoinToken, OperatorQuorum (the deployer its owner and sole operator, M = 1),
RewardDistributor and StakeBonds (both wired to that quorum and token), then
`KoinToken.set_minter(distributor)`. The addresses are remembered per chain id in
`data_dir/rewards.json`, as the registry's are in `registry.json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import TxParams

from koinon.chain.artifacts import load_artifact
from koinon.chain.bonds import BONDS
from koinon.chain.deployment import write_document
from koinon.chain.distributor import DISTRIBUTOR
from koinon.chain.errors import ChainError, translated
from koinon.chain.quorum import QUORUM
from koinon.chain.token import TOKEN
from koinon.chain.transactions import send

REWARDS_FILE = "rewards.json"
# Fixed gas limits, measured on py-evm and anvil (docs/chain.md, "Rewards contracts"):
DEPLOY_GAS = {
    TOKEN: 1_000_000,  # measured: 624,411
    QUORUM: 1_500_000,  # measured: 1,099,556
    DISTRIBUTOR: 700_000,  # measured: 422,606
    BONDS: 1_000_000,  # measured: 608,481
}
SET_MINTER_GAS = 80_000  # measured: 44,912


@dataclass(frozen=True)
class RewardsAddresses:
    """Where the four rewards contracts live on one chain."""

    token: ChecksumAddress
    quorum: ChecksumAddress
    distributor: ChecksumAddress
    bonds: ChecksumAddress

    @classmethod
    def parse(cls, document: object) -> RewardsAddresses:
        """From {"token", "quorum", "distributor", "bonds"} addresses; `ChainError` if malformed."""
        if not isinstance(document, dict):
            raise ChainError("rewards contract addresses must be an object")
        try:
            values = [document[name] for name in ("token", "quorum", "distributor", "bonds")]
        except KeyError as exc:
            raise ChainError(f"rewards contract addresses lack {exc.args[0]}") from exc
        if not all(isinstance(value, str) and Web3.is_address(value) for value in values):
            raise ChainError("a rewards contract address is malformed")
        return cls(*(Web3.to_checksum_address(value) for value in values))

    def as_json(self) -> dict[str, str]:
        """The four addresses by role."""
        return {name: str(value) for name, value in asdict(self).items()}


def _word(address: ChecksumAddress) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def _code(w3: Web3, address: ChecksumAddress) -> bytes:
    with translated("read contract code"):
        return bytes(w3.eth.get_code(address))


def is_rewards(w3: Web3, addresses: RewardsAddresses) -> bool:
    """Whether the addresses hold this package's four contracts, wired to one another.

    Vyper appends immutables to the runtime code, so the code must be the shipped runtime
    followed by the constructor's arguments: the quorum and token of this very deployment.
    """
    wiring = _word(addresses.quorum) + _word(addresses.token)
    expected = {
        addresses.quorum: (QUORUM, b""),
        addresses.distributor: (DISTRIBUTOR, wiring),
        addresses.bonds: (BONDS, wiring),
    }
    for address, (name, immutables) in expected.items():
        if _code(w3, address) != load_artifact(name).bytecode_runtime + immutables:
            return False
    token_code = _code(w3, addresses.token)
    runtime = load_artifact(TOKEN).bytecode_runtime
    if not (token_code.startswith(runtime) and len(token_code) == len(runtime) + 32):
        return False
    token = w3.eth.contract(address=addresses.token, abi=load_artifact(TOKEN).abi)
    with translated("read KoinToken minter"):
        minter = token.functions.minter().call()
    return bool(minter == addresses.distributor)


def _deploy(
    w3: Web3, deployer: LocalAccount, name: str, arguments: bytes, *, timeout: float
) -> ChecksumAddress:
    tx: TxParams = {"data": load_artifact(name).bytecode + arguments}
    with translated(f"deploy {name}"):
        receipt = send(w3, deployer, tx, gas=DEPLOY_GAS[name], timeout=timeout)
    address = receipt.get("contractAddress")
    if receipt["status"] != 1 or address is None:
        raise ChainError(f"deploying {name} failed in block {receipt['blockNumber']}")
    return address


def deploy_rewards(w3: Web3, deployer: LocalAccount, *, timeout: float) -> RewardsAddresses:
    """Deploy and wire the four contracts, paid by `deployer` (the quorum's owner and operator)."""
    token = _deploy(w3, deployer, TOKEN, b"", timeout=timeout)
    quorum = _deploy(w3, deployer, QUORUM, b"", timeout=timeout)
    wiring = _word(quorum) + _word(token)
    distributor = _deploy(w3, deployer, DISTRIBUTOR, wiring, timeout=timeout)
    bonds = _deploy(w3, deployer, BONDS, wiring, timeout=timeout)
    contract = w3.eth.contract(address=token, abi=load_artifact(TOKEN).abi)
    tx: TxParams = {"to": token, "data": contract.encode_abi("set_minter", args=[distributor])}
    with translated("set the KOIN minter"):
        receipt = send(w3, deployer, tx, gas=SET_MINTER_GAS, timeout=timeout)
    if receipt["status"] != 1:
        raise ChainError(f"setting the KOIN minter failed in block {receipt['blockNumber']}")
    return RewardsAddresses(token, quorum, distributor, bonds)


def recall_rewards(data_dir: Path, chain_id: int) -> RewardsAddresses | None:
    """The addresses remembered in `data_dir` for chain `chain_id`, if any."""
    try:
        document = json.loads((data_dir / REWARDS_FILE).read_text(encoding="utf-8"))
        if document["chain_id"] != chain_id:
            return None
        return RewardsAddresses.parse(document)
    except (OSError, ValueError, KeyError, TypeError, ChainError):
        return None


def remember_rewards(data_dir: Path, chain_id: int, addresses: RewardsAddresses) -> None:
    """Write the addresses to `data_dir` atomically."""
    write_document(data_dir / REWARDS_FILE, {**addresses.as_json(), "chain_id": chain_id})


def resolve_rewards(
    w3: Web3,
    deployer: LocalAccount,
    *,
    data_dir: Path | None,
    contracts: RewardsAddresses | None,
    deploy: bool,
    timeout: float,
) -> RewardsAddresses:
    """The rewards contracts to use.

    `contracts` given explicitly must hold this package's wired contracts. Otherwise those
    remembered in `data_dir` are reused while they still do; failing that, a fresh deployment
    is made and remembered when `deploy` is set, and `ChainError` is raised when it is not.
    """
    with translated("read chain id"):
        chain_id = w3.eth.chain_id
    if contracts is not None:
        if not is_rewards(w3, contracts):
            raise ChainError(
                f"no Koinon rewards contracts at {contracts.token} on chain {chain_id}"
            )
        return contracts
    remembered = recall_rewards(data_dir, chain_id) if data_dir is not None else None
    if remembered is not None and is_rewards(w3, remembered):
        return remembered
    if not deploy:
        raise ChainError(f"no rewards contracts known on chain {chain_id}: name them or deploy")
    addresses = deploy_rewards(w3, deployer, timeout=timeout)
    if data_dir is not None:
        remember_rewards(data_dir, chain_id, addresses)
    return addresses
