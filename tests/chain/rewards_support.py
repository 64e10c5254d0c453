"""Helpers for the rewards contract tests: accounts, and epochs settled with given leaves."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

import pytest

from koinon.chain import RewardsClient, RewardsRejected
from koinon.chain.calls import ContractCaller
from koinon.chain.connection import operator_account
from koinon.rewards.tree import BondLeaf, PayoutLeaf, SettlementTree

KOIN = 10**18


def account_key(rewards: RewardsClient, label: str) -> bytes:
    """A secret key of its own for `label` in this test (tests share anvil)."""
    return hashlib.sha256(rewards.address.encode() + label.encode()).digest()


def user(rewards: RewardsClient, label: str) -> RewardsClient:
    """Another account (funded with gas) on the same contracts."""
    return rewards.as_account(account_key(rewards, label))


def caller_for(rewards: RewardsClient, secret_key: bytes) -> ContractCaller:
    """A bare caller for `secret_key`'s account, to send what the clients never would."""
    account = operator_account(secret_key)
    rewards.backend.ensure_funds(account.address)
    return ContractCaller(rewards.backend.web3, account, threading.Lock(), timeout=30)


def raw(address: str) -> bytes:
    """The 20 bytes of a hex address."""
    return bytes.fromhex(address[2:])


def event_id(label: str) -> bytes:
    """A 32-byte stand-in for a Nostr event id."""
    return hashlib.sha256(label.encode()).digest()


def settle_epoch(
    rewards: RewardsClient,
    epoch: int,
    leaves: Iterable[PayoutLeaf | BondLeaf],
    total: int | None = None,
) -> SettlementTree:
    """Finalize `epoch` on the quorum (1 of 1) with the tree over `leaves`; returns the tree.

    `total` defaults to the sum of the payouts.
    """
    leaf_list = list(leaves)
    tree = SettlementTree.of(leaf_list)
    if total is None:
        total = sum(leaf.amount for leaf in leaf_list if isinstance(leaf, PayoutLeaf))
    submission = rewards.quorum.submit_root(epoch, tree.root, total)
    assert submission.finalized
    return tree


def pay(rewards: RewardsClient, epoch: int, amounts: dict[str, int]) -> None:
    """Mint KOIN to the addresses in `amounts` by settling `epoch` and claiming every payout."""
    payouts = [PayoutLeaf(epoch, raw(address), amount) for address, amount in amounts.items()]
    tree = settle_epoch(rewards, epoch, payouts)
    for payout in payouts:
        rewards.distributor.claim(payout, tree.proof(payout))


def rejected(reason: str) -> pytest.RaisesExc[RewardsRejected]:
    """Expect the contract to refuse with exactly `reason`."""
    return pytest.raises(RewardsRejected, match=f"rejected: {reason}$")
