"""`koinon post|reply|react|follow|feed|req`: talk to any relay as a Nostr client."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from koinon.cli import keystore
from koinon.cli.client import RelayClient, RelayError
from koinon.core import bech32, kinds
from koinon.core.event import Event, parse_event, sign_event, verify_event
from koinon.core.keys import SecretKey, npub, parse_event_id, parse_public_key
from koinon.errors import invalid

DEFAULT_RELAY = "ws://127.0.0.1:7447"


def add_client_options(
    parser: argparse.ArgumentParser, home_help: str = "folder holding your key"
) -> None:
    """--relay and --home, shared by every command that talks to a relay as a user."""
    parser.add_argument(
        "--relay",
        default=os.environ.get("KOINON_RELAY", DEFAULT_RELAY),
        help="relay URL (default $KOINON_RELAY or %(default)s)",
    )
    parser.add_argument("--home", help=home_help)


def register(commands: Any) -> None:
    """Add the client commands."""
    post = commands.add_parser(
        "post",
        help="publish a note",
        description="Sign a kind-1 note with your key and publish it.",
    )
    post.add_argument("text", help="the note's text ('-' reads standard input)")
    post.add_argument(
        "--tag",
        "-t",
        action="append",
        default=[],
        metavar="TOPIC",
        help="add a hashtag (repeatable)",
    )
    add_client_options(post)
    post.set_defaults(run=post_note)

    reply = commands.add_parser(
        "reply", help="reply to an event", description="Publish a NIP-10 reply to an event."
    )
    reply.add_argument("event", help="event to reply to (hex, note1… or nevent1…)")
    reply.add_argument("text", help="the reply's text")
    add_client_options(reply)
    reply.set_defaults(run=reply_note)

    react = commands.add_parser(
        "react",
        help="react to (vote on) an event",
        description="Publish a NIP-25 reaction: '+' (upvote, default), '-' (downvote) or an emoji.",
    )
    react.add_argument("event", help="event to react to (hex, note1… or nevent1…)")
    react.add_argument("reaction", nargs="?", default="+", help="'+', '-' or an emoji")
    add_client_options(react)
    react.set_defaults(run=react_event)

    repost = commands.add_parser(
        "repost",
        help="repost or quote an event",
        description="Repost an event (NIP-18 kind 6, or 16 for non-notes); with --quote TEXT, "
        "publish a note quoting it (q tag) instead.",
    )
    repost.add_argument("event", help="event to repost (hex, note1… or nevent1…)")
    repost.add_argument("--quote", metavar="TEXT", help="your comment; makes this a quote post")
    add_client_options(repost)
    repost.set_defaults(run=repost_event)

    delete = commands.add_parser(
        "delete",
        help="ask relays to delete your event",
        description="Publish a NIP-09 deletion request for one of your events. The node drops "
        "its content; its transparency log keeps proof that the event existed.",
    )
    delete.add_argument("event", help="your event to delete (hex, note1… or nevent1…)")
    delete.add_argument("--reason", default="", help="why (published with the request)")
    add_client_options(delete)
    delete.set_defaults(run=delete_event)

    follow = commands.add_parser(
        "follow", help="follow people", description="Add people to your NIP-02 follow list."
    )
    follow.add_argument("people", nargs="+", help="npub1… or hex public keys")
    add_client_options(follow)
    follow.set_defaults(run=follow_people)

    feed = commands.add_parser(
        "feed",
        help="read notes",
        description="Show recent notes from the people you follow, from "
        "--author, or from everyone when you follow nobody.",
    )
    feed.add_argument("--author", action="append", default=[], help="npub1… or hex (repeatable)")
    feed.add_argument("--limit", type=int, default=20, help="how many notes (default 20)")
    feed.add_argument("--json", action="store_true", help="print events as JSON lines")
    add_client_options(feed)
    feed.set_defaults(run=show_feed)

    req = commands.add_parser(
        "req",
        help="run a raw NIP-01 filter",
        description="Send a REQ with one or more JSON filters and print "
        "the stored events as JSON lines.",
    )
    req.add_argument("filters", nargs="+", help="filter as JSON, e.g. '{\"kinds\":[1]}'")
    req.add_argument(
        "--relay",
        default=os.environ.get("KOINON_RELAY", DEFAULT_RELAY),
        help="relay URL (default $KOINON_RELAY or %(default)s)",
    )
    req.set_defaults(run=raw_req)


def _sign(
    key: SecretKey, kind: int, content: str, tags: list[list[str]], created_at: int | None = None
) -> Event:
    return sign_event(
        key.raw,
        kind=kind,
        content=content,
        tags=tags,
        created_at=created_at or int(time.time()),
        aux_rand=os.urandom(32),
    )


async def _publish(client: RelayClient, event: Event) -> int:
    result = await client.publish(event)
    if not result.accepted:
        raise RelayError(f"relay refused the event: {result.message}")
    print(f"published {bech32.encode_simple('note', event.id)}")
    print(f"id: {event.id}")
    if result.message:
        print(f"relay: {result.message}")
    return 0


async def _fetch(client: RelayClient, event_id: str) -> Event:
    found = await client.query([{"ids": [event_id], "limit": 1}])
    if not found:
        raise RelayError(f"event {event_id} not found on {client.url}")
    event = parse_event(found[0])
    verify_event(event)
    return event


async def post_note(args: argparse.Namespace) -> int:
    """Publish a kind-1 note."""
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise invalid("the note is empty")
    key = keystore.load(keystore.home(args.home))
    event = _sign(key, kinds.TEXT_NOTE, text, [["t", t.lstrip("#").lower()] for t in args.tag])
    async with RelayClient(args.relay) as client:
        return await _publish(client, event)


def reply_tags(parent: Event) -> list[list[str]]:
    """NIP-10 marked tags for a reply to `parent`."""
    root = next((t[1] for t in parent.tags if len(t) >= 4 and t[0] == "e" and t[3] == "root"), None)
    tags = (
        [["e", root, "", "root"], ["e", parent.id, "", "reply"]]
        if root
        else [["e", parent.id, "", "root"]]
    )
    people = [parent.pubkey, *(p for p in parent.tag_values("p") if p != parent.pubkey)]
    return tags + [["p", p] for p in dict.fromkeys(people)]


async def reply_note(args: argparse.Namespace) -> int:
    """Publish a reply."""
    key = keystore.load(keystore.home(args.home))
    async with RelayClient(args.relay) as client:
        parent = await _fetch(client, parse_event_id(args.event))
        event = _sign(key, kinds.TEXT_NOTE, args.text, reply_tags(parent))
        return await _publish(client, event)


async def react_event(args: argparse.Namespace) -> int:
    """Publish a reaction."""
    key = keystore.load(keystore.home(args.home))
    async with RelayClient(args.relay) as client:
        target = await _fetch(client, parse_event_id(args.event))
        tags = [["e", target.id], ["p", target.pubkey], ["k", str(target.kind)]]
        return await _publish(client, _sign(key, kinds.REACTION, args.reaction, tags))


async def repost_event(args: argparse.Namespace) -> int:
    """Publish a NIP-18 repost or quote."""
    key = keystore.load(keystore.home(args.home))
    async with RelayClient(args.relay) as client:
        target = await _fetch(client, parse_event_id(args.event))
        if args.quote is not None:
            mention = bech32.encode_simple("note", target.id)
            tags = [["q", target.id, client.url, target.pubkey], ["p", target.pubkey]]
            event = _sign(key, kinds.TEXT_NOTE, f"{args.quote}\n\nnostr:{mention}", tags)
        else:
            kind = kinds.REPOST if target.kind == kinds.TEXT_NOTE else kinds.GENERIC_REPOST
            tags = [["e", target.id, client.url], ["p", target.pubkey]]
            if kind == kinds.GENERIC_REPOST:
                tags.append(["k", str(target.kind)])
            event = _sign(key, kind, target.to_json().decode(), tags)
        return await _publish(client, event)


async def delete_event(args: argparse.Namespace) -> int:
    """Publish a NIP-09 deletion request."""
    key = keystore.load(keystore.home(args.home))
    async with RelayClient(args.relay) as client:
        target = await _fetch(client, parse_event_id(args.event))
        if target.pubkey != key.public_key:
            raise invalid("you can only delete your own events")
        tags = [["e", target.id], ["k", str(target.kind)]]
        return await _publish(client, _sign(key, kinds.DELETION, args.reason, tags))


async def _contacts(client: RelayClient, pubkey: str) -> Event | None:
    found = await client.query([{"authors": [pubkey], "kinds": [kinds.CONTACTS], "limit": 1}])
    return parse_event(found[0]) if found else None


async def follow_people(args: argparse.Namespace) -> int:
    """Add people to the NIP-02 contact list, keeping the existing entries."""
    new = [parse_public_key(p) for p in args.people]
    key = keystore.load(keystore.home(args.home))
    async with RelayClient(args.relay) as client:
        current = await _contacts(client, key.public_key)
        tags = [list(t) for t in current.tags] if current else []
        known = {t[1] for t in tags if len(t) >= 2 and t[0] == "p"}
        tags += [["p", p] for p in dict.fromkeys(new) if p not in known]
        now = int(time.time())
        created_at = max(now, current.created_at + 1) if current else now
        content = current.content if current else ""
        return await _publish(client, _sign(key, kinds.CONTACTS, content, tags, created_at))


def _format(event: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(event["created_at"], UTC).strftime("%Y-%m-%d %H:%M")
    author = npub(event["pubkey"])
    text = " ".join(str(event["content"]).split())
    return f"{when}  {author[:16]}…  {text}"


async def show_feed(args: argparse.Namespace) -> int:
    """Print recent notes."""
    authors = [parse_public_key(a) for a in args.author]
    async with RelayClient(args.relay) as client:
        if not authors and keystore.key_path(keystore.home(args.home)).exists():
            me = keystore.load(keystore.home(args.home)).public_key
            contacts = await _contacts(client, me)
            authors = contacts.tag_values("p") if contacts else []
        flt: dict[str, Any] = {"kinds": [kinds.TEXT_NOTE], "limit": args.limit}
        if authors:
            flt["authors"] = authors
        events = await client.query([flt])
    for event in events:
        print(orjson.dumps(event).decode() if args.json else _format(event))
    return 0


async def raw_req(args: argparse.Namespace) -> int:
    """Print events matching raw filters as JSON lines."""
    filters = []
    for text in args.filters:
        try:
            filters.append(orjson.loads(text))
        except orjson.JSONDecodeError:
            raise invalid(f"filter is not valid JSON: {text[:60]}") from None
    async with RelayClient(args.relay) as client:
        events = await client.query(filters)
    for event in events:
        print(orjson.dumps(event).decode())
    return 0
