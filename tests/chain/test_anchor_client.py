"""AnchorClient against the AnchorRegistry, on the embedded EVM and on anvil alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from koinon.chain import (
    AnchorClient,
    AnchorNotFound,
    AnchorRecord,
    AnchorRejected,
    connect,
    operator_address,
)
from tests.chain.support import root_of

GAS_CEILING = 100_000  # < 10 gas per logged event at 10,000 events per anchor


def test_connect_derives_the_operator_address_from_the_node_key(
    client: AnchorClient, operator_key: bytes
) -> None:
    assert client.operator_address == operator_address(operator_key)
    assert client.contract_address != client.operator_address
    assert client.chain_id > 0


def test_anchor_returns_the_stored_record(client: AnchorClient) -> None:
    receipt = client.anchor(root_of("head-1"), 10)

    record = receipt.record
    assert record.operator == client.operator_address
    assert (record.index, record.root, record.size) == (0, root_of("head-1"), 10)
    assert record.timestamp == client.block_time(record.block_number)
    assert len(receipt.tx_hash) == 32
    assert client.get_anchor(None, 0) == record


def test_gas_per_anchor_stays_under_the_ceiling(client: AnchorClient) -> None:
    first = client.anchor(root_of("a"), 10_000)
    later = [client.anchor(root_of(f"b{i}"), 10_000 * (i + 2)) for i in range(3)]

    # The first anchor of an operator also creates its head slot.
    assert first.gas_used < GAS_CEILING
    assert all(receipt.gas_used < 80_000 for receipt in later)
    assert max(receipt.gas_used for receipt in later) / 10_000 < 10


def test_views_list_anchors_in_order(client: AnchorClient) -> None:
    assert client.anchor_count() == 0
    assert client.latest() is None
    assert client.anchors() == []

    sent = [client.anchor(root_of(f"head-{size}"), size).record for size in (1, 2, 5, 1_000)]

    assert client.anchor_count() == 4
    assert client.anchors() == sent
    assert client.anchors(start=1, stop=3) == sent[1:3]
    assert client.latest() == sent[-1]
    assert [record.index for record in sent] == [0, 1, 2, 3]
    assert [record.block_number for record in sent] == sorted(
        record.block_number for record in sent
    )


@pytest.mark.parametrize(
    "size", [10, 9, 1], ids=["equal size", "smaller size", "much smaller size"]
)
def test_sizes_must_strictly_grow(client: AnchorClient, size: int) -> None:
    kept = client.anchor(root_of("kept"), 10).record

    with pytest.raises(AnchorRejected) as caught:
        client.anchor(root_of("rewrite"), size)

    assert caught.value.reason == "size must grow"
    assert client.anchors() == [kept]


def test_zero_root_is_rejected(client: AnchorClient) -> None:
    with pytest.raises(AnchorRejected, match="zero root"):
        client.anchor(bytes(32), 1)
    assert client.anchor_count() == 0


@pytest.mark.parametrize(
    ("root", "size"),
    [(b"short", 1), (bytes(33), 1), (root_of("x"), 0), (root_of("x"), 2**64)],
    ids=["short root", "long root", "size zero", "size past uint64"],
)
def test_malformed_arguments_never_reach_the_chain(
    client: AnchorClient, root: bytes, size: int
) -> None:
    with pytest.raises(ValueError):
        client.anchor(root, size)


def test_missing_anchor_is_reported(client: AnchorClient) -> None:
    client.anchor(root_of("only"), 3)

    for index in (1, -1):
        with pytest.raises(AnchorNotFound):
            client.get_anchor(None, index)


def test_operators_keep_separate_logs_in_one_registry(anvil_url: str, operator_key: bytes) -> None:
    # Two operators share one registry on one node (the embedded chain has a single owner).
    with (
        connect(None, anvil_url, operator_key) as client,
        connect(
            None, anvil_url, bytes(reversed(operator_key)), contract=client.contract_address
        ) as other,
    ):
        assert other.contract_address == client.contract_address

        mine = client.anchor(root_of("mine"), 100).record
        theirs = other.anchor(root_of("theirs"), 5).record  # smaller than mine: its own log

        assert (mine.index, theirs.index) == (0, 0)
        assert other.anchors(client.operator_address) == [mine]
        assert client.anchors(other.operator_address) == [theirs]
        assert client.get_anchor(other.operator_address, 0) == theirs


def test_records_are_plain_values(client: AnchorClient) -> None:
    record = client.anchor(root_of("v"), 7).record

    assert isinstance(record, AnchorRecord)
    assert record == AnchorRecord(
        record.operator, 0, root_of("v"), 7, record.timestamp, record.block_number
    )


def test_calls_from_several_threads_are_serialised(client: AnchorClient) -> None:
    # The node calls the client from worker threads; reads must not interleave with an anchor.
    with ThreadPoolExecutor(max_workers=4) as pool:
        readers = [pool.submit(client.anchors) for _ in range(20)]
        for size in range(1, 6):
            client.anchor(root_of(f"t{size}"), size)
        seen = [future.result() for future in readers]

    final = client.anchors()
    assert len(final) == 5
    assert all(records == final[: len(records)] for records in seen)


def test_transaction_of_finds_the_anchor_transaction(client: AnchorClient) -> None:
    receipts = [client.anchor(root_of(f"tx{size}"), size) for size in (1, 2, 3)]

    for receipt in receipts:
        assert client.transaction_of(receipt.record) == receipt.tx_hash


def test_transaction_of_a_record_never_sent(client: AnchorClient) -> None:
    record = client.anchor(root_of("real"), 1).record
    forged = AnchorRecord(record.operator, 0, root_of("forged"), 1, 0, record.block_number)

    with pytest.raises(AnchorNotFound):
        client.transaction_of(forged)
