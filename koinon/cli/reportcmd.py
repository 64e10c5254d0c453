"""`koinon report create|verify`: franked abuse reports of private messages.

A recipient reveals one received direct or group message from their device's sealed history as a
report signed with their key (kind 3984, `koinon.messaging.reports`) and hands the file to a
moderator. The moderator checks it against the key of the node that stamped it: the message opens
the commitment, the node stamped that commitment for the named sender and the reporter as
recipient (for a group message: an audience the reporter proves to be in).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from koinon.cli import stamping
from koinon.cli.groupsync import Context, open_context
from koinon.cli.lines import when
from koinon.cli.social import add_client_options
from koinon.core.event import is_hex, parse_event, sign_event
from koinon.core.keys import npub, parse_public_key
from koinon.errors import KoinonError, invalid
from koinon.messaging.audience import Audience
from koinon.messaging.franked_dm import StampedMessage
from koinon.messaging.franking import ReportProblem, ReportVerdict
from koinon.messaging.reports import REPORT_TYPES, FrankedReport, check_report, report_template

MAX_REPORT_BYTES = 1 << 20

# What each refusal means, for people.
_MEANING = {
    ReportProblem.COMMITMENT_DOES_NOT_OPEN: "the message or its franking key was altered",
    ReportProblem.STAMP_FOR_OTHER_COMMITMENT: "the stamp is for another message",
    ReportProblem.REPORTER_NOT_RECIPIENT: "the reporter is not the message's recipient",
    ReportProblem.STAMP_NOT_NODES: "the stamp is not the node's (forged or altered sender, "
    "recipient or time)",
    ReportProblem.SENDER_NOT_STAMPED: "the report accuses someone other than the stamped sender",
}


class ReportError(KoinonError):
    """A report cannot be made or read."""


def register(commands: Any) -> None:
    """Add `koinon report`."""
    top = commands.add_parser(
        "report",
        help="report a private message to a moderator, or verify a report",
        description="Franked abuse reports: reveal one received direct or group message to a "
        "moderator, who can verify that its sender really sent it.",
    )
    sub = top.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    create = sub.add_parser(
        "create",
        help="reveal one received message as a signed report",
        description="Write a report (kind 3984, signed by you) revealing one message from "
        "'koinon dm history' or 'koinon group history'. It holds the message in clear: give it "
        "only to a moderator.",
    )
    create.add_argument(
        "message", help="the message id from 'koinon dm|group history' (8+ hex chars)"
    )
    create.add_argument("--type", default="other", choices=REPORT_TYPES, help="NIP-56 report type")
    create.add_argument("--comment", default="", help="what the moderator should know")
    create.add_argument("--output", "-o", help="write the report here (default: stdout)")
    create.add_argument("--home", help="folder holding your key, DM and group state")
    create.set_defaults(run=report_create)
    verify = sub.add_parser(
        "verify",
        help="check a report (for moderators)",
        description="Check a report against the stamping node's key: the message opens its "
        "commitment, the node stamped it for the named sender, the reporter is the recipient "
        "(or, for a group message, proven to be in the stamped audience). Exit status 1 when "
        "the report is rejected.",
    )
    verify.add_argument("file", help="the report file ('-' reads standard input)")
    verify.add_argument("--node-key", help="the stamping node's key (npub or hex)")
    verify.add_argument(
        "--node", help="learn the node key from this node's NIP-11 (default: the --relay node)"
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    add_client_options(verify)
    verify.set_defaults(run=report_verify)


@dataclass(frozen=True)
class _Received:
    """A message this device holds, sent by `sender`; `audience` for a group message."""

    sender: str
    message: StampedMessage
    audience: Audience | None


def _held(ctx: Context) -> dict[str, _Received]:
    """Every message in this device's DM and group histories, by id."""
    me = ctx.key.public_key
    held = {
        entry.message.id: _Received(me if entry.outgoing else entry.peer, entry.message, None)
        for entry in ctx.dm_state.history
    }
    for kept in ctx.store.history:
        held[kept.message.id] = _Received(kept.sender, kept.message, kept.message.audience)
    return held


def _find(held: dict[str, _Received], prefix: str) -> tuple[str, _Received]:
    """The message whose id starts with `prefix` (at least 8 hex characters, unique)."""
    prefix = prefix.strip().lower()
    where = "see 'koinon dm history' or 'koinon group history'"
    if len(prefix) < 8 or not is_hex(prefix, len(prefix)):
        raise ReportError(f"a message id is at least 8 hex characters ({where})")
    found = [message_id for message_id in held if message_id.startswith(prefix)]
    if not found:
        raise ReportError(f"no message {prefix} in this device's history ({where})")
    if len(found) > 1:
        raise ReportError(f"{prefix} matches {len(found)} messages: give more characters")
    return found[0], held[found[0]]


def report_create(args: argparse.Namespace) -> int:
    """Sign a report revealing one received direct or group message."""
    ctx = open_context(args)
    me = ctx.key.public_key
    message_id, received = _find(_held(ctx), args.message)
    if received.sender == me:
        raise ReportError("you sent that message: only its recipient can report it")
    proof = None if received.audience is None else received.audience.proof(me)
    message = received.message
    kind, content, tags = report_template(
        message.plaintext, message.stamp, args.type, args.comment, proof
    )
    event = sign_event(
        ctx.key.raw,
        kind=kind,
        content=content,
        tags=tags,
        created_at=int(time.time()),
        aux_rand=os.urandom(32),
    )
    document = event.to_json() + b"\n"
    if args.output is None:
        sys.stdout.write(document.decode())
        return 0
    path = Path(args.output)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the message
        with os.fdopen(fd, "wb") as handle:
            handle.write(document)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror}") from None
    sender = npub(received.sender)
    print(f"report of message {message_id[:16]} from {sender} written to {path}")
    return 0


def _read_report(name: str) -> Any:
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read {name}: {exc.strerror}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise invalid(f"a report is at most {MAX_REPORT_BYTES} bytes")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise invalid(f"{name} is not a JSON report") from None


def _facts(parsed: FrankedReport, verdict: ReportVerdict, node_key: str) -> dict[str, Any]:
    return {
        "accepted": verdict.accepted,
        "problem": None if verdict.problem is None else verdict.problem.value,
        "sender": verdict.sender,
        "recipient": verdict.recipient,
        "group_size": verdict.audience_size,
        "reporter": parsed.report.reporter,
        "accused": parsed.claimed_sender,
        "stamped_at": verdict.timestamp,
        "node": node_key,
        "type": parsed.report_type,
        "comment": parsed.comment,
        "message": verdict.message.decode("utf-8", "replace"),
        "attachments": [digest.hex() for digest in verdict.attachments],
        "report": parsed.event_id,
    }


async def report_verify(args: argparse.Namespace) -> int:
    """Verify a report; exit 1 when it is rejected."""
    event = parse_event(_read_report(args.file))
    if args.node_key:
        node_key = parse_public_key(args.node_key)
    else:
        node_key = await stamping.node_pubkey(args.node or args.relay)
    parsed, verdict = check_report(event, node_key)
    facts = _facts(parsed, verdict, node_key)
    if args.json:
        print(orjson.dumps(facts).decode())
    elif verdict.accepted:
        to = npub(verdict.recipient)
        if verdict.audience_size is not None:
            people = "1 person" if verdict.audience_size == 1 else f"{verdict.audience_size} people"
            to = f"{npub(parsed.report.reporter)} in a group message to {people}"
        print(f"accepted: {npub(verdict.sender)} sent this to {to}")
        print(f"stamped:  {when(verdict.timestamp)} UTC by node {npub(node_key)}")
        print(f"type:     {parsed.report_type}")
        if parsed.comment:
            print(f"comment:  {parsed.comment}")
        print(f"message:  {facts['message']}")
    if verdict.problem is not None:
        meaning = _MEANING[verdict.problem]
        print(f"koinon: report rejected: {verdict.problem.value}: {meaning}", file=sys.stderr)
        return 1
    return 0
