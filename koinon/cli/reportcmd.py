"""`koinon report create|verify`: franked abuse reports of private messages.

A recipient reveals one received message from their device's sealed history as a report signed
with their key (kind 3984, `koinon.messaging.reports`) and hands the file to a moderator. The
moderator checks it against the key of the node that stamped it: the message opens the
commitment, the node stamped that commitment for the named sender and the reporter as recipient.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from koinon.cli import stamping
from koinon.cli.dmstore import DmError, find_entry, load, unlock
from koinon.cli.social import add_client_options
from koinon.core.event import parse_event, sign_event
from koinon.core.keys import npub, parse_public_key
from koinon.errors import KoinonError, invalid
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
        description="Franked abuse reports: reveal one received direct message to a moderator, "
        "who can verify that its sender really sent it.",
    )
    sub = top.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    create = sub.add_parser(
        "create",
        help="reveal one received message as a signed report",
        description="Write a report (kind 3984, signed by you) revealing one message from "
        "'koinon dm history'. It holds the message in clear: give it only to a moderator.",
    )
    create.add_argument("message", help="the message id from 'koinon dm history' (8+ hex chars)")
    create.add_argument("--type", default="other", choices=REPORT_TYPES, help="NIP-56 report type")
    create.add_argument("--comment", default="", help="what the moderator should know")
    create.add_argument("--output", "-o", help="write the report here (default: stdout)")
    create.add_argument("--home", help="folder holding your key and DM state")
    create.set_defaults(run=report_create)
    verify = sub.add_parser(
        "verify",
        help="check a report (for moderators)",
        description="Check a report against the stamping node's key: the message opens its "
        "commitment, the node stamped it for the named sender, the reporter is the recipient. "
        "Exit status 1 when the report is rejected.",
    )
    verify.add_argument("file", help="the report file ('-' reads standard input)")
    verify.add_argument("--node-key", help="the stamping node's key (npub or hex)")
    verify.add_argument(
        "--node", help="learn the node key from this node's NIP-11 (default: the --relay node)"
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    add_client_options(verify)
    verify.set_defaults(run=report_verify)


def report_create(args: argparse.Namespace) -> int:
    """Sign a report revealing one received message."""
    home, passphrase, key = unlock(args)
    state = load(home, passphrase, key.public_key)
    entry = find_entry(state, args.message)
    if entry.outgoing:
        raise DmError("you sent that message: only its recipient can report it")
    kind, content, tags = report_template(entry.message, args.type, args.comment)
    event = sign_event(
        key.raw,
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
    print(f"report of message {entry.id[:16]} from {npub(entry.peer)} written to {path}")
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
        when = datetime.fromtimestamp(verdict.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"accepted: {npub(verdict.sender)} sent this to {npub(verdict.recipient)}")
        print(f"stamped:  {when} UTC by node {npub(node_key)}")
        print(f"type:     {parsed.report_type}")
        if parsed.comment:
            print(f"comment:  {parsed.comment}")
        print(f"message:  {facts['message']}")
    if verdict.problem is not None:
        meaning = _MEANING[verdict.problem]
        print(f"koinon: report rejected: {verdict.problem.value}: {meaning}", file=sys.stderr)
        return 1
    return 0
