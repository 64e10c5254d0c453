"""Acknowledged means durable: SIGKILL a real node in the middle of a pipelined ingest, restart it
on the same data folder, and find every event it said `OK true` to."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import aiohttp
import orjson
import pytest

from koinon.core.event import Event
from tests.helpers import (
    NodeProcess,
    connect,
    make_event,
    make_key,
    pubkey_of,
    start_node_process,
)

pytestmark = pytest.mark.system

CLIENTS = 4
EVENTS_PER_CLIENT = 1_200
KILL_AFTER_OKS = 1_500
QUERY_CHUNK = 500
KEYS = [make_key(500 + c) for c in range(CLIENTS)]
AUTHORS = [pubkey_of(key) for key in KEYS]


class Ingest:
    """What the clients sent and what the node acknowledged, shared by the client tasks."""

    def __init__(self, node: NodeProcess) -> None:
        self.node = node
        self.sent = 0
        self.acked: set[str] = set()
        self.refused: list[str] = []
        self.killed_at: int | None = None  # OKs received when the kill happened

    def on_frame(self, data: str) -> None:
        frame = orjson.loads(data)
        if frame[0] != "OK":
            return
        if frame[2] is True:
            self.acked.add(frame[1])
        else:
            self.refused.append(f"{frame[1]}: {frame[3]}")
        if self.killed_at is None and len(self.acked) >= KILL_AFTER_OKS:
            self.killed_at = len(self.acked)
            self.node.proc.kill()  # SIGKILL, right now, while sends are in flight


async def run_client(ingest: Ingest, events: list[Event]) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(ingest.node.ws_url) as ws:

        async def send_all() -> None:
            with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
                for event in events:
                    await ws.send_str(orjson.dumps(["EVENT", event.to_dict()]).decode())
                    ingest.sent += 1

        sender = asyncio.create_task(send_all())
        try:
            async for message in ws:  # ends when the node dies and the socket closes
                if message.type is aiohttp.WSMsgType.TEXT:
                    ingest.on_frame(message.data)
        finally:
            await sender


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


async def test_every_acknowledged_event_survives_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    batches = [
        [make_event(key, 1, f"ingest {c}/{i}") for i in range(EVENTS_PER_CLIENT)]
        for c, key in enumerate(KEYS)
    ]
    node = start_node_process(data_dir)
    ingest = Ingest(node)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(run_client(ingest, batch) for batch in batches)), timeout=90
        )
    finally:
        node.kill()
    assert node.proc.returncode == -9, f"the node was not killed: {node.proc.returncode}"
    assert ingest.killed_at is not None, f"only {len(ingest.acked)} OKs before the node ended"
    assert ingest.refused == []
    unacknowledged = ingest.sent - len(ingest.acked)
    assert unacknowledged > 0, "the kill came after the ingest; it proves nothing"
    assert integrity(data_dir / "events.sqlite3") == "ok"

    restarted = start_node_process(data_dir)
    try:
        acked = sorted(ingest.acked)
        found: set[str] = set()
        async with connect(restarted.ws_url, timeout=30) as client:
            for start in range(0, len(acked), QUERY_CHUNK):
                chunk = acked[start : start + QUERY_CHUNK]
                events = await client.query({"ids": chunk, "limit": len(chunk)})
                found.update(e["id"] for e in events)
            total = await client.count("all", {"authors": AUTHORS})
    finally:
        assert restarted.stop() == 0, restarted.stderr_text()
    missing = ingest.acked - found
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    assert len(ingest.acked) <= total <= ingest.sent
    assert integrity(data_dir / "events.sqlite3") == "ok"
