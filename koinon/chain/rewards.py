"""`RewardsClient`: KOIN, the operator quorum, the distributor and the bonds for one account.

    rewards = connect_rewards(data_dir, rpc_url, operator_key)   # or rewards_beside(anchor, …)
    rewards.quorum.submit_root(epoch, tree.root, total)          # operators
    rewards.distributor.claim(payout_leaf, tree.proof(payout_leaf))
    alice = rewards.as_account(alice_key)                        # same chain, another signer
    alice.bonds.bond(event_id, amount)                           # approves, then bonds
    alice.token.balance_of()

The clients are synchronous (web3's sync API); the asyncio node calls them from a worker thread.
Every client on one chain shares one lock, so calls never interleave.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from eth_typing import ChecksumAddress

from koinon.chain.bonds import BondsClient
from koinon.chain.calls import ContractCaller
from koinon.chain.client import AnchorClient, ChainBackend
from koinon.chain.connection import DEFAULT_TIMEOUT, operator_account
from koinon.chain.distributor import DistributorClient
from koinon.chain.embedded import EmbeddedChain
from koinon.chain.errors import translated
from koinon.chain.quorum import QuorumClient
from koinon.chain.rewards_deployment import RewardsAddresses, resolve_rewards
from koinon.chain.rpc import RpcChain
from koinon.chain.token import TokenClient


class RewardsClient:
    """The rewards contracts at `addresses`, used by the account of `secret_key`.

    `token`, `quorum`, `distributor` and `bonds` are the per-contract clients. Only a client
    made by `connect_rewards` owns its chain and closes it; those made by `as_account` and
    `rewards_beside` leave the chain to their creator.
    """

    def __init__(
        self,
        backend: ChainBackend,
        addresses: RewardsAddresses,
        secret_key: bytes,
        *,
        chain_id: int,
        lock: threading.Lock,
        timeout: float = DEFAULT_TIMEOUT,
        owns_backend: bool = False,
    ) -> None:
        account = operator_account(secret_key)
        self._backend = backend
        self._lock = lock
        self._timeout = timeout
        self._owns_backend = owns_backend
        caller = ContractCaller(backend.web3, account, lock, timeout=timeout)
        self.addresses = addresses
        self.chain_id = chain_id
        self.address: ChecksumAddress = account.address
        self.backend_kind = backend.kind
        self.token = TokenClient(caller, addresses.token)
        self.quorum = QuorumClient(caller, addresses.quorum)
        self.distributor = DistributorClient(caller, addresses.distributor)
        self.bonds = BondsClient(caller, addresses.bonds, self.token)

    @property
    def backend(self) -> ChainBackend:
        """The chain the contracts live on (shared with the clients made from this one)."""
        return self._backend

    def as_account(self, secret_key: bytes) -> RewardsClient:
        """A client for the account of `secret_key` on the same chain, lock and contracts.

        The account gets gas money first when the chain can give some (development chains).
        Use `koinon.rewards.accounts.ethereum_secret` to turn a Nostr secret into its key.
        """
        other = RewardsClient(
            self._backend,
            self.addresses,
            secret_key,
            chain_id=self.chain_id,
            lock=self._lock,
            timeout=self._timeout,
        )
        with self._lock:
            self._backend.ensure_funds(other.address)
        return other

    def close(self) -> None:
        """Release the chain if this client opened it."""
        if self._owns_backend:
            with self._lock:
                self._backend.close()

    def __enter__(self) -> RewardsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def rewards_beside(
    anchor: AnchorClient,
    secret_key: bytes,
    *,
    data_dir: Path | None,
    contracts: RewardsAddresses | None = None,
    deploy: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> RewardsClient:
    """A rewards client on the chain `anchor` already has open, sharing its lock.

    This is how a node that anchors also settles: one embedded chain, one lock, one nonce
    sequence for its key. Contracts are found as `connect_rewards` finds them.
    """
    with anchor.lock:
        anchor.backend.ensure_funds(operator_account(secret_key).address)
        addresses = resolve_rewards(
            anchor.backend.web3,
            operator_account(secret_key),
            data_dir=data_dir,
            contracts=contracts,
            deploy=deploy,
            timeout=timeout,
        )
    return RewardsClient(
        anchor.backend,
        addresses,
        secret_key,
        chain_id=anchor.chain_id,
        lock=anchor.lock,
        timeout=timeout,
    )


def connect_rewards(
    data_dir: Path | None,
    rpc_url: str | None,
    secret_key: bytes,
    *,
    contracts: RewardsAddresses | None = None,
    deploy: bool = True,
    clock: Callable[[], float] = time.time,
    timeout: float = DEFAULT_TIMEOUT,
) -> RewardsClient:
    """Open the chain (embedded in `data_dir`, or the node at `rpc_url`) and its rewards contracts.

    The contracts are `contracts` if given, else those remembered in `data_dir` for the chain,
    else (with `deploy`) a new deployment owned by `secret_key`'s account, which then is the
    quorum's only operator. Without `deploy`, finding none raises `ChainError`.
    """
    account = operator_account(secret_key)
    backend: ChainBackend = (
        RpcChain(rpc_url, timeout) if rpc_url is not None else EmbeddedChain(data_dir, clock)
    )
    try:
        backend.ensure_funds(account.address)
        addresses = resolve_rewards(
            backend.web3,
            account,
            data_dir=data_dir,
            contracts=contracts,
            deploy=deploy,
            timeout=timeout,
        )
        with translated("read chain id"):
            chain_id = backend.web3.eth.chain_id
    except BaseException:
        backend.close()
        raise
    return RewardsClient(
        backend,
        addresses,
        secret_key,
        chain_id=chain_id,
        lock=threading.Lock(),
        timeout=timeout,
        owns_backend=True,
    )
