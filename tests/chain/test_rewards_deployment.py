"""Deploying, finding and sharing the rewards contracts; a restart keeps balances and claims."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from koinon.chain import (
    ChainError,
    RewardsAddresses,
    RewardsClient,
    connect,
    connect_rewards,
    rewards_beside,
)
from koinon.chain.rewards_deployment import REWARDS_FILE, is_rewards
from koinon.rewards.tree import PayoutLeaf
from tests.chain.conftest import ChainTarget
from tests.chain.rewards_support import account_key, raw, settle_epoch
from tests.chain.support import ManualClock, root_of


def test_a_deployment_is_wired_together(rewards: RewardsClient) -> None:
    addresses = rewards.addresses
    assert len({addresses.token, addresses.quorum, addresses.distributor, addresses.bonds}) == 4
    assert rewards.token.minter() == addresses.distributor
    assert is_rewards(rewards.backend.web3, addresses)
    assert RewardsAddresses.parse(addresses.as_json()) == addresses


def test_mismatched_addresses_are_not_a_deployment(rewards: RewardsClient) -> None:
    addresses = rewards.addresses
    swapped = dataclasses.replace(addresses, token=addresses.quorum, quorum=addresses.token)
    nothing = dataclasses.replace(addresses, bonds=rewards.address)
    for wrong in (swapped, nothing):
        assert not is_rewards(rewards.backend.web3, wrong)


def test_given_contracts_must_be_rewards_contracts(anvil_url: str, operator_key: bytes) -> None:
    # Several clients on one chain: anvil (an embedded chain has a single owner).
    with connect_rewards(None, anvil_url, operator_key) as rewards:
        bogus = dataclasses.replace(rewards.addresses, distributor=rewards.addresses.bonds)
        with pytest.raises(ChainError, match="no Koinon rewards contracts"):
            connect_rewards(None, anvil_url, operator_key, contracts=bogus)
        user_key = account_key(rewards, "user")
        with connect_rewards(None, anvil_url, user_key, contracts=rewards.addresses) as other:
            assert other.addresses == rewards.addresses
            assert other.quorum.owner() == rewards.address


def test_without_deploy_nothing_known_is_an_error(chain: ChainTarget, operator_key: bytes) -> None:
    with pytest.raises(ChainError, match="no rewards contracts known"):
        connect_rewards(chain.data_dir, chain.rpc_url, operator_key, deploy=False)


def test_the_embedded_chain_keeps_contracts_and_balances(
    tmp_path: Path, operator_key: bytes, clock: ManualClock
) -> None:
    with connect_rewards(tmp_path, None, operator_key, clock=clock) as rewards:
        addresses = rewards.addresses
        payout = PayoutLeaf(1, raw(rewards.address), 12)
        tree = settle_epoch(rewards, 1, [payout])
        rewards.distributor.claim(payout, tree.proof(payout))
    document = json.loads((tmp_path / REWARDS_FILE).read_text())
    assert RewardsAddresses.parse(document) == addresses

    with connect_rewards(tmp_path, None, operator_key, deploy=False, clock=clock) as again:
        assert again.addresses == addresses
        assert again.token.balance_of() == 12
        assert again.distributor.is_claimed(1, payout.account)


@pytest.mark.parametrize(
    "remembered",
    [None, "garbage", {"token": "0x" + "11" * 20, "chain_id": 131277322940537}],
    ids=["deleted", "unreadable", "incomplete"],
)
def test_a_lost_address_file_means_a_new_deployment(
    tmp_path: Path, operator_key: bytes, remembered: object
) -> None:
    with connect_rewards(tmp_path, None, operator_key) as rewards:
        old = rewards.addresses
    path = tmp_path / REWARDS_FILE
    if remembered is None:
        path.unlink()
    else:
        path.write_text(remembered if isinstance(remembered, str) else json.dumps(remembered))

    with connect_rewards(tmp_path, None, operator_key) as rewards:
        assert rewards.addresses != old
        assert rewards.token.total_supply() == 0


def test_rewards_beside_an_anchor_client_share_chain_and_lock(
    chain: ChainTarget, operator_key: bytes, clock: ManualClock
) -> None:
    with connect(chain.data_dir, chain.rpc_url, operator_key, clock=clock) as anchor:
        rewards = rewards_beside(anchor, operator_key, data_dir=chain.data_dir)
        assert rewards.backend is anchor.backend
        assert rewards.address == anchor.operator_address

        # One key, two clients, many threads: the shared lock keeps the nonces in order.
        def anchor_some() -> None:
            for size in range(1, 6):
                anchor.anchor(root_of(f"h{size}"), size)

        def settle_some() -> None:
            for epoch in range(1, 6):
                rewards.quorum.submit_root(epoch, root_of(f"r{epoch}"), epoch)

        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(anchor_some), pool.submit(settle_some)]:
                future.result()

        assert anchor.anchor_count() == 5
        assert all(rewards.quorum.finalized(epoch) is not None for epoch in range(1, 6))
        rewards.close()  # not its chain to close: the anchor client still works
        assert anchor.latest() is not None

        if chain.data_dir is not None:
            again = rewards_beside(anchor, operator_key, data_dir=chain.data_dir, deploy=False)
            assert again.addresses == rewards.addresses


def test_as_account_funds_and_signs_as_another_account(rewards: RewardsClient) -> None:
    other = rewards.as_account(account_key(rewards, "other"))
    assert other.address != rewards.address
    assert other.addresses == rewards.addresses
    assert rewards.backend.web3.eth.get_balance(other.address) > 0
    assert not other.quorum.is_operator()


def test_accounts_send_from_many_threads(rewards: RewardsClient) -> None:
    # Every account made from one client shares its lock, so their sends never interleave.
    other = rewards.as_account(account_key(rewards, "other"))
    spender = account_key(rewards, "spender")[:20]

    def submit() -> None:
        for epoch in range(1, 5):
            rewards.quorum.submit_root(epoch, root_of(f"r{epoch}"), epoch)

    def approve() -> None:
        for amount in range(1, 5):
            other.token.approve(spender, amount)

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures: list[Future[None] | Future[int]] = [
            pool.submit(submit),
            pool.submit(approve),
            pool.submit(other.token.total_supply),
        ]
        for future in futures:
            future.result()

    assert other.token.allowance(other.address, spender) == 4
    assert [rewards.quorum.finalized(epoch) is not None for epoch in range(1, 5)] == [True] * 4
