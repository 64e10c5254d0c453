"""`koinon verify` and `koinon trace`: who published what, and when, without trusting a node."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from koinon.core import bech32, kinds
from koinon.core.event import Event
from koinon.core.keys import npub, parse_event_id
from koinon.errors import KoinonError
from koinon.ledger.verify import OnChainAnchor, Report, check_chain, verify_receipt

DEFAULT_NODE = "http://127.0.0.1:7447"


class VerifyError(KoinonError):
    """The node could not be asked, or answered out of protocol."""


def node_default() -> str:
    relay = os.environ.get("KOINON_RELAY")
    return "http" + relay[2:] if relay and relay.startswith("ws") else DEFAULT_NODE


def register(commands: Any) -> None:
    """Add the `verify` and `trace` commands."""
    for name, helptext, description in (
        (
            "verify",
            "prove who published an event, and when",
            "Fetch an event's receipt from a node and check every link independently: the "
            "author's signature, inclusion in the node's signed log, consistency with the anchored "
            "tree head, and the anchor on the chain. Exits non-zero naming the first failed check.",
        ),
        (
            "trace",
            "follow a repost or quote back to its original",
            "Follow reposts (kinds 6 and 16) and quotes (q tags) back to the original event, "
            "verifying every hop like `koinon verify`.",
        ),
    ):
        cmd = commands.add_parser(name, help=helptext, description=description)
        cmd.add_argument("event", help="event id: hex, note1… or nevent1…")
        cmd.add_argument(
            "--node",
            default=node_default(),
            help=f"the node's HTTP address (default: from $KOINON_RELAY, or {DEFAULT_NODE})",
        )
        cmd.add_argument(
            "--chain-rpc",
            metavar="URL",
            help="read the anchor from this JSON-RPC endpoint of the chain (default: ask the "
            "node, which is all there is when its chain is embedded)",
        )
        cmd.add_argument("--json", action="store_true", help="print the result as JSON")
        cmd.set_defaults(run=verify_one if name == "verify" else trace)


async def fetch_json(http: aiohttp.ClientSession, url: str) -> Any:
    """GET a JSON document; None for 404; `VerifyError` for anything else that is wrong."""
    try:
        async with http.get(url) as response:
            body = await response.read()
            if response.status == 404:
                return None
            if response.status != 200:
                detail = orjson.loads(body).get("detail", "") if body else ""
                raise VerifyError(f"{url}: HTTP {response.status} {detail}".strip())
            return orjson.loads(body)
    except (aiohttp.ClientError, OSError) as exc:
        raise VerifyError(f"cannot reach {url}: {exc}") from None
    except orjson.JSONDecodeError:
        raise VerifyError(f"{url} did not answer JSON") from None


async def _on_chain(
    http: aiohttp.ClientSession, report: Report, node: str, chain_rpc: str | None
) -> OnChainAnchor | None:
    anchor = report.anchor
    assert anchor is not None
    if chain_rpc:
        from koinon.chain.reader import read_anchor  # web3 is slow to import; only when needed

        found: OnChainAnchor | None = await asyncio.to_thread(
            read_anchor, chain_rpc, anchor.contract, anchor.operator, anchor.index
        )
        return found
    body = await fetch_json(http, f"{node}/chain/anchor/{anchor.operator}/{anchor.index}")
    if not isinstance(body, dict):
        return None
    try:
        return OnChainAnchor(
            bytes.fromhex(body["root"]),
            int(body["size"]),
            int(body["block_number"]),
            int(body["block_time"]),
        )
    except (KeyError, TypeError, ValueError):
        raise VerifyError(f"{node} answered a malformed chain record") from None


async def check(
    http: aiohttp.ClientSession, node: str, event_id: str, chain_rpc: str | None
) -> Report:
    """Verify one event against `node`."""
    info = await fetch_json(http, f"{node}/ledger")
    if not isinstance(info, dict) or not isinstance(info.get("node"), str):
        raise VerifyError(f"{node} does not serve a Koinon ledger")
    receipt = await fetch_json(http, f"{node}/ledger/receipt/{event_id}")
    if not isinstance(receipt, dict):
        raise VerifyError(f"{node} has no record of event {event_id}")
    report = verify_receipt(receipt, event_id, info["node"])
    if report.anchor is not None and all(c.ok for c in report.checks):
        check_chain(report, await _on_chain(http, report, node, chain_rpc))
    return report


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def summary(report: Report) -> dict[str, Any]:
    """The facts a report establishes, for printing or JSON."""
    out: dict[str, Any] = {
        "event": report.event_id,
        "ok": report.ok,
        "erased": report.erased,
        "checks": [c.__dict__ for c in report.checks],
    }
    if report.entry:
        out["author"] = npub(report.entry.pubkey)
    if report.index is not None:
        out["log_index"] = report.index
    if report.anchor:
        out["anchored_root"] = report.anchor.root.hex()
        out["anchored_size"] = report.anchor.size
        out["tx"] = report.anchor.tx_hash
    if report.on_chain:
        out["block"] = report.on_chain.block_number
        out["block_time"] = report.on_chain.block_time
        out["existed_no_later_than"] = _when(report.on_chain.block_time)
    return out


def _print(report: Report, as_json: bool) -> None:
    facts = summary(report)
    if as_json:
        print(orjson.dumps(facts).decode())
        return
    print(f"event      {bech32.encode_simple('note', report.event_id)}")
    for check_ in report.checks:
        print(f"  {'ok  ' if check_.ok else 'FAIL'} {check_.name}: {check_.detail}")
    for key in ("author", "log_index", "anchored_root", "block", "existed_no_later_than"):
        if key in facts:
            print(f"{key.replace('_', ' '):<10} {facts[key]}")
    if report.erased:
        print("status     existed, content erased")


def _failure(report: Report) -> str:
    failed = next((c for c in report.checks if not c.ok), None)
    return f"{failed.name}: {failed.detail}" if failed else "not anchored on chain yet"


async def verify_one(args: argparse.Namespace) -> int:
    """Verify one event; exit 1 with the failed check."""
    node = args.node.rstrip("/")
    async with aiohttp.ClientSession() as http:
        report = await check(http, node, parse_event_id(args.event), args.chain_rpc)
    _print(report, args.json)
    if not report.ok:
        print(f"koinon: verification failed: {_failure(report)}", file=sys.stderr)
        return 1
    return 0


def parent_of(event: Event) -> str | None:
    """The event a repost or quote points to (NIP-18), if any."""
    if event.kind in (kinds.REPOST, kinds.GENERIC_REPOST):
        return event.first_tag("e")
    return event.first_tag("q")


async def trace(args: argparse.Namespace) -> int:
    """Follow reposts and quotes to the original, verifying each hop."""
    node = args.node.rstrip("/")
    current: str | None = parse_event_id(args.event)
    seen: set[str] = set()
    hops: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        while current is not None:
            if current in seen:
                raise VerifyError(f"reposts form a loop at {current}")
            seen.add(current)
            report = await check(http, node, current, args.chain_rpc)
            hops.append(summary(report))
            if not args.json:
                print(f"hop {len(hops)}")
                _print(report, False)
            if not report.ok:
                if args.json:
                    print(orjson.dumps(hops).decode())
                print(
                    f"koinon: trace broken at hop {len(hops)}: {_failure(report)}", file=sys.stderr
                )
                return 1
            current = parent_of(report.event) if report.event else None
    if args.json:
        print(orjson.dumps(hops).decode())
    else:
        print(f"original   {hops[-1]['event']} by {hops[-1].get('author')}")
    return 0
