"""Gift wraps (NIP-17/59) are served only to their authenticated recipient, and wait for them."""

from __future__ import annotations

import random

import pytest

from koinon.messaging.chat import wrap_message
from koinon.node import Node
from tests.helpers import SubscriptionClosed, connect, make_event, make_key, pubkey_of

ALICE, BOB, EVE = make_key(31), make_key(32), make_key(33)


def _wraps_for_bob(text: str) -> list[dict[str, object]]:
    now = make_event(ALICE).created_at
    wraps = wrap_message(ALICE, [pubkey_of(BOB)], text, now, random.Random(7).randbytes)
    return [w.to_dict() for w in wraps if w.first_tag("p") == pubkey_of(BOB)]


async def test_a_wrap_waits_for_its_recipient_and_only_they_get_it(node: Node) -> None:
    (wrap,) = _wraps_for_bob("for bob only")
    async with connect(node.ws_url) as sender:
        accepted, message = await sender.publish(wrap)  # Bob is offline: it is stored
        assert accepted, message
    async with connect(node.ws_url) as stranger:
        with pytest.raises(SubscriptionClosed, match="auth-required:"):
            await stranger.query({"kinds": [1059], "#p": [pubkey_of(BOB)]})
        assert await stranger.query({"ids": [wrap["id"]]}) == []  # not even by id
        assert wrap["id"] not in [e["id"] for e in await stranger.query({"limit": 50})]
        assert (await stranger.auth(EVE, node.ws_url))[0]
        with pytest.raises(SubscriptionClosed, match="restricted:"):
            await stranger.query({"kinds": [1059], "#p": [pubkey_of(BOB)]})
        with pytest.raises(SubscriptionClosed, match="restricted:"):
            await stranger.count("c", {"kinds": [1059]})
        assert await stranger.count("c2", {"ids": [wrap["id"]]}) == 0
    async with connect(node.ws_url) as bob:
        assert (await bob.auth(BOB, node.ws_url))[0]
        got = await bob.query({"kinds": [1059], "#p": [pubkey_of(BOB)]})
        assert [e["id"] for e in got] == [wrap["id"]]


async def test_live_wraps_reach_only_the_recipient(node: Node) -> None:
    async with connect(node.ws_url) as bob, connect(node.ws_url) as eve:
        assert (await bob.auth(BOB, node.ws_url))[0]
        assert (await eve.auth(EVE, node.ws_url))[0]
        await bob.req("inbox", {"kinds": [1059], "#p": [pubkey_of(BOB)]})
        await eve.req("everything", {"since": 0})
        (wrap,) = _wraps_for_bob("live")
        async with connect(node.ws_url) as sender:
            assert (await sender.publish(wrap))[0]
        frame = await bob.expect(lambda f: f[0] == "EVENT" and f[1] == "inbox")
        assert frame[2]["id"] == wrap["id"]
        await eve.barrier()
        delivered = [f[2]["id"] for f in eve.drain_pending() if f[0] == "EVENT"]
        assert wrap["id"] not in delivered
