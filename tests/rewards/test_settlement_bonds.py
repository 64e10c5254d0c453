"""Bond declarations against the real bonds, on an in-process node with its embedded chain: the
node reads what StakeBonds held for each declaration at one block, counts min(declared, held),
signs that reading in its kind-3963 record, and `koinon rewards verify-epoch` re-reads the same
block through the node's chain gateway, so a node that lies about the chain is caught."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from koinon.chain.rewards import RewardsClient, rewards_beside
from koinon.cli.rewardscmd import RewardsError, verify_epoch
from koinon.core.event import Event, sign_event
from koinon.node import Node
from koinon.rewards.accounts import ethereum_secret
from koinon.rewards.events import BOND_DECLARATION
from koinon.rewards.holdings import BondHoldings
from koinon.rewards.settlement import Settlement, record_template, settle
from koinon.services.settlement import EarlierChainWork
from tests.helpers import make_event, pubkey_of, publish_all
from tests.rewards.test_settlement_node import KEYS, epoch_events, settings

pytestmark = pytest.mark.system

AUTHOR, WRITER = KEYS[1], KEYS[4]
INFLATION = 1_000_000


@dataclass
class World:
    node: Node
    operator: RewardsClient
    author: RewardsClient
    funds: int  # the KOIN the author was paid in epoch 5


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A node with its embedded chain that settled epoch 5, whose payout AUTHOR claimed."""
    genesis = int(time.time()) - 10 * 100
    node = Node(settings(tmp_path / "node", genesis, anchoring=True))
    await node.start()
    try:
        assert node.settlement is not None and node._chain is not None
        await publish_all(node.ws_url, epoch_events(node.settlement.config.window(5)[0]))
        paid = await node.settlement.settle(5)
        operator = rewards_beside(node._chain, node.key.raw, data_dir=tmp_path / "node" / "chain")
        author = operator.as_account(ethereum_secret(AUTHOR))
        leaf = paid.payout_of(pubkey_of(AUTHOR))
        assert leaf is not None
        operator.distributor.claim(leaf, paid.proof(leaf))
        yield World(node, operator, author, leaf.amount)
    finally:
        await node.stop()


async def settle_misleading_claim(
    world: World, epoch: int, declared: int, bonded: int = 0
) -> tuple[Event, Settlement]:
    """AUTHOR posts a claim in `epoch`, bonds `bonded` KOIN on it on chain and declares a bond
    of `declared`; the node's label settles it as misleading with WRITER's note, and the node
    settles the epoch."""
    assert world.node.settlement is not None
    start = world.node.settlement.config.window(epoch)[0]
    claim = make_event(AUTHOR, 1, f"a dubious claim in {epoch}", created_at=start + 1)
    if bonded:
        world.author.bonds.bond(bytes.fromhex(claim.id), bonded)
    declaration = make_event(
        AUTHOR, BOND_DECLARATION, "", [["e", claim.id], ["amount", str(declared)]], start + 2
    )
    tags = [["L", "koinon.notes"], ["l", "misleading", "koinon.notes"], ["e", claim.id]]
    label = make_event(
        world.node.key.raw, 1985, "", [*tags, ["writer", pubkey_of(WRITER)]], start + 50
    )
    await publish_all(world.node.ws_url, [claim, declaration, label, *epoch_events(start)[5:]])
    return claim, await world.node.settlement.settle(epoch)


async def verify(world: World, epoch: int) -> dict[str, object]:
    """`koinon rewards verify-epoch N --json` against the node (in process), its JSON output."""
    args = argparse.Namespace(node=world.node.http_url, number=epoch, json=True, chain_rpc=None)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert await verify_epoch(args) == 0
    result: dict[str, object] = json.loads(out.getvalue())
    return result


def writer_notes(settlement: Settlement) -> int:
    return sum(p.notes for p in settlement.result.payouts if p.pubkey == pubkey_of(WRITER))


async def test_an_inflated_declaration_mints_no_more_than_the_real_bond(world: World) -> None:
    assert world.node.settlement is not None
    config = world.node.settlement.config
    stake = world.funds // 2
    supply_before = world.operator.token.total_supply()  # bonding moves tokens, minting none

    claim, settled = await settle_misleading_claim(world, 6, INFLATION * stake, bonded=stake)

    (slash,) = settled.result.slashes
    assert (slash.event_id, slash.owner, slash.amount) == (claim.id, pubkey_of(AUTHOR), stake)
    assert writer_notes(settled) == slash.to_writers == stake // 2
    assert settled.total == config.pool_per_epoch + stake // 2  # the pool and the writer's share
    assert settled.holdings is not None
    assert settled.holdings.held == ((claim.id, pubkey_of(AUTHOR), stake),)

    # on chain: the bond was burned whole, and claiming every payout mints the pool plus at most
    # the writers' share of what was really bonded
    assert world.author.bonds.is_settled(bytes.fromhex(claim.id))
    assert world.operator.token.total_supply() == supply_before - stake
    for leaf in settled.payouts:
        world.operator.distributor.claim(leaf, settled.proof(leaf))
    minted = world.operator.token.total_supply() - (supply_before - stake)
    assert minted == settled.total
    assert minted - config.pool_per_epoch == stake // 2 <= stake

    result = await verify(world, 6)
    assert (result["root"], result["on_chain"]) == (settled.root.hex(), "finalized")
    record = await world.node.settlement.record(6)
    assert record is not None and record.first_tag("bonds") == str(settled.holdings.block)


async def test_a_declaration_with_no_bond_pays_and_slashes_nothing(world: World) -> None:
    assert world.node.settlement is not None
    config = world.node.settlement.config
    claim, settled = await settle_misleading_claim(world, 6, INFLATION * world.funds)

    assert settled.result.slashes == ()
    assert settled.bonds == ()
    assert writer_notes(settled) == 0
    assert settled.total == config.pool_per_epoch
    assert settled.holdings is not None
    assert settled.holdings.held == ((claim.id, pubkey_of(AUTHOR), 0),)
    assert not world.author.bonds.is_settled(bytes.fromhex(claim.id))
    assert world.author.token.balance_of() == world.funds  # nothing was taken
    result = await verify(world, 6)
    assert result["root"] == settled.root.hex()


async def test_verify_epoch_catches_a_node_that_lies_about_the_chain(world: World) -> None:
    """The node's reading is signed: an edited file no longer matches the record, and a node
    that signs a reading the chain never held is refuted by re-reading the block."""
    service = world.node.settlement
    assert service is not None
    claim, settled = await settle_misleading_claim(world, 6, INFLATION * world.funds)
    assert settled.holdings is not None
    lie = BondHoldings(
        settled.holdings.block, ((claim.id, pubkey_of(AUTHOR), INFLATION * world.funds),)
    )
    service.holdings_path(6).write_bytes(orjson.dumps(lie.to_json()))
    with pytest.raises(RewardsError, match="are not the ones the record names"):
        await verify(world, 6)

    # the node signs its lie: the record is consistent, the chain is not
    events = await service.inputs(6)
    assert events is not None
    lying = settle(events, service.config, 6, None, lie, await service.earlier_upvotes(6))
    assert writer_notes(lying) > 0
    kind, content, tags = record_template(lying, service.config)
    record = sign_event(
        world.node.key.raw,
        kind=kind,
        content=content,
        tags=tags,
        created_at=int(time.time()),
        aux_rand=bytes(32),
    )
    service.record_path(6).write_bytes(record.to_json())
    with pytest.raises(
        RewardsError, match=f"held {INFLATION * world.funds} at block .*; the chain says 0"
    ):
        await verify(world, 6)


async def test_a_bond_judged_again_later_is_slashed_and_paid_once(world: World) -> None:
    """The claim's bond is slashed in epoch 6; a second label in epoch 7 must not count it again.
    Epoch 7 waits until epoch 6's chain work is done, and then reads the bond as settled (0)."""
    service = world.node.settlement
    assert service is not None
    stake = world.funds // 2
    claim, first = await settle_misleading_claim(world, 6, stake, bonded=stake)
    assert writer_notes(first) == stake // 2
    service.submitted_path(6).unlink()  # as if epoch 6's chain work had failed and not been retried

    start = service.config.window(7)[0]
    tags = [["L", "koinon.notes"], ["l", "misleading", "koinon.notes"], ["e", claim.id]]
    again = make_event(world.node.key.raw, 1985, "", [*tags, ["writer", pubkey_of(WRITER)]], start)
    await publish_all(world.node.ws_url, [again, *epoch_events(start)[5:]])
    with pytest.raises(EarlierChainWork) as waiting:
        await service.settle(7)
    assert waiting.value.waiting == (6,)
    assert not service.record_path(7).exists()

    await service.round()  # retries epoch 6's chain work (already done on chain: idempotent)
    assert service.submitted_path(6).exists() and service.unfinished(7) == []
    second = await service.settle(7)
    assert second.holdings is not None
    assert second.holdings.held == ((claim.id, pubkey_of(AUTHOR), 0),)
    assert second.result.slashes == () and writer_notes(second) == 0
    assert second.total == service.config.pool_per_epoch
    result = await verify(world, 7)
    assert result["root"] == second.root.hex()
