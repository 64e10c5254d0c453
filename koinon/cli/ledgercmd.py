"""`koinon ledger head`: fetch a node's signed tree head and check it extends the last one seen."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from koinon.cli import keystore
from koinon.cli.verifycmd import VerifyError, fetch_json, node_default
from koinon.core.event import parse_event
from koinon.errors import KoinonError
from koinon.ledger.heads import TreeHead, parse_tree_head
from koinon.ledger.merkle import verify_consistency

SEEN_FILE = "seen_heads.json"


class HistoryRewritten(KoinonError):
    """A node showed a head that does not extend one it showed before."""


def register(commands: Any) -> None:
    """Add the `ledger` command group."""
    ledger = commands.add_parser(
        "ledger",
        help="watch a node's transparency log",
        description="Inspect a node's append-only log. `head` fetches the newest signed tree head "
        "and proves it extends the last head this machine saw from that node, so a node that "
        "rewrites or forks its history is caught.",
    )
    sub = ledger.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    head = sub.add_parser(
        "head",
        help="fetch and check the newest tree head",
        description="Fetch the node's newest signed tree head, check its "
        "signature and its consistency with the last head seen, remember it.",
    )
    head.add_argument("--node", default=node_default(), help="the node's HTTP address")
    head.add_argument("--home", help="folder where seen heads are remembered")
    head.add_argument("--json", action="store_true", help="print the result as JSON")
    head.set_defaults(run=check_head)


def _seen_path(home: str | None) -> Path:
    return keystore.home(home) / SEEN_FILE


def _load_seen(path: Path) -> dict[str, Any]:
    try:
        seen = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        raise VerifyError(f"cannot read {path}: {exc}") from None
    return seen if isinstance(seen, dict) else {}


def _save_seen(path: Path, seen: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(seen))
    os.replace(tmp, path)


async def check_head(args: argparse.Namespace) -> int:
    """Fetch, verify against the last seen head, remember."""
    node_url = args.node.rstrip("/")
    path = _seen_path(args.home)
    seen = _load_seen(path)
    async with aiohttp.ClientSession() as http:
        info = await fetch_json(http, f"{node_url}/ledger")
        if not isinstance(info, dict) or not isinstance(info.get("node"), str):
            raise VerifyError(f"{node_url} does not serve a Koinon ledger")
        node = info["node"]
        body = await fetch_json(http, f"{node_url}/ledger/head")
        if not isinstance(body, dict):
            raise VerifyError(f"{node_url} has no signed tree head yet")
        head = parse_tree_head(parse_event(body.get("event")), node)
        previous = seen.get(node)
        extends = "first head seen from this node"
        if previous is not None:
            old = parse_tree_head(parse_event(previous), node)
            extends = await _check_extends(http, node_url, old, head)
    if previous is None or head.size >= parse_tree_head(parse_event(previous), node).size:
        seen[node] = head.event.to_dict()
        _save_seen(path, seen)
    result = {
        "node": node,
        "size": head.size,
        "root": head.root.hex(),
        "timestamp": head.timestamp,
        "consistency": extends,
    }
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        for key, value in result.items():
            print(f"{key:<12} {value}")
    return 0


async def _check_extends(
    http: aiohttp.ClientSession, node_url: str, old: TreeHead, new: TreeHead
) -> str:
    if new.size < old.size:
        old, new = new, old  # an older head served later must still be a prefix of the newer
    body = await fetch_json(
        http, f"{node_url}/ledger/proof/consistency?first={old.size}&second={new.size}"
    )
    proof = body.get("proof") if isinstance(body, dict) else None
    if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        raise VerifyError("the node gave no consistency proof")
    try:
        hashes = [bytes.fromhex(p) for p in proof]
    except ValueError:
        raise VerifyError("the node's consistency proof is not hex") from None
    if not verify_consistency(old.size, new.size, old.root, new.root, hashes):
        raise HistoryRewritten(
            f"node {old.node[:16]}… rewrote its history: its head of size {new.size} does not "
            f"extend the head of size {old.size} it signed before"
        )
    return f"extends the head of size {old.size} seen before"
