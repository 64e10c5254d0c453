"""Frames queued together are written together: every length class of the websocket header
(under 126 bytes, up to 65,535, beyond) must reach a real client intact and in order."""

from __future__ import annotations

import pytest

from koinon.node import Node
from tests.helpers import connect, make_event, make_key, pubkey_of

pytestmark = pytest.mark.system

DANA = make_key(91)


async def test_bursts_of_frames_of_every_size_arrive_intact(node: Node) -> None:
    # Content sizes put the EVENT frames (and their JSON) in each header length class.
    sizes = [0, 10, 300, 5_000, 70_000, 120_000, 1]
    events = [make_event(DANA, 1, "x" * n, [["t", "burst"]]) for n in sizes]
    async with connect(node.ws_url) as client:
        for event in events:  # pipelined: the OKs come back as one burst per commit
            await client.send(["EVENT", event.to_dict()])
        oks = [await client.expect(lambda f: f[0] == "OK") for _ in events]
        assert sorted(ok[1] for ok in oks) == sorted(e.id for e in events)
        assert all(ok[2] is True for ok in oks)
        # One REQ queues every stored event and the EOSE at once.
        found = await client.req("all", {"authors": [pubkey_of(DANA)], "limit": 100})
        newest_first = sorted(events, key=lambda e: (-e.created_at, e.id))
        assert found == [e.to_dict() for e in newest_first]
