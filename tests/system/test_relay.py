"""The relay over real websockets and HTTP, against an in-process node on 127.0.0.1.

After every bad input the test checks that the same connection still works and that nothing
invalid was stored (`assert_usable_and_absent`).
"""

from __future__ import annotations

import gc
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from koinon.core.pow import difficulty
from koinon.node import Node, NodeError
from koinon.settings import Settings
from tests.conftest import MakeNode
from tests.helpers import (
    WsClient,
    auth_event,
    connect,
    ids_of,
    make_event,
    make_key,
    mine_event,
    pubkey_of,
    with_fields,
)

pytestmark = pytest.mark.system

ALICE, BOB, CAROL = make_key(11), make_key(12), make_key(13)


def prefix(message: str) -> str:
    """The NIP-01 machine-readable prefix of an OK/CLOSED/NOTICE message."""
    return message.split(":", 1)[0]


async def assert_usable_and_absent(client: WsClient, *absent_ids: str) -> None:
    """The connection still answers (a fresh event is accepted) and `absent_ids` are not stored."""
    fresh = make_event(CAROL, 1, f"still usable {time.monotonic_ns()}")
    assert await client.publish(fresh) == (True, "")
    if absent_ids:
        assert await client.query({"ids": list(absent_ids)}) == []
    assert ids_of(await client.query({"ids": [fresh.id]})) == [fresh.id]


def frames_for(frames: list[list[Any]], sub_id: str) -> list[list[Any]]:
    return [f for f in frames if len(f) > 1 and f[1] == sub_id]


# -- publishing and subscribing -------------------------------------------------------------------


async def test_event_is_acknowledged_and_then_served(node: Node) -> None:
    event = make_event(ALICE, 1, "hello relay", [["t", "intro"]])
    async with connect(node.ws_url) as client:
        await client.send(["EVENT", event.to_dict()])
        assert await client.expect(lambda f: f[0] == "OK") == ["OK", event.id, True, ""]
        found = await client.req("s1", {"authors": [pubkey_of(ALICE)]})
        assert found == [event.to_dict()]
        assert await client.req("s2", {"#t": ["intro"]}, {"ids": [event.id]}) == found
        # A duplicate is acknowledged (NIP-01: true with a duplicate: message) and not re-stored.
        accepted, message = await client.publish(event)
        assert accepted and prefix(message) == "duplicate"
        assert await client.count("c", {"ids": [event.id]}) == 1


async def test_live_subscription_delivers_new_events_after_eose(node: Node) -> None:
    old = make_event(ALICE, 1, "stored before")
    async with connect(node.ws_url) as reader, connect(node.ws_url) as writer:
        assert (await writer.publish(old))[0]
        assert ids_of(await reader.req("live", {"kinds": [1]})) == [old.id]
        new = make_event(BOB, 1, "arrives later")
        assert await writer.publish(new) == (True, "")
        frame = await reader.expect(lambda f: f[0] == "EVENT" and f[1] == "live")
        assert frame[2] == new.to_dict()
        # Events that do not match the subscription are not delivered.
        other = make_event(BOB, 7, "+", [["e", new.id]])
        assert (await writer.publish(other))[0]
        await reader.barrier()
        assert frames_for(reader.drain_pending(), "live") == []


async def test_close_stops_delivery(node: Node) -> None:
    async with connect(node.ws_url) as reader, connect(node.ws_url) as writer:
        assert await reader.req("sub", {"kinds": [1]}) == []
        first = make_event(BOB, 1, "delivered")
        assert (await writer.publish(first))[0]
        assert (await reader.expect(lambda f: f[0] == "EVENT"))[2]["id"] == first.id
        await reader.close_sub("sub")
        second = make_event(BOB, 1, "not delivered")
        assert (await writer.publish(second))[0]
        # The reader's own publish: fan-out to its subscriptions is queued before its OK.
        third = make_event(ALICE, 1, "own event, not delivered either")
        assert (await reader.publish(third))[0]
        await reader.barrier()
        assert frames_for(reader.drain_pending(), "sub") == []


async def test_count(node: Node) -> None:
    notes = [make_event(ALICE, 1, f"note {i}") for i in range(3)]
    reaction = make_event(BOB, 7, "+", [["e", notes[0].id]])
    async with connect(node.ws_url) as client:
        for event in [*notes, reaction]:
            assert (await client.publish(event))[0]
        assert await client.count("c1", {"kinds": [1]}) == 3
        assert await client.count("c2", {"kinds": [1], "limit": 1}) == 3
        # Several filters: distinct events, not the sum.
        both = await client.count("c3", {"authors": [pubkey_of(ALICE)]}, {"ids": [notes[0].id]})
        assert both == 3
        assert await client.count("c4", {"kinds": [1, 7]}, {"#e": [notes[0].id]}) == 4
        assert await client.count("c5", {"kinds": [30023]}) == 0


async def test_ephemeral_events_are_delivered_live_but_not_stored(node: Node) -> None:
    async with connect(node.ws_url) as reader, connect(node.ws_url) as writer:
        assert await reader.req("eph", {"kinds": [20001, 29999]}) == []
        ephemeral = make_event(ALICE, 20001, "typing…")
        assert await writer.publish(ephemeral) == (True, "")
        assert (await reader.expect(lambda f: f[0] == "EVENT"))[2] == ephemeral.to_dict()
        assert await writer.query({"ids": [ephemeral.id]}) == []
        assert await writer.count("c", {"kinds": [20001]}) == 0


async def test_replaceable_event_keeps_the_newest(node: Node) -> None:
    now = int(time.time())
    old = make_event(ALICE, 0, '{"name":"old"}', (), now - 100)
    new = make_event(ALICE, 0, '{"name":"new"}', (), now - 50)
    async with connect(node.ws_url) as client:
        assert (await client.publish(old))[0]
        assert (await client.publish(new))[0]
        assert ids_of(await client.query({"kinds": [0], "authors": [pubkey_of(ALICE)]})) == [new.id]
        stale = make_event(ALICE, 0, '{"name":"stale"}', (), now - 75)
        accepted, message = await client.publish(stale)
        assert not accepted and prefix(message) == "duplicate"
        assert await client.query({"ids": [old.id, stale.id]}) == []
        a1 = make_event(ALICE, 30023, "a1", [["d", "a"]], now - 10)
        a2 = make_event(ALICE, 30023, "a2", [["d", "a"]], now - 5)
        b1 = make_event(ALICE, 30023, "b1", [["d", "b"]], now - 10)
        for event in (a1, a2, b1):
            assert (await client.publish(event))[0]
        assert ids_of(await client.query({"kinds": [30023]})) == [a2.id, b1.id]


async def test_nip09_deletion(node: Node) -> None:
    async with connect(node.ws_url) as client:
        note = make_event(ALICE, 1, "regret")
        bobs = make_event(BOB, 1, "bob's")
        kept = make_event(ALICE, 1, "keep this")
        for event in (note, bobs, kept):
            assert (await client.publish(event))[0]
        delete = make_event(ALICE, 5, "oops", [["e", note.id], ["e", bobs.id]])
        assert (await client.publish(delete))[0]
        assert ids_of(await client.query({"ids": [note.id, bobs.id]})) == [bobs.id]
        accepted, message = await client.publish(note)
        assert not accepted and prefix(message) == "blocked"
        assert ids_of(await client.query({"kinds": [5], "authors": [pubkey_of(ALICE)]})) == [
            delete.id
        ]
        forged = make_event(BOB, 5, "", [["e", kept.id]])
        assert (await client.publish(forged))[0]
        assert ids_of(await client.query({"ids": [kept.id]})) == [kept.id]


# -- NIP-11 and NIP-42 ----------------------------------------------------------------------------


async def test_nip11_document(node: Node) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(node.http_url, headers={"Accept": "application/nostr+json"}) as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/nostr+json"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        info = await response.json(content_type=None)
    assert {1, 9, 11, 42, 45} <= set(info["supported_nips"])
    assert len(info["pubkey"]) == 64
    limits = node.settings.limits
    assert info["limitation"]["max_message_length"] == limits.max_message_bytes
    assert info["limitation"]["max_subscriptions"] == limits.max_subscriptions
    assert info["limitation"]["auth_required"] is False


async def test_nip42_auth(node: Node) -> None:
    async with connect(node.ws_url) as client:
        challenge = await client.wait_challenge()
        wrong = auth_event(ALICE, node.ws_url, "not-the-challenge")
        await client.send(["AUTH", wrong.to_dict()])
        frame = await client.expect(lambda f: f[0] == "OK" and f[1] == wrong.id)
        assert frame[2] is False and prefix(frame[3]) == "invalid"
        elsewhere = auth_event(ALICE, "ws://127.0.0.1:1", challenge)
        await client.send(["AUTH", elsewhere.to_dict()])
        frame = await client.expect(lambda f: f[0] == "OK" and f[1] == elsewhere.id)
        assert frame[2] is False and prefix(frame[3]) == "invalid"
        assert await client.auth(ALICE, node.ws_url) == (True, "")
        # AUTH events are not stored.
        assert await client.query({"kinds": [22242]}) == []


@pytest.mark.parametrize("node", [{"auth_required_for_write": True}], indirect=True)
async def test_auth_to_write(node: Node) -> None:
    event = make_event(ALICE, 1, "members only")
    async with connect(node.ws_url) as client:
        accepted, message = await client.publish(event)
        assert not accepted and prefix(message) == "auth-required"
        assert await client.query({"ids": [event.id]}) == []
        assert await client.auth(ALICE, node.ws_url) == (True, "")
        assert await client.publish(event) == (True, "")
        assert ids_of(await client.query({"ids": [event.id]})) == [event.id]


@pytest.mark.parametrize("node", [{"auth_required_for_read": True}], indirect=True)
async def test_auth_to_read(node: Node) -> None:
    async with connect(node.ws_url) as client:
        await client.send(["REQ", "r", {}])
        frame = await client.expect(lambda f: f[0] == "CLOSED")
        assert frame[1] == "r" and prefix(frame[2]) == "auth-required"
        assert await client.auth(BOB, node.ws_url) == (True, "")
        assert await client.req("r", {"kinds": [1]}) == []


# -- admission policy -----------------------------------------------------------------------------


@pytest.mark.parametrize("node", [{"min_pow": 8}], indirect=True)
async def test_nip13_min_pow(node: Node) -> None:
    weak = next(
        e for i in range(100) if difficulty((e := make_event(ALICE, 1, f"lazy {i}")).id) < 8
    )
    mined = mine_event(ALICE, 8, 1, "worked for it")
    async with connect(node.ws_url) as client:
        accepted, message = await client.publish(weak)
        assert not accepted and prefix(message) == "pow"
        assert await client.publish(mined) == (True, "")
        assert ids_of(await client.query({"ids": [weak.id, mined.id]})) == [mined.id]


async def test_created_at_too_far_in_the_future(node: Node) -> None:
    future = make_event(ALICE, 1, "from the future", (), int(time.time()) + 3600)
    async with connect(node.ws_url) as client:
        accepted, message = await client.publish(future)
        assert not accepted and prefix(message) == "invalid"
        await assert_usable_and_absent(client, future.id)


async def test_bad_signature_and_wrong_id_are_invalid(node: Node) -> None:
    good = make_event(ALICE, 1, "genuine")
    other = make_event(BOB, 1, "someone else's")
    bad_sig = with_fields(good, sig=other.sig)
    wrong_id = with_fields(good, content="edited after signing")
    stolen = with_fields(other, pubkey=pubkey_of(ALICE))
    async with connect(node.ws_url) as client:
        for raw in (bad_sig, wrong_id, stolen):
            accepted, message = await client.publish(raw)
            assert not accepted and prefix(message) == "invalid", raw
        await assert_usable_and_absent(client, good.id, other.id)
        assert await client.count("all", {"authors": [pubkey_of(ALICE), pubkey_of(BOB)]}) == 0


@pytest.mark.parametrize(
    "text",
    [
        '["EVENT", {',
        "not json at all",
        "{}",
        "[]",
        "[1, 2]",
        '["HELLO"]',
        '["EVENT"]',
        '["EVENT", {"id": "x"}]',
    ],
    ids=["truncated", "text", "object", "empty", "no-verb", "unknown-verb", "no-event", "bad-id"],
)
async def test_malformed_frames_get_an_invalid_answer(node: Node, text: str) -> None:
    async with connect(node.ws_url) as client:
        await client.send_raw(text)
        frame = await client.expect(lambda f: f[0] in ("NOTICE", "OK", "CLOSED"))
        assert prefix(frame[-1]) == "invalid", frame
        if frame[0] == "OK":
            assert frame[2] is False
        await assert_usable_and_absent(client)
        assert await client.count("all", {"kinds": [1]}) == 1  # the fresh event only


async def test_malformed_json_gets_a_notice(node: Node) -> None:
    async with connect(node.ws_url) as client:
        await client.send_raw('["REQ", "x", {"kinds": [1]}')
        frame = await client.expect(lambda f: f[0] == "NOTICE")
        assert prefix(frame[1]) == "invalid"
        await assert_usable_and_absent(client)


@pytest.mark.parametrize("node", [{"max_message_bytes": 2_000}], indirect=True)
async def test_oversized_message_is_refused_and_the_connection_survives(node: Node) -> None:
    big = make_event(ALICE, 1, "x" * 3_000)
    async with connect(node.ws_url) as client:
        accepted, message = await client.publish(big)
        assert not accepted and prefix(message) == "invalid"
        huge_req = ["REQ", "big", {"#t": [f"topic{i:04}" for i in range(400)]}]
        await client.send(huge_req)
        frame = await client.expect(lambda f: f[0] == "CLOSED")
        assert frame[1] == "big" and prefix(frame[2]) == "invalid"
        await assert_usable_and_absent(client, big.id)


@pytest.mark.parametrize("node", [{"max_message_bytes": 2_000}], indirect=True)
async def test_oversized_message_limit_counts_bytes_not_characters(node: Node) -> None:
    wide = make_event(ALICE, 1, "é" * 1_500)  # about 1,700 characters, 3,200 bytes as JSON
    async with connect(node.ws_url) as client:
        accepted, message = await client.publish(wide)
        assert not accepted and prefix(message) == "invalid"
        await assert_usable_and_absent(client, wide.id)


@pytest.mark.parametrize("node", [{"max_subscriptions": 3}], indirect=True)
async def test_too_many_subscriptions(node: Node) -> None:
    async with connect(node.ws_url) as client:
        for i in range(3):
            assert await client.req(f"s{i}", {"kinds": [1]}) == []
        await client.send(["REQ", "s3", {"kinds": [1]}])
        frame = await client.expect(lambda f: f[0] in ("CLOSED", "EOSE") and f[1] == "s3")
        assert frame[0] == "CLOSED" and prefix(frame[2]) == "rate-limited"
        assert await client.req("s0", {"kinds": [7]}) == []  # replacing an open one is fine
        await client.close_sub("s1")
        assert await client.req("s3", {"kinds": [1]}) == []
        await client.close_sub("s0")  # room for assert_usable_and_absent's one-off queries
        await assert_usable_and_absent(client)


async def test_subscription_id_too_long(node: Node) -> None:
    async with connect(node.ws_url) as client:
        assert await client.req("a" * 64, {"kinds": [1]}) == []
        await client.send(["REQ", "b" * 65, {"kinds": [1]}])
        frame = await client.expect(lambda f: f[0] in ("NOTICE", "CLOSED", "EOSE"))
        assert frame[0] != "EOSE" and prefix(frame[-1]) == "invalid", frame
        await client.send(["REQ", "", {"kinds": [1]}])
        frame = await client.expect(lambda f: f[0] in ("NOTICE", "CLOSED", "EOSE"))
        assert frame[0] != "EOSE" and prefix(frame[-1]) == "invalid", frame
        await assert_usable_and_absent(client)


async def test_too_many_filters(node: Node) -> None:
    limit = node.settings.limits.max_filters
    async with connect(node.ws_url) as client:
        assert await client.req("ok", *[{"kinds": [i]} for i in range(limit)]) == []
        await client.send(["REQ", "many", *[{"kinds": [i]} for i in range(limit + 1)]])
        frame = await client.expect(lambda f: f[0] in ("CLOSED", "EOSE") and f[1] == "many")
        assert frame[0] == "CLOSED" and prefix(frame[2]) == "invalid"
        await client.send(["REQ", "bad", {"kinds": "1"}])
        frame = await client.expect(lambda f: f[0] in ("CLOSED", "EOSE") and f[1] == "bad")
        assert frame[0] == "CLOSED" and prefix(frame[2]) == "invalid"
        await assert_usable_and_absent(client)


async def test_rate_limit(make_node: MakeNode) -> None:
    # 0.001 events per second: after the burst of 2, no token comes back during the test.
    node = await make_node(events_per_second=0.001, event_burst=2)
    events = [make_event(ALICE, 1, f"burst {i}") for i in range(3)]
    async with connect(node.ws_url) as client, connect(node.ws_url) as other:
        assert await client.publish(events[0]) == (True, "")
        assert await client.publish(events[1]) == (True, "")
        accepted, message = await client.publish(events[2])
        assert not accepted and prefix(message) == "rate-limited"
        # The connection still reads, and the limit is per connection.
        stored = await client.query({"ids": [e.id for e in events]})
        assert sorted(ids_of(stored)) == sorted([events[0].id, events[1].id])
        assert await other.publish(events[2]) == (True, "")


# -- HTTP API -------------------------------------------------------------------------------------


async def post_event(node: Node, body: Any) -> tuple[int, str, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{node.http_url}/api/events", json=body) as response,
    ):
        return response.status, response.content_type, await response.json(content_type=None)


def assert_problem(status: int, content_type: str, body: dict[str, Any], reason: str) -> None:
    assert content_type == "application/problem+json"
    assert {"type", "title", "status", "detail", "reason"} <= set(body)
    assert body["status"] == status >= 400
    assert body["reason"] == reason


async def test_http_publish_and_query(node: Node) -> None:
    event = make_event(ALICE, 1, "over http", [["t", "http"]])
    status, _, body = await post_event(node, event.to_dict())
    assert status == 200 and body["ok"] is True
    async with connect(node.ws_url) as client:
        assert ids_of(await client.query({"ids": [event.id]})) == [event.id]
    flt = '{"#t":["http"]}'
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{node.http_url}/api/events", params={"filter": flt}) as response,
    ):
        assert response.status == 200
        assert await response.json() == [event.to_dict()]
    status, content_type, body = await post_event(node, event.to_dict())
    assert_problem(status, content_type, body, "duplicate")


async def test_http_invalid_events_are_problem_json(node: Node) -> None:
    good = make_event(ALICE, 1, "genuine")
    for raw in (
        with_fields(good, content="tampered"),
        with_fields(good, sig=make_event(BOB, 1, "x").sig),
        {"not": "an event"},
        [1, 2, 3],
        with_fields(make_event(ALICE, 1, "later", (), int(time.time()) + 3600)),
    ):
        status, content_type, body = await post_event(node, raw)
        assert status == 400
        assert_problem(status, content_type, body, "invalid")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{node.http_url}/api/events", data=b"{not json") as response,
    ):
        body = await response.json(content_type=None)
        assert_problem(response.status, response.content_type, body, "invalid")
        assert response.status == 400
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{node.http_url}/api/events", params={"filter": "{bad"}) as response,
    ):
        body = await response.json(content_type=None)
        assert_problem(response.status, response.content_type, body, "invalid")
    async with connect(node.ws_url) as client:
        assert await client.count("all", {"authors": [pubkey_of(ALICE), pubkey_of(BOB)]}) == 0


# -- starting and stopping ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_node_that_fails_to_start_releases_its_port(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "node.key").write_text("not a key\n")
    for _attempt in range(5):  # another process may take the free port before the node does
        port = free_port()
        node = Node(Settings(data_dir=data_dir, port=port))
        try:
            await node.start()
        except NodeError as error:
            if "cannot listen" in str(error):
                continue
            port_released = can_bind(port)  # while the failure is being handled
            break
        await node.stop()
        pytest.fail("a node with an unreadable key started")
    else:
        pytest.fail("no free port could be bound")
    gc.collect()  # whatever the node left open goes now, inside this test
    assert port_released


def can_bind(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
