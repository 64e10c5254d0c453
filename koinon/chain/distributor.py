"""`DistributorClient`: claiming payouts from the RewardDistributor with settlement-tree proofs.

Anyone may send a claim; the KOIN is minted to the account the payout leaf names, so a node can
pay the gas for its users. Refusals ("epoch not finalized", "already claimed", "bad proof",
"over total") raise `RewardsRejected` before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_typing import ChecksumAddress

from koinon.chain.calls import CallReceipt, ContractCaller, check_hash, check_uint, to_address
from koinon.rewards.tree import MAX_DEPTH, PayoutLeaf

DISTRIBUTOR = "RewardDistributor"
# Fixed gas limits, measured on py-evm and anvil (docs/chain.md, "Rewards contracts"): a claim
# costs a base plus one keccak and one calldata word per proof level. Measured: 94,731 – 100,025
# for a later claim of an epoch (proofs of 1 – 8 hashes), 111,054 – 117,099 for its first (which
# starts the epoch's running total), 134,253 – 136,455 for the first mint ever (which starts the
# token's supply; proofs of 8 – 11); ~756 a level.
CLAIM_BASE_GAS = 200_000
CLAIM_GAS_PER_LEVEL = 1_500


def claim_gas(proof_length: int) -> int:
    """The gas limit for a claim whose proof has `proof_length` hashes."""
    return CLAIM_BASE_GAS + CLAIM_GAS_PER_LEVEL * proof_length


def check_proof(proof: Sequence[bytes]) -> list[bytes]:
    """The proof as a list of 32-byte hashes; `ValueError` for a malformed one."""
    if len(proof) > MAX_DEPTH:
        raise ValueError(f"a proof has at most {MAX_DEPTH} hashes")
    for sibling in proof:
        check_hash("a proof hash", sibling)
    return list(proof)


class DistributorClient:
    """The RewardDistributor at `address`, as `caller`'s account uses it."""

    def __init__(self, caller: ContractCaller, address: ChecksumAddress) -> None:
        self._caller = caller
        self._distributor = caller.contract(DISTRIBUTOR, address)
        self.address = address

    def claim(self, payout: PayoutLeaf, proof: Sequence[bytes]) -> CallReceipt:
        """Mint `payout.amount` KOIN to `payout.account`, proven by `proof` (from the tree)."""
        siblings = check_proof(proof)
        args = [payout.epoch, to_address(payout.account), payout.amount, siblings]
        with self._caller.lock:
            return self._caller.transact(
                self._distributor, "claim", args, gas=claim_gas(len(siblings)), action="claim"
            )

    def is_claimed(self, epoch: int, account: str | bytes) -> bool:
        """Whether `account` has been paid for `epoch`."""
        check_uint("epoch", epoch)
        with self._caller.lock:
            return bool(self._caller.view(self._distributor, "claimed", epoch, to_address(account)))

    def claimed_total(self, epoch: int) -> int:
        """KOIN paid out for `epoch` so far (never more than its finalized total)."""
        check_uint("epoch", epoch)
        with self._caller.lock:
            return int(self._caller.view(self._distributor, "claimed_total", epoch))

    def payout_leaf(self, payout: PayoutLeaf) -> bytes:
        """The contract's own hash of `payout` (to check an encoding against)."""
        args = (payout.epoch, to_address(payout.account), payout.amount)
        with self._caller.lock:
            return bytes(self._caller.view(self._distributor, "payout_leaf", *args))

    def verify(self, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
        """The contract's own verdict on `proof` linking `leaf` to `root`."""
        check_hash("leaf", leaf)
        check_hash("root", root)
        siblings = check_proof(proof)
        with self._caller.lock:
            return bool(self._caller.view(self._distributor, "verify", leaf, siblings, root))
