"""`koinon verify` and `koinon trace` against a real node process anchoring on its embedded EVM."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from koinon.core import bech32
from koinon.core.event import Event
from tests.helpers import (
    NodeProcess,
    connect,
    make_event,
    make_key,
    pubkey_of,
    start_node_process,
)

AUTHOR = make_key(11)
OTHER = make_key(12)


def koinon(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KOINON_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "koinon.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def wait_until_anchored(node: NodeProcess, size: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        anchors = requests.get(f"{node.http_url}/ledger/anchors", timeout=5).json()
        sizes = [int(dict((t[0], t[1]) for t in a["tags"])["size"]) for a in anchors]
        if sizes and max(sizes) >= size:
            return
        time.sleep(0.1)
    raise AssertionError(f"no anchor covered {size} leaves within 60 s")


@pytest.fixture(scope="module")
def anchoring_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    node = start_node_process(
        tmp_path_factory.mktemp("verify") / "data", "--anchor-interval", "0.3"
    )
    try:
        yield node
    finally:
        node.stop()


async def publish(node: NodeProcess, *events: Event) -> None:
    async with connect(node.ws_url) as client:
        for event in events:
            accepted, message = await client.publish(event)
            assert accepted, message


async def test_verify_proves_author_position_and_time(
    anchoring_node: NodeProcess, tmp_path: Path
) -> None:
    note = make_event(AUTHOR, content="provable")
    await publish(anchoring_node, note)
    size = requests.get(f"{anchoring_node.http_url}/ledger/head", timeout=5).json()["size"]
    wait_until_anchored(anchoring_node, size)
    result = koinon(
        "verify",
        bech32.encode_simple("note", note.id),
        "--node",
        anchoring_node.http_url,
        "--json",
        home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    facts = orjson.loads(result.stdout)
    assert facts["ok"] and not facts["erased"]
    assert facts["author"] == bech32.encode_simple("npub", note.pubkey)
    assert [c["name"] for c in facts["checks"]] == [
        "signature",
        "tree head",
        "inclusion",
        "anchored inclusion",
        "consistency",
        "chain",
    ]
    assert facts["block_time"] >= note.created_at - 1
    human = koinon("verify", note.id, "--node", anchoring_node.http_url, home=tmp_path)
    assert human.returncode == 0 and "existed no later than" in human.stdout


async def test_an_erased_event_verifies_as_existed(
    anchoring_node: NodeProcess, tmp_path: Path
) -> None:
    note = make_event(AUTHOR, content="regretted")
    await publish(anchoring_node, note)
    deletion = make_event(AUTHOR, kind=5, tags=[["e", note.id]])
    await publish(anchoring_node, deletion)
    size = requests.get(f"{anchoring_node.http_url}/ledger/head", timeout=5).json()["size"]
    wait_until_anchored(anchoring_node, size)
    result = koinon("verify", note.id, "--node", anchoring_node.http_url, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "existed, content erased" in result.stdout


async def test_trace_follows_repost_and_quote_to_the_original(
    anchoring_node: NodeProcess, tmp_path: Path
) -> None:
    original = make_event(AUTHOR, content="the original")
    repost = make_event(
        OTHER,
        kind=6,
        content=original.to_json().decode(),
        tags=[["e", original.id], ["p", original.pubkey]],
    )
    quote = make_event(AUTHOR, content="look", tags=[["q", repost.id], ["p", pubkey_of(OTHER)]])
    await publish(anchoring_node, original, repost, quote)
    size = requests.get(f"{anchoring_node.http_url}/ledger/head", timeout=5).json()["size"]
    wait_until_anchored(anchoring_node, size)
    result = koinon("trace", quote.id, "--node", anchoring_node.http_url, "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    hops = orjson.loads(result.stdout)
    assert [h["event"] for h in hops] == [quote.id, repost.id, original.id]
    assert all(h["ok"] for h in hops)


def test_unknown_event_fails_with_one_line(anchoring_node: NodeProcess, tmp_path: Path) -> None:
    result = koinon("verify", "ab" * 32, "--node", anchoring_node.http_url, home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "koinon: error:" in result.stderr
    assert "Traceback" not in result.stderr


async def test_an_unanchored_event_does_not_verify(tmp_path: Path) -> None:
    node = start_node_process(tmp_path / "data", "--no-anchor")
    try:
        note = make_event(AUTHOR, content="not anchored")
        await publish(node, note)
        result = koinon("verify", note.id, "--node", node.http_url, home=tmp_path)
        assert result.returncode == 1
        assert "not anchored yet" in result.stderr
        assert "ok   inclusion" in result.stdout  # the log part still checks out
    finally:
        node.stop()
