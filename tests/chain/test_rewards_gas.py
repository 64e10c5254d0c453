"""Gas of every rewards call stays at the figures written next to the gas limits (docs/chain.md).

Figures vary by a few dozen gas with the zero bytes of addresses in calldata; a change to a
contract that moves them by more should update the comments and the docs.
"""

from __future__ import annotations

from koinon.chain import CallReceipt, RewardsClient
from koinon.chain.bonds import BOND_GAS, settle_gas
from koinon.chain.distributor import claim_gas
from koinon.chain.quorum import OPERATOR_GAS, SUBMIT_GAS, THRESHOLD_GAS
from koinon.chain.token import APPROVE_GAS, BURN_GAS, TRANSFER_FROM_GAS, TRANSFER_GAS
from koinon.rewards.tree import BondLeaf, PayoutLeaf, SettlementTree
from tests.chain.rewards_support import KOIN, event_id, raw, user
from tests.chain.support import root_of

SLACK = 100


def near(receipt: CallReceipt | None, measured: int, limit: int) -> bool:
    assert receipt is not None
    return abs(receipt.gas_used - measured) <= SLACK and receipt.gas_used < limit


def test_gas_of_each_call(rewards: RewardsClient) -> None:
    alice, bob = user(rewards, "alice"), user(rewards, "bob")
    epoch = 1
    others = [PayoutLeaf(epoch, bytes([i + 1]) * 20, 1) for i in range(255)]
    mine = PayoutLeaf(epoch, raw(alice.address), 100 * KOIN)
    second = others[0]
    tree = SettlementTree.of([mine, *others])
    quorum = rewards.quorum
    submission = quorum.submit_root(epoch, tree.root, 100 * KOIN + 255)
    assert near(submission.receipt, 142_702, SUBMIT_GAS)

    proof = tree.proof(mine)
    assert len(proof) == 8
    # The first claim of an epoch starts its running total; the very first mint, the supply.
    first = rewards.distributor.claim(mine, proof)
    assert near(first, 134_253, claim_gas(8))
    assert near(rewards.distributor.claim(second, tree.proof(second)), 100_003, claim_gas(8))

    token = alice.token
    assert near(token.transfer(bob.address, KOIN), 51_145, TRANSFER_GAS)
    assert near(token.transfer(bob.address, KOIN), 34_045, TRANSFER_GAS)
    assert near(token.approve(bob.address, 3 * KOIN), 45_847, APPROVE_GAS)
    assert near(token.approve(bob.address, 2 * KOIN), 28_747, APPROVE_GAS)
    assert near(
        bob.token.transfer_from(alice.address, bob.address, KOIN), 39_777, TRANSFER_FROM_GAS
    )
    assert near(bob.token.burn(KOIN), 33_357, BURN_GAS)

    post = event_id("post")
    bond = alice.bonds.bond(post, 10 * KOIN)  # approves first, then bonds
    assert near(bond, 81_629, BOND_GAS)
    assert near(alice.bonds.bond(post, KOIN), 47_429, BOND_GAS)
    alice.bonds.bond(event_id("other"), KOIN)
    slash = BondLeaf(2, post, raw(alice.address), 4 * KOIN)
    release = BondLeaf(2, event_id("other"), raw(alice.address), 0)
    padding = [PayoutLeaf(2, bytes([i]) * 20, 0) for i in range(2)]
    bonds_tree = SettlementTree.of([slash, release, *padding])
    quorum.submit_root(2, bonds_tree.root, 0)
    assert len(bonds_tree.proof(slash)) == len(bonds_tree.proof(release)) == 2
    assert near(bob.bonds.settle(slash, bonds_tree.proof(slash)), 80_761, settle_gas(2))
    # The release empties the contract's balance (a storage refund).
    assert near(bob.bonds.settle(release, bonds_tree.proof(release)), 68_313, settle_gas(2))

    assert near(quorum.add_operator(alice.address), 74_398, OPERATOR_GAS)
    assert near(quorum.set_threshold(2), 31_660, THRESHOLD_GAS)
    assert near(alice.quorum.submit_root(3, root_of("x"), 1).receipt, 98_764, SUBMIT_GAS)
    assert near(quorum.submit_root(3, root_of("x"), 1).receipt, 129_900, SUBMIT_GAS)
    quorum.set_threshold(1)
    assert near(quorum.remove_operator(alice.address), 37_673, OPERATOR_GAS)
