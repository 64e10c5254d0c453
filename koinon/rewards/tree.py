"""The rewards settlement tree: one Merkle root per epoch over its payouts and bond settlements.

The contracts (contracts/lib/settlement_tree.vy) check the same leaves and proofs, so every
byte here is fixed by docs/protocol.md ("Rewards settlement tree"):

* payout leaf = keccak256(abi.encode(uint256 0, uint256 epoch, address account, uint256 amount))
* bond leaf   = keccak256(abi.encode(uint256 1, uint256 epoch, bytes32 event_id, address owner,
  uint256 slashed))
* inner node  = keccak256(min(a, b) ‖ max(a, b)), the hashes compared as big-endian integers
* leaves are sorted by hash and deduplicated; pairs are taken left to right at each level and an
  unpaired last node is promoted unchanged; one leaf is its own root; no leaf gives 32 zero bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# eth_hash's automatic choice is pycryptodome (~15 us a hash here); safe-pysha3 takes ~2 us
from eth_hash.backends.pysha3 import keccak256 as keccak

from koinon.errors import invalid

PAYOUT_TAG = 0
BOND_TAG = 1
EMPTY_ROOT = bytes(32)
MAX_DEPTH = 64  # the contracts accept proofs of at most 64 hashes
_UINT256 = 2**256

Proof = tuple[bytes, ...]


def _word(value: int) -> bytes:
    """One ABI word: a uint256, big-endian."""
    return value.to_bytes(32, "big")


def _check_uint(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT256:
        raise invalid(f"{name} must be an integer in 0 … 2**256 - 1")


def _check_bytes(name: str, value: bytes, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise invalid(f"{name} must be {size} bytes")


@dataclass(frozen=True, slots=True)
class PayoutLeaf:
    """`amount` KOIN (in units of 10**-18) owed to Ethereum address `account` for `epoch`."""

    epoch: int
    account: bytes
    amount: int

    def __post_init__(self) -> None:
        _check_uint("epoch", self.epoch)
        _check_bytes("account", self.account, 20)
        _check_uint("amount", self.amount)

    def hash(self) -> bytes:
        """The leaf hash the RewardDistributor recomputes from a claim."""
        return payout_leaf(self.epoch, self.account, self.amount)


@dataclass(frozen=True, slots=True)
class BondLeaf:
    """`owner`'s bond on `event_id` is settled in `epoch`: `slashed` burned, the rest returned."""

    epoch: int
    event_id: bytes
    owner: bytes
    slashed: int

    def __post_init__(self) -> None:
        _check_uint("epoch", self.epoch)
        _check_bytes("event id", self.event_id, 32)
        _check_bytes("owner", self.owner, 20)
        _check_uint("slashed", self.slashed)

    def hash(self) -> bytes:
        """The leaf hash StakeBonds recomputes from a settlement."""
        return bond_leaf(self.epoch, self.event_id, self.owner, self.slashed)


Leaf = PayoutLeaf | BondLeaf


def payout_leaf(epoch: int, account: bytes, amount: int) -> bytes:
    """keccak256(abi.encode(uint256 0, uint256 epoch, address account, uint256 amount))."""
    return keccak(_word(PAYOUT_TAG) + _word(epoch) + bytes(12) + account + _word(amount))


def bond_leaf(epoch: int, event_id: bytes, owner: bytes, slashed: int) -> bytes:
    """keccak256(abi.encode(uint256 1, uint256 epoch, bytes32 event_id, address owner, ...))."""
    return keccak(_word(BOND_TAG) + _word(epoch) + event_id + bytes(12) + owner + _word(slashed))


def node_hash(a: bytes, b: bytes) -> bytes:
    """The parent of two nodes: keccak256 of the smaller hash, then the larger."""
    return keccak(a + b if a < b else b + a)


def _as_hash(leaf: Leaf | bytes) -> bytes:
    if isinstance(leaf, bytes):
        _check_bytes("leaf hash", leaf, 32)
        return leaf
    return leaf.hash()


@dataclass(frozen=True)
class SettlementTree:
    """Every level of the tree, bottom up, so that each leaf's proof is a few look-ups."""

    levels: tuple[tuple[bytes, ...], ...]
    _positions: dict[bytes, int] = field(repr=False, compare=False)

    @classmethod
    def of(cls, leaves: Iterable[Leaf | bytes]) -> SettlementTree:
        """The tree over `leaves` (leaf values or 32-byte leaf hashes), in any order."""
        level = tuple(sorted({_as_hash(leaf) for leaf in leaves}))
        levels = [level]
        while len(level) > 1:
            paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                paired.append(level[-1])
            level = tuple(paired)
            levels.append(level)
        positions = {leaf: index for index, leaf in enumerate(levels[0])}
        return cls(tuple(levels), positions)

    @property
    def root(self) -> bytes:
        """The settlement root; 32 zero bytes for no leaves."""
        return self.levels[-1][0] if self.levels[-1] else EMPTY_ROOT

    def __len__(self) -> int:
        return len(self.levels[0])

    def __contains__(self, leaf: object) -> bool:
        if isinstance(leaf, PayoutLeaf | BondLeaf):
            return leaf.hash() in self._positions
        return isinstance(leaf, bytes) and leaf in self._positions

    def proof(self, leaf: Leaf | bytes) -> Proof:
        """The siblings from `leaf` up to the root; raises `LeafNotInTree` for a stranger."""
        target = _as_hash(leaf)
        index = self._positions.get(target)
        if index is None:
            raise LeafNotInTree(f"leaf {target.hex()} is not in the tree")
        siblings = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):  # otherwise the node is promoted: no hash at this level
                siblings.append(level[sibling])
            index //= 2
        return tuple(siblings)


class LeafNotInTree(LookupError):
    """A proof was asked for a leaf the tree does not hold."""


def settlement_root(leaves: Iterable[Leaf | bytes]) -> bytes:
    """The root of the settlement tree over `leaves`."""
    return SettlementTree.of(leaves).root


def proof_for(leaves: Iterable[Leaf | bytes], leaf: Leaf | bytes) -> Proof:
    """The proof of `leaf` in the tree over `leaves` (build a `SettlementTree` for many)."""
    return SettlementTree.of(leaves).proof(leaf)


def verify_proof(leaf: Leaf | bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether `proof` links `leaf` to `root`, exactly as the contracts decide it."""
    if len(root) != 32 or root == EMPTY_ROOT or len(proof) > MAX_DEPTH:
        return False
    if any(not isinstance(sibling, bytes) or len(sibling) != 32 for sibling in proof):
        return False
    node = _as_hash(leaf)
    for sibling in proof:
        node = node_hash(node, sibling)
    return node == root
