"""The CLI's side of franking: ask a node for a stamp (NIP-98), learn which node keys to trust."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
import orjson

from koinon.cli.client import DEFAULT_TIMEOUT, RelayError
from koinon.cli.lines import warn
from koinon.core import httpauth
from koinon.core.event import is_hex
from koinon.core.keys import SecretKey, parse_public_key
from koinon.errors import KoinonError
from koinon.messaging.franking import FrankingStamp, verify_stamp

STAMP_PATH = "/api/franking/stamp"


def http_url(relay_url: str) -> str:
    """The HTTP address of the node serving a ws:// or wss:// relay URL (same host and port)."""
    url = relay_url.strip().rstrip("/")
    if url.startswith("ws://") or url.startswith("wss://"):
        return "http" + url[2:]
    return url


async def _call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.request(method, url, **kwargs) as response,
        ):
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise RelayError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    try:
        return status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, None


async def node_pubkey(node_url: str) -> str:
    """The node's key, from its NIP-11 document (`pubkey`)."""
    base = http_url(node_url)
    status, info = await _call("GET", base + "/", headers={"Accept": "application/nostr+json"})
    key = info.get("pubkey") if isinstance(info, dict) else None
    if status != 200 or not is_hex(key, 64):
        raise RelayError(f"{base} does not publish a node key (NIP-11 'pubkey')")
    assert isinstance(key, str)
    return key


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    """--trust-node, for commands that check stamps on what they read."""
    parser.add_argument(
        "--trust-node",
        action="append",
        default=[],
        metavar="KEY",
        help="also accept stamps by this node key (npub or hex; repeatable)",
    )


async def trusted_nodes(relay_url: str, trust_node: Iterable[str]) -> set[str]:
    """The node keys whose stamps a reader accepts: the relay's node's and every --trust-node."""
    trusted = {parse_public_key(value) for value in trust_node}
    try:
        trusted.add(await node_pubkey(relay_url))
    except RelayError as exc:
        warn(f"cannot learn the node's key, trusting only --trust-node keys: {exc}")
    return trusted


async def request_stamp(
    node_url: str, key: SecretKey, commitment: bytes, recipient: str
) -> FrankingStamp:
    """Ask the sender's node to stamp `commitment` from `key` to `recipient`; check the answer."""
    url = http_url(node_url) + STAMP_PATH
    body = orjson.dumps(
        {"commitment": commitment.hex(), "sender": key.public_key, "recipient": recipient}
    )
    header = httpauth.authorization(
        key.raw, url, "POST", body, now=int(time.time()), aux_rand=os.urandom(32)
    )
    headers = {"Authorization": header, "Content-Type": "application/json"}
    status, answer = await _call("POST", url, data=body, headers=headers)
    if status in (404, 405):
        raise RelayError(f"{http_url(node_url)} does not stamp messages (not a Koinon node?)")
    if status != 200 or not isinstance(answer, dict):
        detail = answer.get("detail") if isinstance(answer, dict) else None
        reason = answer.get("reason") if isinstance(answer, dict) else None
        why = f"{reason}: {detail}" if reason and detail else f"HTTP {status}"
        raise RelayError(f"the node refused to stamp the message ({why})")
    try:
        stamp = FrankingStamp.decode(bytes.fromhex(str(answer.get("stamp"))))
    except (ValueError, KoinonError):
        raise RelayError(f"{url} answered with a malformed stamp") from None
    if (stamp.commitment, stamp.sender, stamp.recipient) != (
        commitment,
        key.public_key,
        recipient,
    ) or not verify_stamp(stamp, node_pubkey=stamp.node_pubkey):
        raise RelayError(f"{url} answered with a stamp for something else")
    return stamp
