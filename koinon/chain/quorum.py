"""`QuorumClient`: the OperatorQuorum that finalizes one settlement root per rewards epoch.

An operator submits (root, total) for an epoch; the epoch is final once `threshold` current
operators submitted the same pair. Submitting is idempotent from this client's side: a pair this
operator already submitted, or one already final, is not sent again (a restarted node settles its
last epoch twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_hash.auto import keccak
from eth_typing import ChecksumAddress

from koinon.chain.calls import CallReceipt, ContractCaller, check_hash, check_uint, to_address

QUORUM = "OperatorQuorum"
MAX_OPERATORS = 32
# Fixed gas limits, measured on py-evm and anvil (docs/chain.md, "Rewards contracts"):
# submit: 142,630 – 142,702 when 1 of 1 finalizes; 98,764 for a first pending submission; each
# earlier backer adds ~4,200 (read and check it), up to 261,360 for the 32nd of 32 operators and
# 348,614 for the worst case, pruning 32 recorded backers after operator churn.
SUBMIT_GAS = 500_000
FINALIZE_GAS = 300_000  # measured: 77,176 with one backer, 204,254 with 30
OPERATOR_GAS = 100_000  # measured: add 74,398, remove 37,673 – 40,002
THRESHOLD_GAS = 50_000  # measured: 31,660
OWNER_GAS = 50_000  # measured: 24,960 – 24,972


@dataclass(frozen=True)
class FinalizedRoot:
    """The settlement the quorum finalized for `epoch`: its tree root and its payout total."""

    epoch: int
    root: bytes
    total: int


@dataclass(frozen=True)
class RootSubmission:
    """What `submit_root` did: `receipt` is None when nothing had to be sent."""

    epoch: int
    root: bytes
    total: int
    finalized: bool
    receipt: CallReceipt | None


def pair_key(root: bytes, total: int) -> bytes:
    """keccak256(abi.encode(root, total)), how the quorum files a submission."""
    return keccak(root + total.to_bytes(32, "big"))


class QuorumClient:
    """The OperatorQuorum at `address`, as `caller`'s account uses it."""

    def __init__(self, caller: ContractCaller, address: ChecksumAddress) -> None:
        self._caller = caller
        self._quorum = caller.contract(QUORUM, address)
        self.address = address

    def submit_root(self, epoch: int, root: bytes, total: int) -> RootSubmission:
        """Submit (root, total) as this operator's settlement of `epoch`.

        Raises `RewardsRejected` with "not an operator", "already submitted" (a different pair),
        "epoch finalized" (with a different pair) or "zero root".
        """
        check_uint("epoch", epoch)
        check_hash("root", root)
        check_uint("total", total)
        caller = self._caller
        with caller.lock:
            final = self._finalized(epoch)
            if final is not None and (final.root, final.total) == (root, total):
                return RootSubmission(epoch, root, total, True, None)
            mine = bytes(caller.view(self._quorum, "submission_of", epoch, caller.address))
            if final is None and mine == pair_key(root, total):
                return RootSubmission(epoch, root, total, False, None)
            receipt = caller.transact(
                self._quorum, "submit", [epoch, root, total], gas=SUBMIT_GAS, action="submit"
            )
            finalized = bool(caller.view(self._quorum, "is_finalized", epoch))
        return RootSubmission(epoch, root, total, finalized, receipt)

    def finalize(self, epoch: int, root: bytes, total: int) -> CallReceipt:
        """Finalize a pair that reached the threshold through a change of operators."""
        check_uint("epoch", epoch)
        check_hash("root", root)
        check_uint("total", total)
        with self._caller.lock:
            return self._caller.transact(
                self._quorum, "finalize", [epoch, root, total], gas=FINALIZE_GAS, action="finalize"
            )

    def finalized(self, epoch: int) -> FinalizedRoot | None:
        """The finalized settlement of `epoch`, or None while there is none."""
        check_uint("epoch", epoch)
        with self._caller.lock:
            return self._finalized(epoch)

    def support(self, epoch: int, root: bytes, total: int) -> int:
        """How many current operators have submitted (root, total) for `epoch`."""
        check_uint("epoch", epoch)
        check_hash("root", root)
        check_uint("total", total)
        with self._caller.lock:
            return int(self._caller.view(self._quorum, "support", epoch, root, total))

    def has_submitted(self, epoch: int, operator: str | bytes | None = None) -> bool:
        """Whether `operator` (default: this account) has submitted for `epoch`."""
        address = self._caller.address if operator is None else to_address(operator)
        with self._caller.lock:
            return bool(self._caller.view(self._quorum, "has_submitted", epoch, address))

    def operators(self) -> tuple[ChecksumAddress, ...]:
        """The current operators, in no particular order."""
        with self._caller.lock:
            found = self._caller.view(self._quorum, "operators")
        return tuple(to_address(address) for address in found)

    def is_operator(self, address: str | bytes | None = None) -> bool:
        """Whether `address` (default: this account) is a current operator."""
        target = self._caller.address if address is None else to_address(address)
        with self._caller.lock:
            return bool(self._caller.view(self._quorum, "is_operator", target))

    def threshold(self) -> int:
        """M: how many matching submissions finalize an epoch."""
        with self._caller.lock:
            return int(self._caller.view(self._quorum, "threshold"))

    def owner(self) -> ChecksumAddress:
        """The account that manages operators and the threshold."""
        with self._caller.lock:
            return to_address(self._caller.view(self._quorum, "owner"))

    def add_operator(self, operator: str | bytes) -> CallReceipt:
        """Register `operator` (owner only)."""
        return self._owner_call("add_operator", to_address(operator), OPERATOR_GAS)

    def remove_operator(self, operator: str | bytes) -> CallReceipt:
        """Unregister `operator` (owner only; the threshold must stay within the operators)."""
        return self._owner_call("remove_operator", to_address(operator), OPERATOR_GAS)

    def set_threshold(self, threshold: int) -> CallReceipt:
        """Require `threshold` matching submissions, 1 ≤ threshold ≤ operators (owner only)."""
        check_uint("threshold", threshold)
        return self._owner_call("set_threshold", threshold, THRESHOLD_GAS)

    def set_owner(self, owner: str | bytes) -> CallReceipt:
        """Hand the operator set over to `owner` (owner only)."""
        return self._owner_call("set_owner", to_address(owner), OWNER_GAS)

    def _owner_call(self, function: str, argument: object, gas: int) -> CallReceipt:
        with self._caller.lock:
            return self._caller.transact(
                self._quorum, function, [argument], gas=gas, action=function.replace("_", " ")
            )

    def _finalized(self, epoch: int) -> FinalizedRoot | None:
        root, total = self._caller.view(self._quorum, "finalized", epoch)
        return None if bytes(root) == bytes(32) else FinalizedRoot(epoch, bytes(root), int(total))
