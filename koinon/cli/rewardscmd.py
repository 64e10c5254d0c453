"""`koinon rewards epoch|verify-epoch|claim|balance|bond`: see, check and collect epoch rewards."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from koinon.cli import keystore
from koinon.cli.client import RelayClient
from koinon.cli.social import add_client_options
from koinon.cli.verifycmd import fetch_json, node_default
from koinon.core.event import Event, parse_event, sign_event
from koinon.core.keys import SecretKey, parse_event_id, parse_public_key
from koinon.errors import KoinonError, Rejected
from koinon.rewards.accounts import checksum_address, ethereum_secret, payout_address
from koinon.rewards.config import RewardsConfig
from koinon.rewards.events import BOND_DECLARATION
from koinon.rewards.model import TOKEN

if TYPE_CHECKING:  # the settlement (numpy, scipy) and the chain stack load only when used
    from koinon.chain.rewards import RewardsClient
    from koinon.rewards.audit import AuditedEpoch
    from koinon.rewards.holdings import BondHoldings


class RewardsError(KoinonError):
    """A rewards command could not do what was asked."""


def _node_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--node",
        default=node_default(),
        help="the node's HTTP address (default: from $KOINON_RELAY, or http://127.0.0.1:7447)",
    )


def register(commands: Any) -> None:
    """Add the `rewards` command group."""
    rewards = commands.add_parser(
        "rewards",
        help="epoch rewards: settlements, verification, claims, bonds",
        description="Each epoch a node settles the votes, follows, posts, bonds and note outcomes "
        "of that epoch into payouts and slashes (docs/rewards.md), signs the result and submits "
        "its Merkle root on chain. These commands show a settlement, recompute it from the "
        "signed events, claim your payout and bond tokens on a post.",
    )
    sub = rewards.add_subparsers(dest="rewards_command", metavar="ACTION", required=True)
    epoch = sub.add_parser(
        "epoch",
        help="show a node's settlement of an epoch",
        description="Show an epoch's root, total and largest payouts as the node settled them.",
    )
    epoch.add_argument("number", nargs="?", type=int, help="epoch (default: the newest settled)")
    epoch.add_argument("--top", type=int, default=10, help="payouts to list (default %(default)s)")
    epoch.add_argument("--json", action="store_true", help="print the whole settlement as JSON")
    _node_option(epoch)
    epoch.set_defaults(run=show_epoch)

    verify = sub.add_parser(
        "verify-epoch",
        help="recompute an epoch from its signed events and compare",
        description="Fetch the events the node settled epoch N from, check every signature and "
        "the inputs digest, recompute the settlement and compare its Merkle root and totals with "
        "the node's signed record (and, where the node has a chain, with the root finalized on "
        "chain). Exits non-zero naming the first difference.",
    )
    verify.add_argument("number", type=int, help="the epoch to verify")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    _node_option(verify)
    verify.add_argument(
        "--chain-rpc",
        metavar="URL",
        help="read the finalized root from this JSON-RPC endpoint of the chain (default: the "
        "node's /chain/rpc gateway)",
    )
    verify.set_defaults(run=verify_epoch)

    claim = sub.add_parser(
        "claim",
        help="claim your payout of an epoch",
        description="Recompute epoch N as `verify-epoch` does, find your payout in it and claim "
        "it from the RewardDistributor with its Merkle proof; KOIN is minted to the Ethereum "
        "address of your Nostr key (`koinon rewards balance` shows it).",
    )
    claim.add_argument("number", type=int, help="the epoch to claim")
    _chain_options(claim)
    claim.set_defaults(run=claim_payout)

    balance = sub.add_parser(
        "balance",
        help="show a KOIN balance",
        description="Show the KOIN balance of the Ethereum address that belongs to a Nostr key "
        "(default: yours). KOIN locked in bonds is not included.",
    )
    balance.add_argument("who", nargs="?", help="npub or hex key (default: your own key)")
    _chain_options(balance)
    balance.set_defaults(run=show_balance)

    bond = sub.add_parser(
        "bond",
        help="bond KOIN on one of your posts",
        description="Stake KOIN behind the factual claim of a post: approve and bond on chain, "
        "then publish a kind-3964 bond declaration. If community notes settle the post as "
        "misleading, the bond is slashed to the note writers and the pool; otherwise it is "
        "released back to you when settled.",
    )
    bond.add_argument("event", help="your post (hex, note1… or nevent1…)")
    bond.add_argument("amount", help="KOIN to bond (decimal, e.g. 2.5)")
    _chain_options(bond, home=False)
    add_client_options(bond)
    bond.set_defaults(run=bond_post)


def _chain_options(parser: argparse.ArgumentParser, *, home: bool = True) -> None:
    _node_option(parser)
    parser.add_argument(
        "--chain-rpc",
        metavar="URL",
        help="use this JSON-RPC endpoint of the chain (default: the node's /chain/rpc gateway)",
    )
    if home:
        parser.add_argument("--home", help="folder holding your key")


async def _config(http: aiohttp.ClientSession, node: str) -> tuple[RewardsConfig, dict[str, Any]]:
    raw = await fetch_json(http, f"{node}/rewards/config")
    if not isinstance(raw, dict) or not isinstance(raw.get("node"), str):
        raise RewardsError(f"{node} does not settle rewards")
    try:
        return RewardsConfig.from_dict(raw), raw
    except Rejected as exc:
        raise RewardsError(f"{node} serves a malformed rewards config: {exc.message}") from None


def _events(raw: object) -> list[Event]:
    if not isinstance(raw, list):
        raise RewardsError("the node's epoch inputs are not a list of events")
    try:
        return [parse_event(item) for item in raw]
    except Rejected as exc:
        raise RewardsError(f"an input event is malformed: {exc.message}") from None


async def fetch_and_audit(http: aiohttp.ClientSession, node: str, epoch: int) -> AuditedEpoch:
    """Fetch epoch `epoch`'s record and inputs from `node` and recompute it."""
    from koinon.rewards.audit import SettlementMismatch, audit_epoch
    from koinon.rewards.settlement import parse_record

    config, raw_config = await _config(http, node)
    body = await fetch_json(http, f"{node}/rewards/epochs/{epoch}")
    if body is None:
        raise RewardsError(f"epoch {epoch} is not settled on {node}")
    inputs = await fetch_json(http, f"{node}/rewards/epochs/{epoch}/events")
    try:
        record = parse_event(body.get("record") if isinstance(body, dict) else None)
    except Rejected as exc:
        raise RewardsError(f"the node's settlement record is malformed: {exc.message}") from None
    holdings = None
    if isinstance(body, dict) and body.get("holdings") is not None:
        from koinon.rewards.holdings import BondHoldings

        try:
            holdings = BondHoldings.parse(body["holdings"])
        except Rejected as exc:
            raise RewardsError(f"the node's bond holdings are malformed: {exc.message}") from None
    earlier: list[list[Event]] = []
    try:
        read = len(parse_record(record).earlier)
    except Rejected:
        read = 0  # the audit names what is wrong with the record
    for past in range(epoch - read, epoch):
        raw = await fetch_json(http, f"{node}/rewards/epochs/{past}/upvote-events")
        if raw is None:
            raise RewardsError(f"{node} does not serve the inputs of epoch {past}'s upvotes")
        earlier.append(_events(raw))
    try:
        return audit_epoch(
            config, raw_config["node"], record, _events(inputs), epoch, holdings, earlier
        )
    except SettlementMismatch as exc:
        raise RewardsError(f"epoch {epoch} does not verify: {exc}") from None


def _tokens(amount: int) -> str:
    whole, fraction = divmod(amount, TOKEN)
    return f"{whole}.{fraction:018d}".rstrip("0").rstrip(".") + " KOIN"


async def show_epoch(args: argparse.Namespace) -> int:
    """Print the node's settlement of an epoch."""
    node = args.node.rstrip("/")
    async with aiohttp.ClientSession() as http:
        number = args.number
        if number is None:
            _, raw_config = await _config(http, node)
            number = int(raw_config.get("due", -1))
            if number < 0:
                raise RewardsError("no epoch has ended yet")
        body = await fetch_json(http, f"{node}/rewards/epochs/{number}")
    if body is None:
        raise RewardsError(f"epoch {number} is not settled on {node}")
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    payouts = sorted(body["payouts"], key=lambda p: -int(p["amount"]))
    print(f"epoch {body['epoch']}: root {body['root']}")
    print(f"  paid out: {_tokens(int(body['total']))} to {len(payouts)} accounts")
    print(f"  bonds settled: {len(body['bonds'])}")
    for payout in payouts[: args.top]:
        print(f"  {payout['pubkey']}  {_tokens(int(payout['amount']))}")
    return 0


async def verify_epoch(args: argparse.Namespace) -> int:
    """Recompute an epoch and compare it with what the node signed."""
    node = args.node.rstrip("/")
    async with aiohttp.ClientSession() as http:
        audited = await fetch_and_audit(http, node, args.number)
        _, raw_config = await _config(http, node)
    settlement = audited.settlement
    on_chain = "no chain"
    chain = raw_config.get("chain")
    if isinstance(chain, dict) and settlement.bonds and settlement.holdings is None:
        raise RewardsError(
            f"epoch {args.number} does not verify: the node has a chain, but its record counts "
            "bond declarations without pinning what the chain held for them"
        )
    if isinstance(chain, dict) and settlement.holdings is not None:
        await _check_holdings(args, node, chain, settlement.holdings)
    if isinstance(chain, dict) and settlement.total > 0:
        from koinon.chain.reader import read_finalized
        from koinon.chain.rewards_deployment import RewardsAddresses

        quorum = RewardsAddresses.parse(chain.get("contracts")).quorum
        rpc_url = args.chain_rpc or f"{node}/chain/rpc"
        final = await asyncio.to_thread(read_finalized, rpc_url, quorum, args.number)
        if final is None:
            on_chain = "not finalized yet"
        elif final != (settlement.root, settlement.total):
            raise RewardsError(
                f"epoch {args.number} does not verify: the quorum finalized root "
                f"{final[0].hex()} with total {final[1]}, not the recomputed one"
            )
        else:
            on_chain = "finalized"
    result = {
        "epoch": settlement.epoch,
        "root": settlement.root.hex(),
        "total": str(settlement.total),
        "payouts": len(settlement.payouts),
        "bonds": len(settlement.bonds),
        "record": audited.record.event_id,
        "on_chain": on_chain,
        "verified": True,
    }
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        print(f"epoch {settlement.epoch} verified: root {settlement.root.hex()}")
        print(f"  {len(settlement.payouts)} payouts, {_tokens(settlement.total)} in all")
        print(f"  on chain: {on_chain}")
    return 0


async def _check_holdings(
    args: argparse.Namespace, node: str, chain: dict[str, Any], holdings: BondHoldings
) -> None:
    """Re-read every bond the epoch's record pins at its block; raise when one differs."""
    from koinon.chain.reader import read_bonds
    from koinon.chain.rewards_deployment import RewardsAddresses

    bonds = RewardsAddresses.parse(chain.get("contracts")).bonds
    rpc_url = args.chain_rpc or f"{node}/chain/rpc"
    keys = [
        (bytes.fromhex(event_id), payout_address(bytes.fromhex(owner)))
        for event_id, owner in holdings.bonds()
    ]
    read = await asyncio.to_thread(read_bonds, rpc_url, bonds, keys, holdings.block)
    for (event_id, owner, amount), held in zip(holdings.held, read, strict=True):
        if amount != held:
            raise RewardsError(
                f"epoch {args.number} does not verify: the record says {owner}'s bond on "
                f"{event_id} held {amount} at block {holdings.block}; the chain says {held}"
            )


async def _rewards_chain(
    http: aiohttp.ClientSession, node: str, chain_rpc: str | None, secret: bytes
) -> RewardsClient:
    """The rewards contracts the node uses, for the Ethereum account of Nostr secret `secret`."""
    from koinon.chain.rewards import connect_rewards
    from koinon.chain.rewards_deployment import RewardsAddresses

    _, raw_config = await _config(http, node)
    chain = raw_config.get("chain")
    if not isinstance(chain, dict):
        raise RewardsError(f"{node} has no chain: it settles rewards without paying them out")
    contracts = RewardsAddresses.parse(chain.get("contracts"))
    account = checksum_address(payout_address(bytes.fromhex(SecretKey(secret).public_key)))
    rpc_url = chain_rpc or f"{node}/chain/rpc"
    if chain_rpc is None:  # gas money on the node's development chain; a real one refuses
        async with http.post(f"{node}/chain/fund/{account}") as response:
            await response.read()
    return await asyncio.to_thread(
        connect_rewards,
        None,
        rpc_url,
        ethereum_secret(secret),
        contracts=contracts,
        deploy=False,
    )


def _pubkey(args: argparse.Namespace) -> str:
    if getattr(args, "who", None):
        return parse_public_key(args.who)
    return keystore.load(keystore.home(args.home)).public_key


async def claim_payout(args: argparse.Namespace) -> int:
    """Verify the epoch, then claim this key's payout with its proof."""
    node = args.node.rstrip("/")
    key = keystore.load(keystore.home(args.home))
    async with aiohttp.ClientSession() as http:
        audited = await fetch_and_audit(http, node, args.number)
        leaf = audited.settlement.payout_of(key.public_key)
        if leaf is None:
            raise RewardsError(f"you earned nothing in epoch {args.number}")
        proof = audited.settlement.proof(leaf)
        chain = await _rewards_chain(http, node, args.chain_rpc, key.raw)
    with chain:
        if await asyncio.to_thread(chain.distributor.is_claimed, args.number, leaf.account):
            raise RewardsError(f"your payout of epoch {args.number} is already claimed")
        if await asyncio.to_thread(chain.quorum.finalized, args.number) is None:
            raise RewardsError(f"epoch {args.number} is not finalized on chain yet")
        receipt = await asyncio.to_thread(chain.distributor.claim, leaf, proof)
        balance = await asyncio.to_thread(chain.token.balance_of, leaf.account)
    print(f"claimed {_tokens(leaf.amount)} for epoch {args.number}")
    print(f"  to {checksum_address(leaf.account)} in transaction {receipt.tx_hash.hex()}")
    print(f"  balance: {_tokens(balance)}")
    return 0


async def show_balance(args: argparse.Namespace) -> int:
    """Print the KOIN balance of a key's payout address (a read: nothing is signed or funded)."""
    from koinon.chain.reader import read_balance
    from koinon.chain.rewards_deployment import RewardsAddresses

    node = args.node.rstrip("/")
    account = payout_address(bytes.fromhex(_pubkey(args)))
    async with aiohttp.ClientSession() as http:
        _, raw_config = await _config(http, node)
    chain = raw_config.get("chain")
    if not isinstance(chain, dict):
        raise RewardsError(f"{node} has no chain: it settles rewards without paying them out")
    token = RewardsAddresses.parse(chain.get("contracts")).token
    rpc_url = args.chain_rpc or f"{node}/chain/rpc"
    balance = await asyncio.to_thread(read_balance, rpc_url, token, account)
    print(f"{checksum_address(account)}: {_tokens(balance)}")
    return 0


def _amount(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RewardsError(f"{text!r} is not an amount of KOIN") from None
    units = value * TOKEN
    if not value.is_finite() or value <= 0 or units != units.to_integral_value():
        raise RewardsError("the amount must be positive, with at most 18 decimals")
    return int(units)


async def bond_post(args: argparse.Namespace) -> int:
    """Bond KOIN on one of your posts on chain, then publish the declaration."""
    node = args.node.rstrip("/")
    amount = _amount(args.amount)
    event_id = parse_event_id(args.event)
    key = keystore.load(keystore.home(args.home))
    async with RelayClient(args.relay) as client:
        found = await client.query([{"ids": [event_id], "limit": 1}])
        if not found or parse_event(found[0]).pubkey != key.public_key:
            raise RewardsError("you can bond only on your own posts, stored on the relay")
        async with aiohttp.ClientSession() as http:
            chain = await _rewards_chain(http, node, args.chain_rpc, key.raw)
        with chain:
            balance = await asyncio.to_thread(chain.token.balance_of)
            if balance < amount:
                raise RewardsError(f"your balance is only {_tokens(balance)}")
            await asyncio.to_thread(chain.bonds.bond, bytes.fromhex(event_id), amount)
            total = await asyncio.to_thread(chain.bonds.bond_of, bytes.fromhex(event_id))
        declaration = sign_event(
            key.raw,
            kind=BOND_DECLARATION,
            content="",
            tags=[["e", event_id], ["amount", str(total)]],
            created_at=int(time.time()),
            aux_rand=os.urandom(32),
        )
        result = await client.publish(declaration)
        if not result.accepted:
            raise RewardsError(
                f"bonded on chain, but the relay refused the declaration: {result.message}"
            )
    print(f"bonded {_tokens(amount)} on {event_id} (now {_tokens(total)} in all)")
    print(f"declaration: {declaration.id}")
    return 0
