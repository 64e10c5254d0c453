"""The embedded chain on disk: what a restart keeps, block timestamps, one owner per folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from koinon.chain import ChainError, connect
from koinon.chain.deployment import REGISTRY_FILE
from koinon.chain.embedded import EmbeddedChain
from tests.chain.support import START, ManualClock, root_of


def test_restart_keeps_anchors_contract_balance_and_nonce(
    tmp_path: Path, operator_key: bytes, clock: ManualClock
) -> None:
    with connect(tmp_path, None, operator_key, clock=clock) as client:
        first = [client.anchor(root_of(f"h{size}"), size).record for size in (3, 8)]
        contract, operator = client.contract_address, client.operator_address
    chain = EmbeddedChain(tmp_path, clock)
    try:
        balance = chain.web3.eth.get_balance(operator)
        nonce = chain.web3.eth.get_transaction_count(operator)
        height = chain.web3.eth.block_number
        assert chain.web3.eth.get_code(contract)
    finally:
        chain.close()
    assert balance > 0
    assert nonce == 3  # deployment and two anchors

    clock.advance(60)
    with connect(tmp_path, None, operator_key, clock=clock) as client:
        assert client.contract_address == contract
        assert client.anchors() == first
        assert client.block_time(first[0].block_number) == first[0].timestamp

        again = client.anchor(root_of("h13"), 13).record
        assert again.index == 2
        assert again.block_number == height + 1
        assert client.anchors() == [*first, again]


def test_a_killed_process_loses_no_mined_anchor(tmp_path: Path, operator_key: bytes) -> None:
    # The child anchors, then dies without closing anything.
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from koinon.chain import connect
        client = connect(Path({str(tmp_path)!r}), None, bytes.fromhex({operator_key.hex()!r}))
        client.anchor(bytes(31) + b"\\x01", 42)
        sys.stdout.flush()
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)

    with connect(tmp_path, None, operator_key) as client:
        latest = client.latest()
    assert latest is not None
    assert (latest.index, latest.size, latest.root) == (0, 42, bytes(31) + b"\x01")


def test_block_timestamps_follow_the_clock_and_never_go_back(
    tmp_path: Path, operator_key: bytes, clock: ManualClock
) -> None:
    with connect(tmp_path, None, operator_key, clock=clock) as client:
        clock.advance(100)
        late = client.anchor(root_of("late"), 1).record
        same_second = client.anchor(root_of("same"), 2).record
    assert late.timestamp == START + 100  # stamped when sent, not when the parent was mined
    assert same_second.timestamp == START + 101  # blocks need strictly growing timestamps

    earlier = ManualClock(START)  # a clock behind the chain after a restart
    with connect(tmp_path, None, operator_key, clock=earlier) as client:
        after_restart = client.anchor(root_of("after"), 3).record
    assert after_restart.timestamp == START + 102


def test_one_chain_folder_has_one_owner(tmp_path: Path, operator_key: bytes) -> None:
    with connect(tmp_path, None, operator_key), pytest.raises(ChainError, match="in use"):
        connect(tmp_path, None, operator_key)


@pytest.mark.parametrize(
    "remembered",
    [None, "garbage", {"address": "0x" + "11" * 20, "chain_id": 131277322940537}],
    ids=["deleted", "unreadable", "no code at address"],
)
def test_a_lost_registry_address_means_a_new_deployment(
    tmp_path: Path, operator_key: bytes, remembered: object
) -> None:
    with connect(tmp_path, None, operator_key) as client:
        old = client.contract_address
        client.anchor(root_of("x"), 1)
    path = tmp_path / REGISTRY_FILE
    if remembered is None:
        path.unlink()
    else:
        path.write_text(remembered if isinstance(remembered, str) else json.dumps(remembered))

    with connect(tmp_path, None, operator_key) as client:
        assert client.contract_address != old
        assert client.anchor_count() == 0
    assert json.loads(path.read_text())["address"] == client.contract_address


def test_without_a_folder_the_chain_lives_in_memory(operator_key: bytes) -> None:
    with connect(None, None, operator_key) as client:
        assert client.anchor(root_of("m"), 1).record.index == 0
    with connect(None, None, operator_key) as client:
        assert client.anchor_count() == 0
