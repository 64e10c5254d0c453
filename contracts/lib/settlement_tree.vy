#pragma version ==0.4.3
"""
@title settlement_tree
@notice The rewards settlement tree shared by RewardDistributor and StakeBonds; Python's
        koinon/rewards/tree.py builds the same tree (docs/protocol.md, "Rewards settlement tree").
@dev    payout leaf = keccak256(abi.encode(uint256 0, uint256 epoch, address account, uint256 amount))
        bond leaf   = keccak256(abi.encode(uint256 1, uint256 epoch, bytes32 event_id,
                                           address owner, uint256 slashed))
        inner node  = keccak256(min(a, b) ++ max(a, b)), comparing the hashes as uint256.
        Leaves are sorted and deduplicated and an unpaired last node is promoted unchanged, so a
        proof lists one sibling per level the leaf was paired at, bottom up, and needs no
        left/right flags. The type tag keeps payouts and bonds apart; leaves hash 128 or 160 bytes
        and inner nodes 64, so an inner node can never pass for a leaf.
"""

PAYOUT: constant(uint256) = 0
BOND: constant(uint256) = 1
# 64 levels hold 2**64 leaves: far more than any epoch will pay.
MAX_DEPTH: constant(uint256) = 64


@pure
@internal
def payout_leaf(epoch: uint256, account: address, amount: uint256) -> bytes32:
    return keccak256(abi_encode(PAYOUT, epoch, account, amount))


@pure
@internal
def bond_leaf(epoch: uint256, event_id: bytes32, owner: address, slashed: uint256) -> bytes32:
    return keccak256(abi_encode(BOND, epoch, event_id, owner, slashed))


@pure
@internal
def verify(leaf: bytes32, proof: DynArray[bytes32, MAX_DEPTH], root: bytes32) -> bool:
    # The empty tree's root (all zeros) is never a valid root: nothing hashes to it.
    node: bytes32 = leaf
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(concat(node, sibling))
        else:
            node = keccak256(concat(sibling, node))
    return root != empty(bytes32) and node == root
