"""Checks a receipt independently of the node that issued it (pure: values in, report out).

The chain of evidence is event → leaf → signed tree head → anchored tree head → anchor on chain.
Each link is checked on its own, so a report says exactly which one failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from koinon.core.event import Event, parse_event, verify_event
from koinon.errors import KoinonError, Rejected
from koinon.ledger.entry import LogEntry
from koinon.ledger.heads import AnchorRecord, TreeHead, parse_anchor_record, parse_tree_head
from koinon.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion


@dataclass(frozen=True)
class Check:
    """One link of the evidence."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class OnChainAnchor:
    """What the chain itself says about an anchor (read by the caller, trusted as the chain)."""

    root: bytes
    size: int
    block_number: int
    block_time: int


@dataclass
class Report:
    """The outcome of verifying one event."""

    event_id: str
    checks: list[Check] = field(default_factory=list)
    entry: LogEntry | None = None
    event: Event | None = None
    index: int | None = None
    head: TreeHead | None = None
    anchor: AnchorRecord | None = None
    on_chain: OnChainAnchor | None = None

    @property
    def ok(self) -> bool:
        """True when every check passed and the event is anchored on chain."""
        return bool(self.checks) and all(c.ok for c in self.checks) and self.on_chain is not None

    @property
    def erased(self) -> bool:
        """The log proves the event existed; its content is no longer served."""
        return self.event is None and self.entry is not None

    def add(self, name: str, ok: bool, detail: str) -> bool:
        """Record a check; return whether it passed."""
        self.checks.append(Check(name, ok, detail))
        return ok


def _proof(values: Any) -> list[bytes] | None:
    try:
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return None
        return [bytes.fromhex(v) for v in values]
    except ValueError:
        return None


def check_entry(report: Report, receipt: dict[str, Any], event_id: str) -> bool:
    """The leaf names this event, and the author signed it (or the content was erased)."""
    try:
        entry = LogEntry.decode(bytes.fromhex(str(receipt.get("leaf", ""))))
    except (KoinonError, ValueError):
        return report.add("leaf", False, "the receipt's leaf is malformed")
    report.entry = entry
    if entry.event_id != event_id:
        return report.add("leaf", False, "the leaf logs a different event id")
    raw = receipt.get("event")
    if raw is None:
        return report.add(
            "signature",
            entry.author_signed(),
            "content erased; the author's signature of the id is in the log"
            if entry.author_signed()
            else "the signature in the leaf is not the author's",
        )
    try:
        event = parse_event(raw)
        verify_event(event)
    except Rejected as rejected:
        return report.add("signature", False, f"event does not verify: {rejected.message}")
    if (event.id, event.pubkey, event.sig) != (entry.event_id, entry.pubkey, entry.sig):
        return report.add("signature", False, "the served event differs from the logged one")
    report.event = event
    return report.add("signature", True, "event id and author signature are valid")


def check_inclusion(report: Report, receipt: dict[str, Any], node: str) -> bool:
    """The leaf is in the tree of the node's signed head."""
    try:
        head = parse_tree_head(parse_event(receipt["head"]["event"]), node)
    except (KeyError, TypeError, Rejected) as exc:
        detail = exc.message if isinstance(exc, Rejected) else "missing"
        return report.add("tree head", False, f"signed tree head is invalid: {detail}")
    report.head = head
    report.add("tree head", True, f"signed by node {node[:16]}…, size {head.size}")
    index, proof = receipt.get("index"), _proof(receipt.get("inclusion"))
    if type(index) is not int or proof is None or report.entry is None:
        return report.add("inclusion", False, "receipt lacks index or inclusion proof")
    report.index = index
    ok = verify_inclusion(leaf_hash(report.entry.encode()), index, head.size, proof, head.root)
    return report.add(
        "inclusion",
        ok,
        f"leaf {index} of {head.size}"
        if ok
        else "inclusion proof does not lead to the signed root",
    )


def check_anchor(report: Report, receipt: dict[str, Any], node: str) -> bool:
    """The anchored head contains the leaf, and the newest head extends it."""
    part = receipt.get("anchor")
    if not isinstance(part, dict):
        return report.add("anchor", False, "not anchored yet")
    try:
        record_event = parse_event(part.get("record"))
        anchor = parse_anchor_record(record_event)
    except Rejected as rejected:
        return report.add("anchor", False, f"anchor record invalid: {rejected.message}")
    if record_event.pubkey != node:
        return report.add("anchor", False, "anchor record signed by another key")
    report.anchor = anchor
    proof = _proof(part.get("inclusion"))
    if proof is None or report.entry is None or report.index is None:
        return report.add("anchored inclusion", False, "missing proof")
    leaf = leaf_hash(report.entry.encode())
    if not report.add(
        "anchored inclusion",
        verify_inclusion(leaf, report.index, anchor.size, proof, anchor.root),
        f"leaf {report.index} of anchored tree {anchor.size}",
    ):
        return False
    consistency = _proof(part.get("consistency"))
    head = report.head
    if head is None or consistency is None:
        return report.add("consistency", False, "missing proof")
    return report.add(
        "consistency",
        verify_consistency(anchor.size, head.size, anchor.root, head.root, consistency),
        f"head {head.size} extends anchored head {anchor.size}",
    )


def check_chain(report: Report, on_chain: OnChainAnchor | None) -> bool:
    """The chain holds the anchored root at the claimed position."""
    anchor = report.anchor
    if anchor is None:
        return False
    if on_chain is None:
        return report.add("chain", False, "the anchor was not found on chain")
    ok = on_chain.root == anchor.root and on_chain.size == anchor.size
    if ok:
        report.on_chain = on_chain
    return report.add(
        "chain",
        ok,
        f"root recorded in block {on_chain.block_number}"
        if ok
        else "the chain holds a different root or size at that position",
    )


def verify_receipt(receipt: dict[str, Any], event_id: str, node: str) -> Report:
    """Every check that needs no chain access, in order; stops at the first broken link."""
    report = Report(event_id)
    if check_entry(report, receipt, event_id) and check_inclusion(report, receipt, node):
        check_anchor(report, receipt, node)
    return report
