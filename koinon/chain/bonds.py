"""`BondsClient`: bonding KOIN on a claim in StakeBonds, and settling bonds with tree proofs.

`bond` approves StakeBonds for the amount when the allowance falls short, then bonds, under one
lock so nothing slips in between. `settle` may be sent by anyone once the epoch whose settlement
tree holds the bond leaf is final: the slashed part is burned, the rest returned to the owner.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_typing import ChecksumAddress

from koinon.chain.calls import CallReceipt, ContractCaller, check_hash, check_uint, to_address
from koinon.chain.distributor import check_proof
from koinon.chain.errors import translated
from koinon.chain.token import TokenClient
from koinon.rewards.tree import BondLeaf

BONDS = "StakeBonds"
# Fixed gas limits, measured on py-evm and anvil (docs/chain.md, "Rewards contracts"):
BOND_GAS = 150_000  # measured: 81,569 – 81,629 new bond, 47,369 – 47,429 added (approval apart)
# settle, proof of 2: 68,003 all burned, 68,303 – 73,103 all returned, 80,701 – 80,771 split;
# ~756 a level
SETTLE_BASE_GAS = 150_000
SETTLE_GAS_PER_LEVEL = 1_500


def settle_gas(proof_length: int) -> int:
    """The gas limit for a settlement whose proof has `proof_length` hashes."""
    return SETTLE_BASE_GAS + SETTLE_GAS_PER_LEVEL * proof_length


class BondsClient:
    """StakeBonds at `address`, as `caller`'s account uses it; `token` is KOIN for approvals."""

    def __init__(
        self, caller: ContractCaller, address: ChecksumAddress, token: TokenClient
    ) -> None:
        self._caller = caller
        self._bonds = caller.contract(BONDS, address)
        self._token = token
        self.address = address

    def bond(self, event_id: bytes, amount: int) -> CallReceipt:
        """Add `amount` of this account's KOIN to its bond on `event_id` (approving as needed).

        Returns the bond transaction; raises `RewardsRejected` with "zero bond", "bond settled"
        (this bond was settled before) or "insufficient balance".
        """
        check_hash("event id", event_id)
        check_uint("amount", amount)
        with self._caller.lock:
            if self._token.allowance_locked(self.address) < amount:
                self._token.approve_locked(self.address, amount)
            return self._caller.transact(
                self._bonds, "bond", [event_id, amount], gas=BOND_GAS, action="bond"
            )

    def settle(self, leaf: BondLeaf, proof: Sequence[bytes]) -> CallReceipt:
        """Settle `leaf.owner`'s bond on `leaf.event_id` as the epoch's finalized tree says.

        Raises `RewardsRejected` with "epoch not finalized", "already settled", "no bond" or
        "bad proof".
        """
        siblings = check_proof(proof)
        args = [leaf.epoch, leaf.event_id, to_address(leaf.owner), leaf.slashed, siblings]
        with self._caller.lock:
            return self._caller.transact(
                self._bonds, "settle", args, gas=settle_gas(len(siblings)), action="settle"
            )

    def bond_of(
        self, event_id: bytes, owner: str | bytes | None = None, *, block: int | None = None
    ) -> int:
        """KOIN `owner` (default: this account) holds in bond on `event_id`; 0 once settled.

        Read at block number `block` when given (a settlement pins its reading), else the newest.
        """
        check_hash("event id", event_id)
        address = self._caller.address if owner is None else to_address(owner)
        with self._caller.lock:
            if block is None:
                return int(self._caller.view(self._bonds, "bond_of", event_id, address))
            check_uint("block", block)
            return int(self._caller.view_at(block, self._bonds, "bond_of", event_id, address))

    def block_number(self) -> int:
        """The newest block's number (where a settlement pins its reading of the bonds)."""
        with self._caller.lock, translated("read block number"):
            return int(self._caller.w3.eth.block_number)

    def is_settled(self, event_id: bytes, owner: str | bytes | None = None) -> bool:
        """Whether the bond of `owner` (default: this account) on `event_id` was settled."""
        check_hash("event id", event_id)
        address = self._caller.address if owner is None else to_address(owner)
        with self._caller.lock:
            return bool(self._caller.view(self._bonds, "is_settled", event_id, address))

    def bond_leaf(self, leaf: BondLeaf) -> bytes:
        """The contract's own hash of `leaf` (to check an encoding against)."""
        args = (leaf.epoch, leaf.event_id, to_address(leaf.owner), leaf.slashed)
        with self._caller.lock:
            return bytes(self._caller.view(self._bonds, "bond_leaf", *args))
