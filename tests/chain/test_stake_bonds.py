"""StakeBonds through the client: bond, settle with a slash or a release, and refusals."""

from __future__ import annotations

import pytest

from koinon.chain import ChainError, RewardsClient
from koinon.chain.artifacts import load_artifact
from koinon.chain.reader import read_bonds
from koinon.rewards.tree import BondLeaf, PayoutLeaf
from tests.chain.conftest import ChainTarget
from tests.chain.rewards_support import (
    KOIN,
    account_key,
    caller_for,
    event_id,
    pay,
    raw,
    rejected,
    settle_epoch,
    user,
)

POST = event_id("a factual post")


@pytest.fixture
def author(rewards: RewardsClient) -> RewardsClient:
    """An author holding 50 KOIN."""
    holder = user(rewards, "author")
    pay(rewards, 1, {holder.address: 50 * KOIN})
    return holder


def bonded(rewards: RewardsClient) -> int:
    """KOIN held by the bonds contract."""
    return rewards.token.balance_of(rewards.addresses.bonds)


def test_bond_pulls_the_tokens(author: RewardsClient) -> None:
    author.bonds.bond(POST, 10 * KOIN)

    assert author.bonds.bond_of(POST) == 10 * KOIN
    assert author.token.balance_of() == 40 * KOIN
    assert bonded(author) == 10 * KOIN
    assert author.token.allowance(author.address, author.addresses.bonds) == 0

    author.bonds.bond(POST, 5 * KOIN)  # adds to the same bond
    author.bonds.bond(event_id("another post"), KOIN)
    assert author.bonds.bond_of(POST) == 15 * KOIN
    assert author.bonds.bond_of(event_id("another post")) == KOIN
    assert author.token.total_supply() == 50 * KOIN


def test_bond_needs_the_tokens(author: RewardsClient) -> None:
    with rejected("insufficient balance"):
        author.bonds.bond(POST, 50 * KOIN + 1)
    with rejected("zero bond"):
        author.bonds.bond(POST, 0)
    assert author.bonds.bond_of(POST) == 0


def test_the_contract_pulls_only_what_was_approved(
    rewards: RewardsClient, author: RewardsClient
) -> None:
    # The client approves before bonding; a bare call without approval is refused by the token.
    bonds = rewards.backend.web3.eth.contract(
        address=rewards.addresses.bonds, abi=load_artifact("StakeBonds").abi
    )
    caller = caller_for(rewards, account_key(rewards, "author"))
    with rejected("insufficient allowance"):
        caller.transact(bonds, "bond", [POST, KOIN], gas=150_000, action="bond")


def test_settle_burns_the_slash_and_returns_the_rest(
    rewards: RewardsClient, author: RewardsClient
) -> None:
    author.bonds.bond(POST, 10 * KOIN)
    leaf = BondLeaf(2, POST, raw(author.address), 4 * KOIN)
    tree = settle_epoch(rewards, 2, [leaf, PayoutLeaf(2, b"\x01" * 20, 1)])

    rewards.bonds.settle(leaf, tree.proof(leaf))  # anyone may settle: here the operator

    assert author.token.balance_of() == 46 * KOIN
    assert author.token.total_supply() == 46 * KOIN  # 4 burned
    assert author.bonds.bond_of(POST) == 0
    assert bonded(author) == 0
    assert author.bonds.is_settled(POST)


def test_settle_without_slash_releases_the_bond(
    rewards: RewardsClient, author: RewardsClient
) -> None:
    author.bonds.bond(POST, 10 * KOIN)
    leaf = BondLeaf(2, POST, raw(author.address), 0)
    tree = settle_epoch(rewards, 2, [leaf])

    author.bonds.settle(leaf, tree.proof(leaf))

    assert author.token.balance_of() == 50 * KOIN
    assert author.token.total_supply() == 50 * KOIN
    assert author.bonds.bond_of(POST) == 0


def test_a_slash_above_the_bond_burns_only_the_bond(
    rewards: RewardsClient, author: RewardsClient
) -> None:
    author.bonds.bond(POST, 10 * KOIN)
    leaf = BondLeaf(2, POST, raw(author.address), 25 * KOIN)
    tree = settle_epoch(rewards, 2, [leaf])

    rewards.bonds.settle(leaf, tree.proof(leaf))

    assert author.token.balance_of() == 40 * KOIN
    assert author.token.total_supply() == 40 * KOIN


def test_a_bond_settles_once(rewards: RewardsClient, author: RewardsClient) -> None:
    author.bonds.bond(POST, 10 * KOIN)
    leaf = BondLeaf(2, POST, raw(author.address), KOIN)
    tree = settle_epoch(rewards, 2, [leaf])
    rewards.bonds.settle(leaf, tree.proof(leaf))

    with rejected("already settled"):
        rewards.bonds.settle(leaf, tree.proof(leaf))
    # Bonding again would let the old proof be replayed, so it is refused.
    with rejected("bond settled"):
        author.bonds.bond(POST, KOIN)
    assert author.token.balance_of() == 49 * KOIN


def test_forged_settlements_are_refused(rewards: RewardsClient, author: RewardsClient) -> None:
    author.bonds.bond(POST, 10 * KOIN)
    leaf = BondLeaf(2, POST, raw(author.address), 10 * KOIN)
    other = BondLeaf(2, event_id("other"), raw(author.address), 0)
    tree = settle_epoch(rewards, 2, [leaf, other, PayoutLeaf(2, raw(author.address), 0)])
    proof = tree.proof(leaf)

    forgeries = [
        (BondLeaf(2, POST, raw(author.address), 0), proof),  # the author pretends no slash
        (BondLeaf(2, POST, raw(author.address), 0), tree.proof(other)),
        (leaf, [bytes(32), *proof[1:]]),
    ]
    for forged, forged_proof in forgeries:
        with rejected("bad proof"):
            author.bonds.settle(forged, forged_proof)
    assert author.bonds.bond_of(POST) == 10 * KOIN


def test_settle_needs_a_final_epoch_and_a_bond(
    rewards: RewardsClient, author: RewardsClient
) -> None:
    author.bonds.bond(POST, 10 * KOIN)
    leaf = BondLeaf(2, POST, raw(author.address), KOIN)
    with rejected("epoch not finalized"):
        rewards.bonds.settle(leaf, [])

    nobody = BondLeaf(2, POST, b"\x07" * 20, 0)
    tree = settle_epoch(rewards, 2, [leaf, nobody])
    with rejected("no bond"):
        rewards.bonds.settle(nobody, tree.proof(nobody))


def test_malformed_bonds_never_reach_the_chain(author: RewardsClient) -> None:
    with pytest.raises(ValueError):
        author.bonds.bond(b"short", 1)
    with pytest.raises(ValueError):
        author.bonds.bond(POST, -1)


def test_bonds_are_read_at_a_pinned_block(
    chain: ChainTarget, rewards: RewardsClient, author: RewardsClient
) -> None:
    """A settlement pins its reading of the bonds to a block; any later reader of that block,
    through the client or over JSON-RPC, sees the same amounts whatever happened since."""
    author.bonds.bond(POST, 10 * KOIN)
    pinned = rewards.bonds.block_number()
    author.bonds.bond(POST, 5 * KOIN)
    leaf = BondLeaf(2, POST, raw(author.address), 0)
    tree = settle_epoch(rewards, 2, [leaf])
    rewards.bonds.settle(leaf, tree.proof(leaf))

    owner = raw(author.address)
    assert rewards.bonds.bond_of(POST, owner) == 0  # settled since
    assert rewards.bonds.bond_of(POST, owner, block=pinned) == 10 * KOIN
    assert rewards.bonds.bond_of(POST, owner, block=pinned - 1) == 0  # before the bond
    assert rewards.bonds.block_number() > pinned
    if chain.rpc_url is not None:  # the embedded chain is read over JSON-RPC through a node
        keys = [(POST, owner), (event_id("never bonded"), owner)]
        assert read_bonds(chain.rpc_url, rewards.addresses.bonds, keys, pinned) == [10 * KOIN, 0]
        with pytest.raises(ChainError, match="not on this chain yet"):
            read_bonds(chain.rpc_url, rewards.addresses.bonds, keys, pinned + 10**6)
