"""RewardDistributor through the client: claims proven with koinon.rewards.tree, and refusals."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from koinon.chain import RewardsClient
from koinon.rewards.tree import BondLeaf, Leaf, PayoutLeaf, SettlementTree
from tests.chain.rewards_support import KOIN, event_id, raw, rejected, settle_epoch, user

EPOCH = 3


@pytest.fixture
def accounts(rewards: RewardsClient) -> list[RewardsClient]:
    return [user(rewards, name) for name in ("alice", "bob", "carol")]


@pytest.fixture
def payouts(accounts: list[RewardsClient]) -> list[PayoutLeaf]:
    amounts = (5 * KOIN, 2 * KOIN, 1)
    return [
        PayoutLeaf(EPOCH, raw(account.address), amount)
        for account, amount in zip(accounts, amounts, strict=True)
    ]


@pytest.fixture
def tree(rewards: RewardsClient, payouts: list[PayoutLeaf]) -> SettlementTree:
    bond = BondLeaf(EPOCH, event_id("post"), payouts[0].account, 3)
    return settle_epoch(rewards, EPOCH, [*payouts, bond])


def test_contract_and_python_agree_on_leaves_and_proofs(rewards: RewardsClient) -> None:
    owner = raw(rewards.address)
    for size in (1, 2, 3, 5, 8):
        leaves: list[Leaf] = [PayoutLeaf(size, bytes([i]) * 20, 10**i) for i in range(size - 1)]
        leaves.append(BondLeaf(size, event_id(str(size)), owner, 2**256 - 1))
        tree = SettlementTree.of(leaves)
        for leaf in leaves:
            if isinstance(leaf, PayoutLeaf):
                assert rewards.distributor.payout_leaf(leaf) == leaf.hash()
            else:
                assert rewards.bonds.bond_leaf(leaf) == leaf.hash()
            proof = tree.proof(leaf)
            assert rewards.distributor.verify(leaf.hash(), proof, tree.root)
            assert not rewards.distributor.verify(leaf.hash(), proof, bytes(32))
            if proof:
                assert not rewards.distributor.verify(leaf.hash(), proof[:-1], tree.root)


def test_claim_mints_the_payout(
    rewards: RewardsClient, tree: SettlementTree, payouts: list[PayoutLeaf]
) -> None:
    alice = payouts[0]
    rewards.distributor.claim(alice, tree.proof(alice))

    assert rewards.token.balance_of(alice.account) == 5 * KOIN
    assert rewards.token.total_supply() == 5 * KOIN
    assert rewards.distributor.is_claimed(EPOCH, alice.account)
    assert not rewards.distributor.is_claimed(EPOCH, payouts[1].account)
    assert rewards.distributor.claimed_total(EPOCH) == 5 * KOIN


def test_anyone_may_send_the_claim(
    accounts: list[RewardsClient], tree: SettlementTree, payouts: list[PayoutLeaf]
) -> None:
    bob = accounts[1]
    bob.distributor.claim(payouts[0], tree.proof(payouts[0]))  # bob pays the gas for alice
    assert bob.token.balance_of(accounts[0].address) == 5 * KOIN
    assert bob.token.balance_of() == 0


def test_every_payout_is_claimed_once(
    rewards: RewardsClient, tree: SettlementTree, payouts: list[PayoutLeaf]
) -> None:
    for payout in payouts:
        rewards.distributor.claim(payout, tree.proof(payout))
    for payout in payouts:
        with rejected("already claimed"):
            rewards.distributor.claim(payout, tree.proof(payout))

    assert rewards.distributor.claimed_total(EPOCH) == sum(p.amount for p in payouts)
    assert rewards.token.total_supply() == sum(p.amount for p in payouts)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 5 * KOIN + 1},
        {"amount": 0},
        {"account": b"\x99" * 20},
        {"epoch": EPOCH + 1},
    ],
    ids=["larger amount", "smaller amount", "other account", "other epoch"],
)
def test_an_altered_payout_is_refused(
    rewards: RewardsClient,
    tree: SettlementTree,
    payouts: list[PayoutLeaf],
    change: dict[str, Any],
) -> None:
    settle_epoch(rewards, EPOCH + 1, [PayoutLeaf(EPOCH + 1, b"\x01" * 20, 1)])
    forged = dataclasses.replace(payouts[0], **change)

    with rejected("bad proof"):
        rewards.distributor.claim(forged, tree.proof(payouts[0]))
    assert rewards.token.total_supply() == 0


def test_a_tampered_or_borrowed_proof_is_refused(
    rewards: RewardsClient, tree: SettlementTree, payouts: list[PayoutLeaf]
) -> None:
    alice = payouts[0]
    proof = list(tree.proof(alice))
    tampered = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]

    for forged in (tampered, proof[:-1], [*proof, proof[0]], tree.proof(payouts[1]), []):
        with rejected("bad proof"):
            rewards.distributor.claim(alice, forged)
    assert not rewards.distributor.is_claimed(EPOCH, alice.account)


def test_a_bond_leaf_is_no_payout(rewards: RewardsClient, tree: SettlementTree) -> None:
    bond = BondLeaf(EPOCH, event_id("post"), raw(user(rewards, "alice").address), 3)
    as_payout = PayoutLeaf(EPOCH, bond.owner, bond.slashed)
    with rejected("bad proof"):
        rewards.distributor.claim(as_payout, tree.proof(bond))


def test_an_unfinalized_epoch_pays_nothing(
    rewards: RewardsClient, payouts: list[PayoutLeaf]
) -> None:
    tree = SettlementTree.of(payouts)
    with rejected("epoch not finalized"):  # nothing submitted
        rewards.distributor.claim(payouts[0], tree.proof(payouts[0]))

    other = user(rewards, "second operator")
    rewards.quorum.add_operator(other.address)
    rewards.quorum.set_threshold(2)
    assert not rewards.quorum.submit_root(EPOCH, tree.root, 10 * KOIN).finalized
    with rejected("epoch not finalized"):  # submitted, still pending
        rewards.distributor.claim(payouts[0], tree.proof(payouts[0]))


def test_an_epoch_never_pays_more_than_its_total(
    rewards: RewardsClient, payouts: list[PayoutLeaf]
) -> None:
    # Leaves summing to 7 KOIN + 1 under a finalized total of 6 KOIN: whoever claims last loses.
    tree = settle_epoch(rewards, EPOCH, payouts, total=6 * KOIN)
    alice, bob, carol = payouts

    rewards.distributor.claim(alice, tree.proof(alice))
    with rejected("over total"):
        rewards.distributor.claim(bob, tree.proof(bob))
    rewards.distributor.claim(carol, tree.proof(carol))

    assert rewards.distributor.claimed_total(EPOCH) == 5 * KOIN + 1 <= 6 * KOIN
    assert rewards.token.total_supply() == 5 * KOIN + 1
    assert not rewards.distributor.is_claimed(EPOCH, bob.account)


def test_a_single_leaf_epoch_claims_with_an_empty_proof(rewards: RewardsClient) -> None:
    only = PayoutLeaf(1, raw(rewards.address), 42)
    tree = settle_epoch(rewards, 1, [only])
    assert tree.proof(only) == ()
    rewards.distributor.claim(only, ())
    assert rewards.token.balance_of() == 42


def test_malformed_claims_never_reach_the_chain(
    rewards: RewardsClient, payouts: list[PayoutLeaf]
) -> None:
    for proof in ([b"short"], [bytes(32)] * 65):
        with pytest.raises(ValueError):
            rewards.distributor.claim(payouts[0], proof)
