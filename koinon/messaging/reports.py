"""Franked abuse reports as signed events (kind 3984): a recipient reveals one private message to a
moderator, who checks it against the sender's node stamp.

The report is signed by the reporter, which is how the moderator knows who reports: a report only
counts when its signer is the recipient named in the stamp, or for a group message is in the
stamped audience. Tags follow NIP-56: `["p", reported sender, report type]`. Content is the JSON
object `{"v": 1, "franked": base64(FrankedPlaintext), "commitment": hex,
"stamp": base64(FrankingStamp), "comment": text}`; a group message's report is `"v": 2` and adds
`"audience": base64(AudienceProof)`. It holds the message in clear: hand it to a moderator, never
to a public relay. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from koinon.core.event import Event, is_hex, verify_event
from koinon.errors import invalid
from koinon.messaging.audience import AudienceProof
from koinon.messaging.franking import (
    AbuseReport,
    FrankedPlaintext,
    FrankingStamp,
    ReportVerdict,
    make_report,
    verify_report,
)

REPORT_KIND = 3984
REPORT_VERSION = 1
"""A report of a direct message."""
GROUP_REPORT_VERSION = 2
"""A report of a group message: it adds the reporter's audience proof."""
# NIP-56 report types.
REPORT_TYPES = ("nudity", "malware", "profanity", "illegal", "spam", "impersonation", "other")
MAX_COMMENT = 2000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def report_template(
    plaintext: FrankedPlaintext,
    stamp: FrankingStamp,
    report_type: str = "other",
    comment: str = "",
    audience: AudienceProof | None = None,
) -> tuple[int, str, list[list[str]]]:
    """(kind, content, tags) of the report of a received message, with the reporter's audience
    proof for a group message; the reporter signs it."""
    if report_type not in REPORT_TYPES:
        raise invalid(f"report type must be one of: {', '.join(REPORT_TYPES)}")
    if len(comment) > MAX_COMMENT:
        raise invalid(f"the comment is longer than {MAX_COMMENT} characters")
    body: dict[str, object] = {
        "v": REPORT_VERSION if audience is None else GROUP_REPORT_VERSION,
        "franked": _b64(plaintext.encode()),
        "commitment": stamp.commitment.hex(),
        "stamp": _b64(stamp.encode()),
    }
    if audience is not None:
        body["audience"] = _b64(audience.encode())
    body["comment"] = comment
    return REPORT_KIND, json.dumps(body, separators=(",", ":")), [["p", stamp.sender, report_type]]


@dataclass(frozen=True, slots=True)
class FrankedReport:
    """A parsed report event: what it reveals, whom it accuses, and who signed it."""

    report: AbuseReport
    claimed_sender: str
    report_type: str
    comment: str
    event_id: str


def _b64_field(raw: dict[str, object], name: str) -> bytes:
    value = raw.get(name)
    if not isinstance(value, str):
        raise invalid(f"report content has no '{name}'")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"report '{name}' is not base64") from None


def parse_report(event: Event) -> FrankedReport:
    """Check the reporter's signature and the report's shape (not the franking: `check_report`)."""
    if event.kind != REPORT_KIND:
        raise invalid(f"a franked report is kind {REPORT_KIND}, not {event.kind}")
    verify_event(event)
    try:
        raw = json.loads(event.content)
    except ValueError:
        raise invalid("report content is not JSON") from None
    version = raw.get("v") if isinstance(raw, dict) else None
    if type(version) is not int or version not in (REPORT_VERSION, GROUP_REPORT_VERSION):
        raise invalid(
            f"unknown report version {version!r} (need {REPORT_VERSION} or {GROUP_REPORT_VERSION})"
        )
    assert isinstance(raw, dict)
    commitment = raw.get("commitment")
    if not is_hex(commitment, 64):
        raise invalid("report commitment must be 64 lowercase hex characters")
    assert isinstance(commitment, str)
    comment = raw.get("comment", "")
    if not isinstance(comment, str):
        raise invalid("report comment must be a string")
    accused = [t for t in event.tags if len(t) >= 2 and t[0] == "p"]
    if len(accused) != 1 or not is_hex(accused[0][1], 64):
        raise invalid("a report names exactly one reported key in a 'p' tag")
    report_type = accused[0][2] if len(accused[0]) > 2 else "other"
    plaintext = FrankedPlaintext.decode(_b64_field(raw, "franked"))
    stamp = FrankingStamp.decode(_b64_field(raw, "stamp"))
    audience = None
    if version == GROUP_REPORT_VERSION:
        audience = AudienceProof.decode(_b64_field(raw, "audience"))
    report = make_report(plaintext, bytes.fromhex(commitment), stamp, event.pubkey, audience)
    return FrankedReport(report, accused[0][1], report_type, comment, event.id)


def check_report(event: Event, node_pubkey: str) -> tuple[FrankedReport, ReportVerdict]:
    """Moderator side: parse the report and verify it against the trusted node key.

    Malformed reports raise `Rejected(INVALID)`; well-formed ones get a verdict saying whether the
    message, sender, recipient (the signer) and node stamp all hold.
    """
    parsed = parse_report(event)
    verdict = verify_report(
        parsed.report, node_pubkey=node_pubkey, claimed_sender=parsed.claimed_sender
    )
    return parsed, verdict


__all__ = [
    "GROUP_REPORT_VERSION",
    "REPORT_KIND",
    "REPORT_TYPES",
    "FrankedReport",
    "check_report",
    "parse_report",
    "report_template",
]
