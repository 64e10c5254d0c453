"""The embedded chain: a real EVM in process (py-evm through eth-tester) persisted in SQLite.

eth-tester builds its py-evm chain on an in-memory database and offers no option for another
one, so `_PersistentBackend` swaps the chain for one of the same class over `SqliteKeyValue`
and commits that file after every mined block. eth-tester mines one block per transaction, so
each transaction is durable once `send_raw_transaction` returns; a restart reopens the chain at
its head with blocks, code, storage, balances and nonces as they were.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth.db.atomic import AtomicDB
from eth.db.header import HeaderDB
from eth.exceptions import CanonicalHeadNotFound
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import generate_genesis_state_for_keys
from eth_typing import ChecksumAddress
from web3 import EthereumTesterProvider, Web3
from web3.types import Wei

from koinon.chain.errors import ChainError, translated
from koinon.chain.kvstore import MEMORY, SqliteKeyValue
from koinon.chain.transactions import transfer

DATABASE_FILE = "evm.sqlite3"
ETHER = 10**18
# Keep the operator above MIN_BALANCE; an anchor costs well under 0.001 ether here.
MIN_BALANCE = Wei(10 * ETHER)
TOP_UP = Wei(1_000 * ETHER)
TIMEOUT = 10.0


class _PersistentBackend(PyEVMBackend):  # type: ignore[misc]
    """eth-tester's py-evm backend with its chain on disk and honest block timestamps."""

    chain: Any  # a py-evm MiningChain; eth-tester is untyped

    def __init__(self, store: SqliteKeyValue, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        super().__init__()  # a throwaway in-memory chain; gives the chain class and the keys
        self.chain = self._open_chain(type(self.chain))
        store.commit()

    def _open_chain(self, chain_class: Any) -> Any:
        base_db = AtomicDB(self._store)
        try:
            HeaderDB(base_db).get_canonical_head()
        except CanonicalHeadNotFound:
            params = self.generate_genesis_params(overrides={"timestamp": int(self._clock())})
            state = generate_genesis_state_for_keys(self.account_keys)
            return chain_class.from_genesis(base_db, params, state)
        return chain_class(base_db)

    def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
        """Apply a transaction to a pending block stamped now (not when its parent was mined)."""
        chain = self.chain
        if not chain.get_block().transactions:
            parent_time = chain.get_canonical_head().timestamp
            chain.set_header_timestamp(max(int(self._clock()), parent_time + 1))
        tx_hash: bytes = super().send_raw_transaction(raw_transaction)
        return tx_hash

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\0" * 20) -> tuple[bytes, ...]:
        """Mine, then make the new blocks durable."""
        hashes: tuple[bytes, ...] = super().mine_blocks(num_blocks, coinbase)
        self._store.commit()
        return hashes


class EmbeddedChain:
    """A py-evm chain in this process; persisted under `data_dir`, or in memory without one."""

    kind = "embedded"

    def __init__(self, data_dir: Path | None, clock: Callable[[], float]) -> None:
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        path = MEMORY if data_dir is None else data_dir / DATABASE_FILE
        try:
            self._store = SqliteKeyValue(path)
        except sqlite3.OperationalError as exc:
            raise ChainError(f"cannot open the embedded chain {path} (in use?): {exc}") from exc
        try:
            with translated("open the embedded chain"):
                backend = _PersistentBackend(self._store, clock)
        except BaseException:
            self._store.close()
            raise
        self.web3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
        # eth-tester's first pre-funded account pays for the operator's gas.
        self._funder: LocalAccount = Account.from_key(backend.account_keys[0].to_bytes())

    def ensure_funds(self, address: ChecksumAddress) -> None:
        """Top `address` up from the pre-funded account when it runs low."""
        with translated("fund the operator"):
            if self.web3.eth.get_balance(address) < MIN_BALANCE:
                transfer(self.web3, self._funder, address, TOP_UP, timeout=TIMEOUT)

    def close(self) -> None:
        """Close the database file; blocks mined so far are already committed."""
        self._store.close()
