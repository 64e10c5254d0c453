"""OperatorQuorum through the client: 1 of 1 by default, M of N, refusals, operator changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from koinon.chain import FinalizedRoot, RewardsClient
from tests.chain.rewards_support import rejected, user
from tests.chain.support import root_of

X, Y = root_of("x"), root_of("y")


@pytest.fixture
def trio(rewards: RewardsClient) -> list[RewardsClient]:
    """Three operators other than the owner, with the owner removed: a 2-of-3 quorum."""
    operators = [user(rewards, f"operator-{i}") for i in range(3)]
    for operator in operators:
        rewards.quorum.add_operator(operator.address)
    rewards.quorum.set_threshold(2)
    rewards.quorum.remove_operator(rewards.address)
    return operators


def test_the_deployer_alone_is_a_quorum_of_one(rewards: RewardsClient) -> None:
    quorum = rewards.quorum
    assert quorum.owner() == rewards.address
    assert quorum.operators() == (rewards.address,)
    assert quorum.threshold() == 1
    assert quorum.finalized(1) is None

    submission = quorum.submit_root(1, X, 500)

    assert submission.finalized
    assert submission.receipt is not None
    assert quorum.finalized(1) == FinalizedRoot(1, X, 500)
    assert quorum.has_submitted(1)
    assert quorum.support(1, X, 500) == 1


def test_submitting_a_final_pair_again_sends_nothing(rewards: RewardsClient) -> None:
    rewards.quorum.submit_root(4, X, 1)

    again = rewards.quorum.submit_root(4, X, 1)

    assert again.finalized
    assert again.receipt is None


def test_a_final_epoch_never_changes(rewards: RewardsClient) -> None:
    rewards.quorum.submit_root(2, X, 10)

    for root, total in ((Y, 10), (X, 11)):
        with rejected("epoch finalized"):
            rewards.quorum.submit_root(2, root, total)
    with rejected("epoch finalized"):
        rewards.quorum.finalize(2, X, 10)
    assert rewards.quorum.finalized(2) == FinalizedRoot(2, X, 10)


def test_the_zero_root_is_refused(rewards: RewardsClient) -> None:
    # The empty tree's root: an epoch without leaves has nothing to finalize.
    with rejected("zero root"):
        rewards.quorum.submit_root(1, bytes(32), 0)
    assert rewards.quorum.finalized(1) is None


def test_a_non_operator_is_refused(rewards: RewardsClient) -> None:
    stranger = user(rewards, "stranger")
    with rejected("not an operator"):
        stranger.quorum.submit_root(1, X, 1)
    assert not rewards.quorum.has_submitted(1, stranger.address)


def test_two_of_three_finalize_the_pair_they_agree_on(trio: list[RewardsClient]) -> None:
    a, b, c = trio
    quorum = a.quorum
    assert set(quorum.operators()) == {a.address, b.address, c.address}

    first = a.quorum.submit_root(7, X, 100)
    assert not first.finalized
    assert quorum.finalized(7) is None
    assert quorum.support(7, X, 100) == 1

    dissent = b.quorum.submit_root(7, Y, 100)  # a root differing from the others
    assert not dissent.finalized
    assert quorum.finalized(7) is None

    agreed = c.quorum.submit_root(7, X, 100)
    assert agreed.finalized
    assert quorum.finalized(7) == FinalizedRoot(7, X, 100)
    assert quorum.support(7, Y, 100) == 1  # the dissenting root never finalizes


def test_a_different_total_is_a_different_settlement(trio: list[RewardsClient]) -> None:
    a, b, _ = trio
    a.quorum.submit_root(3, X, 100)
    b.quorum.submit_root(3, X, 101)
    assert a.quorum.finalized(3) is None
    assert a.quorum.support(3, X, 100) == a.quorum.support(3, X, 101) == 1


def test_an_operator_submits_once_per_epoch(trio: list[RewardsClient]) -> None:
    a = trio[0]
    a.quorum.submit_root(5, X, 1)

    repeat = a.quorum.submit_root(5, X, 1)  # the same pair again: nothing to send
    assert repeat.receipt is None
    assert not repeat.finalized

    with rejected("already submitted"):
        a.quorum.submit_root(5, Y, 1)
    assert a.quorum.support(5, X, 1) == 1
    assert a.quorum.support(5, Y, 1) == 0


def test_a_removed_operator_stops_counting(
    rewards: RewardsClient, trio: list[RewardsClient]
) -> None:
    a, b, c = trio
    a.quorum.submit_root(9, X, 1)
    rewards.quorum.remove_operator(a.address)
    assert rewards.quorum.support(9, X, 1) == 0

    b.quorum.submit_root(9, X, 1)
    assert rewards.quorum.finalized(9) is None  # a's submission no longer counts

    c.quorum.submit_root(9, X, 1)
    assert rewards.quorum.finalized(9) == FinalizedRoot(9, X, 1)
    with rejected("not an operator"):
        a.quorum.submit_root(10, X, 1)


def test_lowering_the_threshold_lets_anyone_finalize(
    rewards: RewardsClient, trio: list[RewardsClient]
) -> None:
    trio[0].quorum.submit_root(11, X, 1)
    with rejected("not enough support"):
        rewards.quorum.finalize(11, X, 1)

    rewards.quorum.set_threshold(1)
    stranger = user(rewards, "stranger")
    with rejected("not enough support"):
        stranger.quorum.finalize(11, Y, 1)
    stranger.quorum.finalize(11, X, 1)

    assert rewards.quorum.finalized(11) == FinalizedRoot(11, X, 1)


def test_only_the_owner_manages_operators(
    rewards: RewardsClient, trio: list[RewardsClient]
) -> None:
    a = trio[0]
    call: Callable[[], object]
    for call in (
        lambda: a.quorum.add_operator(a.address),
        lambda: a.quorum.remove_operator(a.address),
        lambda: a.quorum.set_threshold(1),
        lambda: a.quorum.set_owner(a.address),
    ):
        with rejected("not the owner"):
            call()

    rewards.quorum.set_owner(a.address)
    assert a.quorum.owner() == a.address
    a.quorum.set_threshold(3)
    with rejected("not the owner"):
        rewards.quorum.set_threshold(2)


def test_the_threshold_stays_between_one_and_the_operators(
    rewards: RewardsClient, trio: list[RewardsClient]
) -> None:
    with rejected("threshold below one"):
        rewards.quorum.set_threshold(0)
    with rejected("threshold above operators"):
        rewards.quorum.set_threshold(4)
    rewards.quorum.set_threshold(3)
    with rejected("threshold above operators"):  # removing one would leave 2 < M
        rewards.quorum.remove_operator(trio[0].address)
    assert rewards.quorum.threshold() == 3
    assert len(rewards.quorum.operators()) == 3


def test_operator_set_refusals(rewards: RewardsClient, trio: list[RewardsClient]) -> None:
    with rejected("already an operator"):
        rewards.quorum.add_operator(trio[0].address)
    with rejected("not an operator"):
        rewards.quorum.remove_operator(rewards.address)  # removed by the fixture
    with rejected("zero operator"):
        rewards.quorum.add_operator("0x" + "00" * 20)
    assert rewards.quorum.is_operator(trio[1].address)
    assert not rewards.quorum.is_operator()


def test_malformed_submissions_never_reach_the_chain(rewards: RewardsClient) -> None:
    for args in ((1, b"short", 1), (-1, X, 1), (1, X, 2**256)):
        with pytest.raises(ValueError):
            rewards.quorum.submit_root(*args)


def test_operator_churn_never_blocks_an_epoch(rewards: RewardsClient) -> None:
    # More than MAX_OPERATORS (32) operators back one pair over time, the early ones removed
    # before the later ones join: the record of backers keeps only current ones when it fills.
    quorum = rewards.quorum
    early = [user(rewards, f"early-{i}") for i in range(31)]
    for operator in early:
        quorum.add_operator(operator.address)
    quorum.set_threshold(32)
    for operator in early:
        assert not operator.quorum.submit_root(1, X, 1).finalized
    quorum.set_threshold(12)
    for operator in early[:20]:
        quorum.remove_operator(operator.address)
    assert quorum.support(1, X, 1) == 11  # 31 backers recorded, 11 still operators

    late = user(rewards, "late")
    quorum.add_operator(late.address)
    assert late.quorum.submit_root(1, X, 1).receipt is not None  # the 32nd record: full now
    another = user(rewards, "another")
    quorum.add_operator(another.address)
    quorum.set_threshold(13)
    assert another.quorum.submit_root(1, X, 1).finalized  # the 33rd: pruned, then recorded
    assert quorum.finalized(1) == FinalizedRoot(1, X, 1)
