"""KoinToken through the client: complete ERC-20 behaviour, minting only by the distributor."""

from __future__ import annotations

import pytest
from hexbytes import HexBytes
from web3.contract import Contract

from koinon.chain import RewardsClient
from koinon.chain.artifacts import load_artifact
from tests.chain.rewards_support import KOIN, account_key, caller_for, pay, rejected, user

MAX = 2**256 - 1
ZERO = "0x" + "00" * 20


@pytest.fixture
def alice(rewards: RewardsClient) -> RewardsClient:
    """A holder of 100 KOIN."""
    holder = user(rewards, "alice")
    pay(rewards, 1, {holder.address: 100 * KOIN})
    return holder


@pytest.fixture
def bob(rewards: RewardsClient) -> RewardsClient:
    """An account without KOIN."""
    return user(rewards, "bob")


def token_contract(rewards: RewardsClient) -> Contract:
    return rewards.backend.web3.eth.contract(
        address=rewards.addresses.token, abi=load_artifact("KoinToken").abi
    )


def test_metadata(rewards: RewardsClient) -> None:
    views = token_contract(rewards).functions
    assert views.name().call() == "Koinon"
    assert views.symbol().call() == "KOIN"
    assert views.decimals().call() == 18
    assert rewards.token.total_supply() == 0
    assert rewards.token.minter() == rewards.addresses.distributor


def test_transfer_moves_tokens_and_keeps_the_supply(
    alice: RewardsClient, bob: RewardsClient
) -> None:
    alice.token.transfer(bob.address, 30 * KOIN)

    assert alice.token.balance_of() == 70 * KOIN
    assert alice.token.balance_of(bob.address) == 30 * KOIN
    assert alice.token.total_supply() == 100 * KOIN


def test_transfer_emits_the_standard_event(alice: RewardsClient, bob: RewardsClient) -> None:
    receipt = alice.token.transfer(bob.address, 5)

    w3 = alice.backend.web3
    logs = w3.eth.get_transaction_receipt(HexBytes(receipt.tx_hash))["logs"]
    (event,) = token_contract(alice).events.Transfer().process_receipt({"logs": logs})
    assert dict(event["args"]) == {"sender": alice.address, "receiver": bob.address, "value": 5}
    # The topic is the ERC-20 one, whatever Vyper calls the fields.
    assert bytes(logs[0]["topics"][0]) == w3.keccak(text="Transfer(address,address,uint256)")


@pytest.mark.parametrize("amount", [0, 100 * KOIN], ids=["nothing", "everything"])
def test_edge_amounts_transfer(alice: RewardsClient, bob: RewardsClient, amount: int) -> None:
    alice.token.transfer(bob.address, amount)
    assert alice.token.balance_of(bob.address) == amount


def test_transfer_beyond_the_balance_is_refused(alice: RewardsClient, bob: RewardsClient) -> None:
    with rejected("insufficient balance"):
        alice.token.transfer(bob.address, 100 * KOIN + 1)
    with rejected("insufficient balance"):
        bob.token.transfer(alice.address, 1)
    assert alice.token.balance_of() == 100 * KOIN


def test_transfer_to_the_zero_address_is_refused(alice: RewardsClient) -> None:
    with rejected("transfer to zero address"):
        alice.token.transfer(ZERO, 1)


def test_approve_sets_and_replaces_the_allowance(alice: RewardsClient, bob: RewardsClient) -> None:
    assert alice.token.allowance(alice.address, bob.address) == 0
    alice.token.approve(bob.address, 10)
    assert alice.token.allowance(alice.address, bob.address) == 10
    alice.token.approve(bob.address, 3)
    assert alice.token.allowance(alice.address, bob.address) == 3
    alice.token.approve(bob.address, 0)
    assert alice.token.allowance(alice.address, bob.address) == 0


def test_approve_emits_approval(alice: RewardsClient, bob: RewardsClient) -> None:
    receipt = alice.token.approve(bob.address, 7)
    logs = alice.backend.web3.eth.get_transaction_receipt(HexBytes(receipt.tx_hash))["logs"]
    (event,) = token_contract(alice).events.Approval().process_receipt({"logs": logs})
    assert dict(event["args"]) == {"owner": alice.address, "spender": bob.address, "value": 7}


def test_approve_for_the_zero_address_is_refused(alice: RewardsClient) -> None:
    with rejected("approve to zero address"):
        alice.token.approve(ZERO, 1)


def test_transfer_from_spends_the_allowance(
    rewards: RewardsClient, alice: RewardsClient, bob: RewardsClient
) -> None:
    alice.token.approve(bob.address, 40 * KOIN)

    bob.token.transfer_from(alice.address, rewards.address, 25 * KOIN)

    assert alice.token.balance_of() == 75 * KOIN
    assert alice.token.balance_of(rewards.address) == 25 * KOIN
    assert alice.token.balance_of(bob.address) == 0
    assert alice.token.allowance(alice.address, bob.address) == 15 * KOIN


def test_transfer_from_beyond_the_allowance_is_refused(
    alice: RewardsClient, bob: RewardsClient
) -> None:
    alice.token.approve(bob.address, 5)
    with rejected("insufficient allowance"):
        bob.token.transfer_from(alice.address, bob.address, 6)
    with rejected("insufficient allowance"):  # nobody else may spend it
        alice.token.transfer_from(alice.address, bob.address, 1)
    assert alice.token.allowance(alice.address, bob.address) == 5
    assert alice.token.balance_of() == 100 * KOIN


def test_transfer_from_beyond_the_balance_is_refused(
    alice: RewardsClient, bob: RewardsClient
) -> None:
    alice.token.approve(bob.address, MAX)
    with rejected("insufficient balance"):
        bob.token.transfer_from(alice.address, bob.address, 100 * KOIN + 1)


def test_an_infinite_allowance_is_never_spent(alice: RewardsClient, bob: RewardsClient) -> None:
    alice.token.approve(bob.address, MAX)
    bob.token.transfer_from(alice.address, bob.address, 60 * KOIN)
    assert alice.token.allowance(alice.address, bob.address) == MAX
    assert alice.token.balance_of(bob.address) == 60 * KOIN


def test_burn_destroys_the_holders_tokens(alice: RewardsClient, bob: RewardsClient) -> None:
    alice.token.burn(40 * KOIN)
    assert alice.token.balance_of() == 60 * KOIN
    assert alice.token.total_supply() == 60 * KOIN
    with rejected("insufficient balance"):
        alice.token.burn(60 * KOIN + 1)
    with rejected("insufficient balance"):
        bob.token.burn(1)


def test_only_the_distributor_mints(
    rewards: RewardsClient, alice: RewardsClient, operator_key: bytes
) -> None:
    # Not even the deployer may mint: new KOIN comes only from proven claims.
    token = token_contract(rewards)
    for key in (operator_key, account_key(rewards, "alice")):
        with rejected("not the minter"):
            caller_for(rewards, key).transact(
                token, "mint", [alice.address, 1], gas=100_000, action="mint"
            )
    assert rewards.token.total_supply() == 100 * KOIN


def test_the_minter_is_named_once_by_the_deployer(
    rewards: RewardsClient, operator_key: bytes
) -> None:
    token = token_contract(rewards)
    attempts = [
        (operator_key, "minter already set"),
        (account_key(rewards, "x"), "not the deployer"),
    ]
    for key, reason in attempts:
        with rejected(reason):
            caller_for(rewards, key).transact(
                token, "set_minter", [rewards.address], gas=100_000, action="set minter"
            )
    assert rewards.token.minter() == rewards.addresses.distributor


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("transfer", ("0x1234", 1)),
        ("transfer", (b"\x01" * 19, 1)),
        ("transfer", (ZERO, -1)),
        ("approve", (ZERO, 2**256)),
        ("burn", (True,)),
    ],
    ids=["short hex address", "short raw address", "negative", "past uint256", "bool"],
)
def test_malformed_arguments_never_reach_the_chain(
    rewards: RewardsClient, call: str, args: tuple[object, ...]
) -> None:
    with pytest.raises(ValueError):
        getattr(rewards.token, call)(*args)
