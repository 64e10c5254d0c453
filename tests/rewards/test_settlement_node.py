"""Epoch settlement on a real in-process node (SQLite, websockets, embedded EVM): the node settles
an epoch from its stored events, signs and publishes a kind-3963 record, serves the exact inputs,
and its root is finalized by the on-chain quorum; an audit from the served data agrees."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from koinon.core.event import Event, parse_event
from koinon.node import Node
from koinon.rewards.accounts import payout_address
from koinon.rewards.audit import SettlementMismatch, audit_epoch
from koinon.rewards.config import RewardsConfig
from koinon.rewards.settlement import SETTLEMENT_RECORD, inputs_digest, parse_record, settle
from koinon.rewards.tree import PayoutLeaf, verify_proof
from koinon.settings import Settings
from tests.helpers import connect, make_event, make_key, pubkey_of, publish_all

pytestmark = pytest.mark.system

EPOCH_SECONDS = 100
KEYS = [make_key(700 + i) for i in range(5)]
SEED = pubkey_of(KEYS[0])


def settings(data_dir: Path, genesis: int, anchoring: bool) -> Settings:
    return Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        anchoring=anchoring,
        anchor_interval=3600,
        rewards_genesis=genesis,
        epoch_seconds=EPOCH_SECONDS,
        trust_seeds=(SEED,),
        settle_interval=3600,
    )


@pytest.fixture(params=[False, True], ids=["no-chain", "embedded-chain"])
async def node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Node]:
    genesis = int(time.time()) - 10 * EPOCH_SECONDS
    running = Node(settings(tmp_path / "node", genesis, request.param))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def epoch_events(start: int) -> list[Event]:
    """Everyone follows everyone; three posts; everyone up-votes the others' posts."""
    events = [
        make_event(k, 3, "", [["p", pubkey_of(o)] for o in KEYS if o != k], start - 50)
        for k in KEYS
    ]
    posts = [make_event(KEYS[i], 1, f"post {i}", created_at=start + i) for i in range(3)]
    events += posts
    for i, key in enumerate(KEYS):
        for post in posts:
            if post.pubkey != pubkey_of(key):
                events.append(
                    make_event(key, 7, "+", [["e", post.id], ["p", post.pubkey]], start + 10 + i)
                )
    return events


async def get(node: Node, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(node.http_url + path) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_an_epoch_is_settled_published_served_and_finalized(node: Node) -> None:
    assert node.settlement is not None
    config_body = await get(node, "/rewards/config")
    config = RewardsConfig.from_dict(config_body)
    epoch = 5
    start, _ = config.window(epoch)
    events = epoch_events(start)
    # the epoch before, never settled here: the ring detector reads the upvotes it counted
    before = [e for e in epoch_events(config.window(epoch - 1)[0]) if e.kind != 3]
    await publish_all(node.ws_url, [*before, *events])
    settlement = await node.settlement.settle(epoch)
    assert settlement.total == config.pool_per_epoch
    assert len(settlement.payouts) == len(KEYS)

    async with connect(node.ws_url) as client:
        records = await client.query(
            {"kinds": [SETTLEMENT_RECORD], "authors": [node.key.public_key]}
        )
    record = parse_record(parse_event(records[0]))
    assert (record.epoch, record.root, record.total) == (epoch, settlement.root, settlement.total)

    body = await get(node, f"/rewards/epochs/{epoch}")
    assert body["root"] == settlement.root.hex()
    assert sum(int(p["amount"]) for p in body["payouts"]) == settlement.total
    served = [parse_event(raw) for raw in await get(node, f"/rewards/epochs/{epoch}/events")]
    assert {e.id for e in served} == {e.id for e in events}
    # the record names the upvotes of the five epochs before, and the node serves their inputs
    assert len(record.earlier) == 5 == len(settlement.earlier)
    earlier = [
        [parse_event(raw) for raw in await get(node, f"/rewards/epochs/{past}/upvote-events")]
        for past in range(epoch - 5, epoch)
    ]
    assert {e.id for e in before} <= {e.id for e in earlier[-1]}
    signed = parse_event(body["record"])
    audited = audit_epoch(config, node.key.public_key, signed, served, epoch, None, earlier)
    assert audited.settlement.root == settlement.root
    with pytest.raises(SettlementMismatch, match="earlier epochs' upvotes"):
        audit_epoch(config, node.key.public_key, signed, served, epoch, None, [*earlier[:-1], []])

    author = pubkey_of(KEYS[1])
    proof = await get(node, f"/rewards/epochs/{epoch}/proof/{author}")
    leaf = PayoutLeaf(epoch, payout_address(bytes.fromhex(author)), int(proof["amount"]))
    assert verify_proof(leaf, [bytes.fromhex(p) for p in proof["proof"]], settlement.root)

    if config_body["chain"] is not None:
        from koinon.chain.rewards import rewards_beside

        assert node._chain is not None
        contracts = rewards_beside(
            node._chain, node.key.raw, data_dir=node.settings.data_dir / "chain"
        )
        finalized = contracts.quorum.finalized(epoch)
        assert finalized is not None
        assert (finalized.root, finalized.total) == (settlement.root, settlement.total)


async def test_settling_twice_gives_the_same_root(node: Node) -> None:
    assert node.settlement is not None
    config = node.settlement.config
    start, _ = config.window(3)
    await publish_all(node.ws_url, epoch_events(start))
    first = await node.settlement.settle(3)
    assert (await node.settlement.settle(3)).root == first.root


async def test_settling_trusts_the_store_and_an_audit_does_not(node: Node) -> None:
    """The node verified each event when it arrived, so settling reads its store without
    checking signatures again (a million would take minutes); whoever audits the served inputs
    checks every one. A forged event written straight to the store shows both."""
    assert node.settlement is not None
    config = node.settlement.config
    epoch = 4
    start, _ = config.window(epoch)
    events = epoch_events(start)
    await publish_all(node.ws_url, events)
    post = events[len(KEYS)]
    genuine = make_event(KEYS[3], 7, "-", [["e", post.id], ["p", post.pubkey]], start + 40)
    forged = dataclasses.replace(genuine, sig="00" * 64)
    await node.settlement.store.add(forged)

    settlement = await node.settlement.settle(epoch)
    assert settlement.inputs == inputs_digest([*events, forged])
    assert settlement.root == settle([*events, forged], config, epoch).root
    served = [parse_event(raw) for raw in await get(node, f"/rewards/epochs/{epoch}/events")]
    assert forged in served
    body = await get(node, f"/rewards/epochs/{epoch}")
    with pytest.raises(SettlementMismatch, match=f"input event {forged.id} is not valid"):
        audit_epoch(config, node.key.public_key, parse_event(body["record"]), served, epoch)


async def test_unknown_epochs_and_bad_numbers_get_problems(node: Node) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(node.http_url + "/rewards/epochs/2") as response:
            assert response.status == 404
            assert (await response.json())["reason"] == "invalid"
        async with http.get(node.http_url + "/rewards/epochs/x1") as response:
            assert response.status == 400
        async with http.get(node.http_url + "/rewards/epochs/2/proof/nobody") as response:
            assert response.status == 400


async def test_a_bond_on_a_misleading_post_is_slashed_on_chain(tmp_path: Path) -> None:
    """Epoch 5 pays an author, who bonds KOIN on a post of epoch 6; the node's notes label
    settles it as misleading, so settling epoch 6 slashes the bond on chain and pays the writer."""
    from koinon.chain.rewards import rewards_beside
    from koinon.rewards.accounts import ethereum_secret
    from koinon.rewards.events import BOND_DECLARATION

    genesis = int(time.time()) - 10 * EPOCH_SECONDS
    node = Node(settings(tmp_path / "node", genesis, anchoring=True))
    await node.start()
    try:
        assert node.settlement is not None and node._chain is not None
        config = node.settlement.config
        await publish_all(node.ws_url, epoch_events(config.window(5)[0]))
        paid = await node.settlement.settle(5)
        author_key, writer_key = KEYS[1], KEYS[4]
        operator = rewards_beside(node._chain, node.key.raw, data_dir=tmp_path / "node" / "chain")
        author = operator.as_account(ethereum_secret(author_key))
        leaf = paid.payout_of(pubkey_of(author_key))
        assert leaf is not None
        operator.distributor.claim(leaf, paid.proof(leaf))
        stake = leaf.amount // 2

        start6 = config.window(6)[0]
        claim = make_event(author_key, 1, "a dubious claim", created_at=start6 + 1)
        author.bonds.bond(bytes.fromhex(claim.id), stake)
        declaration = make_event(
            author_key, BOND_DECLARATION, "", [["e", claim.id], ["amount", str(stake)]], start6 + 2
        )
        label = make_event(
            node.key.raw,
            1985,
            "",
            [
                ["L", "koinon.notes"],
                ["l", "misleading", "koinon.notes"],
                ["e", claim.id],
                ["writer", pubkey_of(writer_key)],
            ],
            start6 + 50,
        )
        async with connect(node.ws_url) as client:
            for event in [claim, declaration, label, *epoch_events(start6)[5:]]:
                assert await client.publish(event) == (True, "")
        settled = await node.settlement.settle(6)

        (slash,) = settled.result.slashes
        assert (slash.event_id, slash.owner, slash.amount) == (
            claim.id,
            pubkey_of(author_key),
            stake,
        )
        writer = next(p for p in settled.result.payouts if p.pubkey == pubkey_of(writer_key))
        assert writer.notes == slash.to_writers > 0
        assert author.bonds.bond_of(bytes.fromhex(claim.id)) == 0
        assert author.bonds.is_settled(bytes.fromhex(claim.id))
        assert author.token.balance_of() == leaf.amount - stake  # the slash was not returned
    finally:
        await node.stop()
