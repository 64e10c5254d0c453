"""The /ledger HTTP routes and kind-3961 tree heads of a real in-process node (127.0.0.1, SQLite,
websockets): heads, proofs and receipts checked with the pure verifiers, problem JSON for bad
requests, and a restart that keeps the log or refuses to start when the log was altered on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from koinon.core.event import Event, parse_event
from koinon.ledger import reference
from koinon.ledger.entry import LogEntry
from koinon.ledger.heads import TREE_HEAD, TreeHead, parse_tree_head
from koinon.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from koinon.ledger.verify import OnChainAnchor, Report, check_chain, verify_receipt
from koinon.node import Node, NodeError
from koinon.settings import Settings
from tests.conftest import MakeNode
from tests.helpers import connect, ids_of, make_event, make_key

pytestmark = pytest.mark.system

ALICE, BOB = make_key(500), make_key(501)


def notes(count: int, start: int = 0) -> list[Event]:
    return [make_event(ALICE if i % 2 else BOB, 1, f"ledger note {i}") for i in range(start, count)]


async def publish(node: Node, events: Sequence[Event]) -> None:
    """Publish one after another, so acceptance order is list order."""
    async with connect(node.ws_url) as client:
        for event in events:
            assert await client.publish(event) == (True, "")


async def get(node: Node, path: str) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as http, http.get(node.http_url + path) as response:
        return response.status, response.content_type, await response.json(content_type=None)


async def get_ok(node: Node, path: str) -> Any:
    status, content_type, body = await get(node, path)
    assert (status, content_type) == (200, "application/json"), body
    return body


def hashes_of(events: Sequence[Event]) -> list[bytes]:
    return [leaf_hash(LogEntry.of(e).encode()) for e in events]


async def signed_head(node: Node) -> tuple[TreeHead, dict[str, Any]]:
    """GET /ledger/head, checked against its own signed event and the node's key."""
    body = await get_ok(node, "/ledger/head")
    head = parse_tree_head(parse_event(body["event"]), node.key.public_key)
    assert (body["size"], body["root"], body["timestamp"], body["node"]) == (
        head.size,
        head.root.hex(),
        head.timestamp,
        node.key.public_key,
    )
    return head, body


@asynccontextmanager
async def running(data_dir: Path, **settings: Any) -> AsyncIterator[Node]:
    """A node on `data_dir` (new or reused) with `Settings` fields overridden, stopped on exit."""
    node = Node(Settings(data_dir=data_dir, host="127.0.0.1", port=0, **settings))
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


# -- heads and proofs -----------------------------------------------------------------------------


async def test_head_is_signed_by_the_node_and_covers_the_log(node: Node) -> None:
    events = notes(5)
    await publish(node, events)
    head, _ = await signed_head(node)
    assert head.size == 5
    assert head.root == reference.root(hashes_of(events))
    assert (await get_ok(node, "/ledger"))["node"] == node.key.public_key


async def test_inclusion_proofs_by_id_and_by_index_verify(node: Node) -> None:
    events = notes(5)
    await publish(node, events)
    head, _ = await signed_head(node)
    hashes = hashes_of(events)
    for index, event in enumerate(events):
        body = await get_ok(node, f"/ledger/proof/inclusion?id={event.id}")
        assert (body["index"], body["size"], body["root"]) == (index, 5, head.root.hex())
        assert body["leaf"] == LogEntry.of(event).encode().hex()
        proof = [bytes.fromhex(p) for p in body["proof"]]
        assert verify_inclusion(leaf_hash(bytes.fromhex(body["leaf"])), index, 5, proof, head.root)
    body = await get_ok(node, "/ledger/proof/inclusion?index=1&size=3")
    assert "leaf" not in body and body["root"] == reference.root(hashes[:3]).hex()
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert verify_inclusion(hashes[1], 1, 3, proof, bytes.fromhex(body["root"]))


async def test_consistency_proofs_verify_between_every_pair_of_sizes(node: Node) -> None:
    events = notes(5)
    await publish(node, events)
    head, _ = await signed_head(node)
    hashes = hashes_of(events)
    for second in range(1, 6):
        for first in range(second + 1):
            body = await get_ok(node, f"/ledger/proof/consistency?first={first}&second={second}")
            assert (body["first"], body["second"]) == (first, second)
            proof = [bytes.fromhex(p) for p in body["proof"]]
            first_root, second_root = (
                reference.root(hashes[:first]),
                reference.root(hashes[:second]),
            )
            assert verify_consistency(first, second, first_root, second_root, proof)
    assert reference.root(hashes) == head.root


async def test_tree_heads_are_published_as_kind_3961_events(node: Node) -> None:
    await publish(node, notes(3))
    head, _ = await signed_head(node)
    async with connect(node.ws_url) as client:
        found = await client.query({"kinds": [TREE_HEAD]})
        by_node = await client.query({"kinds": [TREE_HEAD], "authors": [node.key.public_key]})
    assert found == by_node and head.event.id in ids_of(found)
    for raw in found:
        parsed = parse_tree_head(parse_event(raw), node.key.public_key)  # verifies the signature
        assert parsed.size <= head.size
    # Heads are not logged themselves: the log still holds the three notes.
    assert (await signed_head(node))[0].size == 3


# -- receipts -------------------------------------------------------------------------------------


async def on_chain(node: Node, report: Report) -> OnChainAnchor:
    """What the node's chain holds for the report's anchor (GET /chain/anchor/...)."""
    assert report.anchor is not None
    body = await get_ok(node, f"/chain/anchor/{report.anchor.operator}/{report.anchor.index}")
    root, size = bytes.fromhex(body["root"]), body["size"]
    return OnChainAnchor(root, size, body["block_number"], body["block_time"])


async def assert_receipt_verifies(node: Node, event: Event, index: int) -> Report:
    """The receipt passes every link it holds: up to "not anchored yet", or through the chain."""
    body = await get_ok(node, f"/ledger/receipt/{event.id}")
    assert (body["event_id"], body["index"]) == (event.id, index)
    report = verify_receipt(body, event.id, node.key.public_key)
    if body["anchor"] is None:
        assert [c.name for c in report.checks if not c.ok] == ["anchor"]
        assert report.checks[-1].detail == "not anchored yet"
        assert not report.ok
    else:
        assert all(c.ok for c in report.checks), report.checks
        assert check_chain(report, await on_chain(node, report))
        assert report.ok
    return report


async def test_a_receipt_verifies_up_to_the_missing_anchor(tmp_path: Path) -> None:
    events = notes(4)
    async with running(tmp_path / "data", anchoring=False) as node:
        await publish(node, events)
        for index, event in enumerate(events):
            body = await get_ok(node, f"/ledger/receipt/{event.id}")
            assert (body["event"], body["erased"], body["anchor"]) == (event.to_dict(), False, None)
            report = await assert_receipt_verifies(node, event, index)
            assert report.event == event and report.index == index
            assert report.head is not None and report.head.size == 4


async def test_a_receipt_of_an_erased_event_still_proves_its_leaf(tmp_path: Path) -> None:
    target = make_event(ALICE, 1, "to be erased")
    deletion = make_event(ALICE, 5, "", [["e", target.id]])
    async with running(tmp_path / "data", anchoring=False) as node:
        await publish(node, [target, deletion])
        body = await get_ok(node, f"/ledger/receipt/{target.id}")
        assert body["event"] is None and body["erased"] is True
        report = await assert_receipt_verifies(node, target, 0)
        assert report.erased and report.entry == LogEntry.of(target)


async def test_an_anchored_receipt_verifies_through_the_chain(node: Node) -> None:
    events = notes(3)
    await publish(node, events)
    assert node.anchoring is not None
    await node.anchoring.anchor_now()  # the background task may have anchored a prefix already
    for index, event in enumerate(events):
        body = await get_ok(node, f"/ledger/receipt/{event.id}")
        assert body["anchor"] is not None
        report = await assert_receipt_verifies(node, event, index)
        assert report.anchor is not None and report.anchor.size > index


# -- bad requests ---------------------------------------------------------------------------------

UNKNOWN_ID = "ab" * 32
BAD_REQUESTS = [
    ("/ledger/proof/inclusion", 400),
    ("/ledger/proof/inclusion?id=not-an-id", 400),
    ("/ledger/proof/inclusion?index=abc", 400),
    ("/ledger/proof/inclusion?index=-1", 400),
    ("/ledger/proof/inclusion?index=\u0661", 400),  # ARABIC-INDIC DIGIT ONE
    ("/ledger/proof/inclusion?index=0&size=x", 400),
    ("/ledger/proof/consistency?first=1", 400),
    ("/ledger/proof/consistency?first=a&second=2", 400),
    ("/ledger/receipt/not-an-id", 400),
    (f"/ledger/proof/inclusion?id={UNKNOWN_ID}", 404),
    ("/ledger/proof/inclusion?index=3", 404),
    ("/ledger/proof/inclusion?index=0&size=4", 404),
    ("/ledger/proof/inclusion?index=2&size=2", 404),
    ("/ledger/proof/consistency?first=1&second=4", 404),
    (f"/ledger/receipt/{UNKNOWN_ID}", 404),
]


async def test_bad_parameters_get_problem_json(node: Node) -> None:
    await publish(node, notes(3))
    for path, expected in BAD_REQUESTS:
        status, content_type, body = await get(node, path)
        assert (status, content_type) == (expected, "application/problem+json"), path
        assert body["status"] == expected and body["type"] == "about:blank", path
        assert isinstance(body["title"], str) and isinstance(body["detail"], str), path
    # first > second cannot be proved; the route calls it "not found" (a 400 would fit as well).
    status, content_type, body = await get(node, "/ledger/proof/consistency?first=3&second=2")
    assert status in (400, 404) and content_type == "application/problem+json"


# -- restarts -------------------------------------------------------------------------------------


async def test_a_restarted_node_keeps_its_log_and_heads(make_node: MakeNode) -> None:
    first = await make_node()
    before = notes(4)
    await publish(first, before)
    old_head, _ = await signed_head(first)
    node_key = first.key.public_key
    await first.stop()
    async with running(first.settings.data_dir) as again:
        assert again.key.public_key == node_key
        head, _ = await signed_head(again)
        assert (head.size, head.root) == (old_head.size, old_head.root)
        async with connect(again.ws_url) as client:
            assert old_head.event.id in ids_of(await client.query({"kinds": [TREE_HEAD]}))
        after = notes(6, start=4)
        await publish(again, after)
        new_head, _ = await signed_head(again)
        assert new_head.size == 6
        assert new_head.root == reference.root(hashes_of(before + after))
        body = await get_ok(again, "/ledger/proof/consistency?first=4&second=6")
        proof = [bytes.fromhex(p) for p in body["proof"]]
        assert verify_consistency(4, 6, old_head.root, new_head.root, proof)
        for index, event in enumerate(before + after):
            await assert_receipt_verifies(again, event, index)


async def test_a_node_refuses_to_start_on_a_log_altered_after_a_signed_head(
    make_node: MakeNode,
) -> None:
    first = await make_node()
    await publish(first, notes(3))
    head, _ = await signed_head(first)
    assert head.size == 3
    await first.stop()
    database = first.settings.database_path
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        (leaf,) = conn.execute("SELECT leaf FROM log_entries WHERE idx = 1").fetchone()
        altered = bytes(leaf[:-1]) + bytes([leaf[-1] ^ 1])
        conn.execute("UPDATE log_entries SET leaf = ? WHERE idx = 1", (altered,))
    finally:
        conn.close()
    with pytest.raises(NodeError, match="signed head"):
        async with running(first.settings.data_dir):
            pytest.fail("a node with an altered log started")
