"""`koinon rewards` against a real node process with its embedded chain: the node settles an epoch
on its own, then users show it, verify it from the signed inputs, claim their payouts through
the node's chain gateway, read balances and bond KOIN on a post; bad requests get one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import requests

from koinon.core.keys import SecretKey
from koinon.rewards.accounts import checksum_address, payout_address
from tests.helpers import (
    ROOT,
    NodeProcess,
    connect,
    make_event,
    make_key,
    pubkey_of,
    start_node_process,
)

pytestmark = [pytest.mark.system, pytest.mark.timeout(400)]

PASSPHRASE = "rewards test passphrase"
CLI = [sys.executable, "-m", "koinon.cli.main"]
EPOCH_SECONDS = 120
KEYS = [make_key(800 + i) for i in range(4)]


def koinon(node: NodeProcess, home: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOINON_")}
    env["KOINON_PASSPHRASE"] = PASSPHRASE
    env["KOINON_RELAY"] = node.ws_url
    if home is not None:
        env["KOINON_HOME"] = str(home)
    return subprocess.run(
        [*CLI, *args],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def ok(node: NodeProcess, home: Path | None, *args: str) -> str:
    result = koinon(node, home, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def fails(node: NodeProcess, home: Path | None, *args: str) -> str:
    result = koinon(node, home, *args)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("koinon: error: "), result.stderr
    return lines[0]


def wait_settled(node: NodeProcess, epoch: int, timeout: float = 60.0) -> None:
    """Poll the node (a real process) until it has settled `epoch` by itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(f"{node.http_url}/rewards/epochs/{epoch}", timeout=5).status_code == 200:
            return
        time.sleep(0.25)
    log = node.stderr_path.read_text(errors="replace")
    raise AssertionError(f"epoch {epoch} was not settled within {timeout} s; node log:\n{log}")


@pytest.fixture
def homes(tmp_path: Path) -> list[Path]:
    folders = []
    for i, key in enumerate(KEYS[:1]):
        home = tmp_path / f"user{i}"
        env = {**os.environ, "KOINON_PASSPHRASE": PASSPHRASE, "KOINON_HOME": str(home)}
        subprocess.run(
            [*CLI, "key", "import", SecretKey(key).hex],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        folders.append(home)
    return folders


async def test_settle_verify_claim_balance_and_bond(tmp_path: Path, homes: list[Path]) -> None:
    now = int(time.time())
    epoch = 10
    # Epoch 10 ends 25 s from now (time to start the node and publish); the node settles it by
    # itself right after.
    genesis = now + 25 - (epoch + 1) * EPOCH_SECONDS
    start = genesis + epoch * EPOCH_SECONDS
    node = start_node_process(
        tmp_path / "node",
        "--epoch-seconds",
        str(EPOCH_SECONDS),
        "--rewards-genesis",
        str(genesis),
        "--settle-delay",
        "0",
        "--trust-seed",
        pubkey_of(KEYS[0]),
        "--anchor-interval",
        "3600",
    )
    try:
        posts = [make_event(KEYS[i], 1, f"post {i}", created_at=start + i) for i in range(2)]
        async with connect(node.ws_url) as client:
            for key in KEYS:
                follows = [["p", pubkey_of(k)] for k in KEYS if k != key]
                assert (await client.publish(make_event(key, 3, "", follows, start)))[0]
            for post in posts:
                assert (await client.publish(post))[0]
            for i, key in enumerate(KEYS):
                for post in posts:
                    if post.pubkey != pubkey_of(key):
                        vote = make_event(
                            key, 7, "+", [["e", post.id], ["p", post.pubkey]], start + 5 + i
                        )
                        assert (await client.publish(vote))[0]
        wait_settled(node, epoch)

        shown = ok(node, None, "rewards", "epoch", str(epoch), "--node", node.http_url)
        assert f"epoch {epoch}: root " in shown and "10000 KOIN" in shown
        verified = orjson.loads(
            ok(node, None, "rewards", "verify-epoch", str(epoch), "--json", "--node", node.http_url)
        )
        assert verified["verified"] is True and verified["payouts"] == len(KEYS)
        assert verified["on_chain"] == "finalized"

        author = homes[0]
        claimed = ok(node, author, "rewards", "claim", str(epoch), "--node", node.http_url)
        assert f"for epoch {epoch}" in claimed
        again = fails(node, author, "rewards", "claim", str(epoch), "--node", node.http_url)
        assert "already claimed" in again
        account = checksum_address(payout_address(bytes.fromhex(pubkey_of(KEYS[0]))))
        balance = ok(node, author, "rewards", "balance", "--node", node.http_url)
        assert balance.startswith(account) and "KOIN" in balance and ": 0 KOIN" not in balance
        other = ok(node, None, "rewards", "balance", pubkey_of(KEYS[1]), "--node", node.http_url)
        assert other.strip().endswith(": 0 KOIN")  # not claimed yet

        bonded = ok(node, author, "rewards", "bond", posts[0].id, "1.5", "--node", node.http_url)
        assert "bonded 1.5 KOIN" in bonded
        async with connect(node.ws_url) as client:
            declarations = await client.query({"kinds": [3964], "authors": [pubkey_of(KEYS[0])]})
        assert declarations and ["amount", str(15 * 10**17)] in declarations[0]["tags"]

        assert "only on your own posts" in fails(
            node, author, "rewards", "bond", posts[1].id, "1", "--node", node.http_url
        )
        assert "at most 18 decimals" in fails(
            node,
            author,
            "rewards",
            "bond",
            posts[0].id,
            "0.0000000000000000001",
            "--node",
            node.http_url,
        )
        assert "not settled" in fails(node, None, "rewards", "epoch", "3", "--node", node.http_url)
    finally:
        node.stop()
