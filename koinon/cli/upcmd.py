"""`koinon up`: run a node in the foreground."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from koinon.core.keys import parse_public_key
from koinon.settings import Limits, Settings

if TYPE_CHECKING:  # the node (aiohttp, numpy, the store) loads only when `up` runs
    from koinon.node import Node


def register(commands: Any) -> None:
    """Add the `up` command."""
    up = commands.add_parser(
        "up",
        help="run a node (relay + HTTP API) until interrupted",
        description="Run a Koinon node in the foreground. It prints its websocket and HTTP "
        "addresses, then serves until Ctrl-C or SIGTERM.",
    )
    up.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    up.add_argument(
        "--port", type=int, default=7447, help="port (default %(default)s; 0 picks one)"
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="folder for the database and node key (default %(default)s)",
    )
    up.add_argument("--min-pow", type=int, default=0, help="NIP-13 minimum difficulty in bits")
    up.add_argument(
        "--rate-limit",
        type=float,
        default=Limits.events_per_second,
        help="events per second per connection (0: unlimited; default %(default)s)",
    )
    up.add_argument(
        "--auth-to-write",
        action="store_true",
        help="require NIP-42 authentication before accepting events",
    )
    up.add_argument(
        "--auth-to-read",
        action="store_true",
        help="require NIP-42 authentication before answering REQ and COUNT",
    )
    up.add_argument(
        "--chain-rpc",
        metavar="URL",
        help="anchor on the EVM chain at this JSON-RPC URL (default: an EVM embedded "
        "in the node, kept in the data folder)",
    )
    up.add_argument(
        "--contract", metavar="ADDRESS", help="use this AnchorRegistry instead of deploying one"
    )
    up.add_argument(
        "--anchor-interval",
        type=float,
        default=Settings.anchor_interval,
        help="seconds between anchors of the newest tree head (default %(default)s)",
    )
    up.add_argument(
        "--no-anchor",
        action="store_true",
        help="keep the log and sign tree heads, but do not anchor them on a chain",
    )
    rewards = up.add_argument_group("rewards", "epoch settlement (docs/rewards.md)")
    rewards.add_argument("--no-rewards", action="store_true", help="do not settle reward epochs")
    rewards.add_argument(
        "--epoch-seconds",
        type=int,
        default=Settings.epoch_seconds,
        help="length of a reward epoch (default %(default)s)",
    )
    rewards.add_argument(
        "--rewards-genesis",
        type=int,
        default=Settings.rewards_genesis,
        metavar="UNIX_TIME",
        help="when epoch 0 starts (default %(default)s, 2026-01-01 UTC)",
    )
    rewards.add_argument(
        "--trust-seed",
        action="append",
        default=[],
        metavar="NPUB",
        help="a key trust propagates from over the follow graph (repeatable)",
    )
    rewards.add_argument(
        "--settle-delay",
        type=float,
        default=Settings.settle_delay,
        help="seconds after an epoch ends before it is settled (default %(default)s)",
    )
    up.add_argument("--log-level", default="WARNING", help="logging level (default %(default)s)")
    up.set_defaults(run=run)


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the command line."""
    limits = dataclasses.replace(
        Limits(),
        min_pow=args.min_pow,
        events_per_second=args.rate_limit,
        auth_required_for_write=args.auth_to_write,
        auth_required_for_read=args.auth_to_read,
    )
    return Settings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        limits=limits,
        anchoring=not args.no_anchor,
        anchor_interval=args.anchor_interval,
        chain_rpc=args.chain_rpc,
        chain_contract=args.contract,
        rewards=not args.no_rewards,
        epoch_seconds=args.epoch_seconds,
        rewards_genesis=args.rewards_genesis,
        trust_seeds=tuple(parse_public_key(seed) for seed in args.trust_seed),
        settle_delay=args.settle_delay,
        settle_interval=min(Settings.settle_interval, max(0.5, args.epoch_seconds / 4)),
    )


def _announce(node: Node) -> None:
    print(f"koinon node {node.settings.name!r} is up", flush=True)
    print(f"  websocket: {node.ws_url}", flush=True)
    print(f"  http:      {node.http_url}", flush=True)
    print(f"  data:      {node.settings.data_dir.resolve()}", flush=True)


async def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from koinon.node import serve

    logging.getLogger().setLevel(args.log_level.upper())
    await serve(settings_from(args), _announce)
    return 0
