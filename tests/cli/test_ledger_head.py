"""`koinon ledger head`: a client that saw head A and later head B checks that B extends A."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from tests.helpers import connect, make_event, make_key, start_node_process


def _ledger_head(node_http: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KOINON_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "koinon.cli.main", "ledger", "head", "--node", node_http, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def _publish(ws_url: str, *contents: str) -> None:
    async with connect(ws_url) as client:
        for content in contents:
            accepted, message = await client.publish(make_event(make_key(5), content=content))
            assert accepted, message


async def test_heads_seen_over_time_must_extend_each_other(tmp_path: Path) -> None:
    node = start_node_process(tmp_path / "node", "--no-anchor")
    try:
        await _publish(node.ws_url, "one", "two")
        first = _ledger_head(node.http_url, tmp_path / "home")
        assert first.returncode == 0, first.stderr
        assert orjson.loads(first.stdout)["consistency"] == "first head seen from this node"
        await _publish(node.ws_url, "three")
        second = _ledger_head(node.http_url, tmp_path / "home")
        assert second.returncode == 0, second.stderr
        result = orjson.loads(second.stdout)
        assert result["size"] == 3
        assert result["consistency"] == "extends the head of size 2 seen before"
    finally:
        node.stop()


async def test_a_node_showing_two_histories_is_caught(tmp_path: Path) -> None:
    """The same node key serving diverging logs (a fork, or a rewrite after a restore)."""
    original = tmp_path / "node"
    node = start_node_process(original, "--no-anchor")
    try:
        await _publish(node.ws_url, "shared")
        assert _ledger_head(node.http_url, tmp_path / "home").returncode == 0
    finally:
        node.stop()
    forked = tmp_path / "fork"
    shutil.copytree(original, forked)
    honest = start_node_process(original, "--no-anchor")
    fork = start_node_process(forked, "--no-anchor")
    try:
        await _publish(honest.ws_url, "what really happened")
        await _publish(fork.ws_url, "something else", "and more")
        seen = _ledger_head(honest.http_url, tmp_path / "home")
        assert seen.returncode == 0, seen.stderr
        caught = _ledger_head(fork.http_url, tmp_path / "home")
        assert caught.returncode == 1
        lines = caught.stderr.strip().splitlines()
        assert len(lines) == 1 and "rewrote its history" in lines[0], caught.stderr
        assert "Traceback" not in caught.stderr
    finally:
        honest.stop()
        fork.stop()
