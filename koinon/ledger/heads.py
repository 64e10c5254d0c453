"""Signed tree heads and anchor records as node-signed Nostr events (kinds 3961 and 3962)."""

from __future__ import annotations

from dataclasses import dataclass

from koinon.core.event import Event, is_hex, sign_event, verify_event
from koinon.errors import invalid

TREE_HEAD = 3961
ANCHOR_RECORD = 3962
LEDGER_KINDS = frozenset({TREE_HEAD, ANCHOR_RECORD})


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A node's signed statement: its log had `size` leaves with `root` at `timestamp`."""

    size: int
    root: bytes
    timestamp: int
    event: Event

    @property
    def node(self) -> str:
        """The node key that signed this head."""
        return self.event.pubkey


def sign_tree_head(
    node_secret: bytes, size: int, root: bytes, timestamp: int, aux_rand: bytes
) -> TreeHead:
    """Sign the head of a log of `size` leaves."""
    event = sign_event(
        node_secret,
        kind=TREE_HEAD,
        content="",
        created_at=timestamp,
        aux_rand=aux_rand,
        tags=[["size", str(size)], ["root", root.hex()]],
    )
    return TreeHead(size, root, timestamp, event)


def _int_tag(event: Event, name: str) -> int:
    value = event.first_tag(name)
    if value is None or not (value.isascii() and value.isdigit()):
        raise invalid(f"{name} tag must be a non-negative integer")
    return int(value)


def parse_tree_head(event: Event, node: str | None = None) -> TreeHead:
    """Verify a kind-3961 event (signed by `node`, when given) and read its fields."""
    verify_event(event)
    if event.kind != TREE_HEAD:
        raise invalid(f"a tree head is kind {TREE_HEAD}")
    if node is not None and event.pubkey != node:
        raise invalid("tree head signed by another key")
    root = event.first_tag("root")
    if root is None or not is_hex(root, 64):
        raise invalid("root tag must be 64 hex characters")
    return TreeHead(_int_tag(event, "size"), bytes.fromhex(root), event.created_at, event)


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    """Where a tree head was recorded on chain."""

    size: int
    root: bytes
    chain_id: int
    contract: str
    operator: str
    index: int
    tx_hash: str
    block_number: int
    block_time: int


def sign_anchor_record(
    node_secret: bytes, anchor: AnchorRecord, created_at: int, aux_rand: bytes
) -> Event:
    """The node's public note that `anchor` happened (kind 3962)."""
    tags = [
        ["size", str(anchor.size)],
        ["root", anchor.root.hex()],
        ["chain", str(anchor.chain_id)],
        ["contract", anchor.contract],
        ["operator", anchor.operator],
        ["index", str(anchor.index)],
        ["tx", anchor.tx_hash],
        ["block", str(anchor.block_number)],
        ["block_time", str(anchor.block_time)],
    ]
    return sign_event(
        node_secret,
        kind=ANCHOR_RECORD,
        content="",
        created_at=created_at,
        aux_rand=aux_rand,
        tags=tags,
    )


def parse_anchor_record(event: Event) -> AnchorRecord:
    """Verify and read a kind-3962 event."""
    verify_event(event)
    if event.kind != ANCHOR_RECORD:
        raise invalid(f"an anchor record is kind {ANCHOR_RECORD}")
    root = event.first_tag("root") or ""
    if not is_hex(root, 64):
        raise invalid("root tag must be 64 hex characters")
    return AnchorRecord(
        size=_int_tag(event, "size"),
        root=bytes.fromhex(root),
        chain_id=_int_tag(event, "chain"),
        contract=event.first_tag("contract") or "",
        operator=event.first_tag("operator") or "",
        index=_int_tag(event, "index"),
        tx_hash=event.first_tag("tx") or "",
        block_number=_int_tag(event, "block"),
        block_time=_int_tag(event, "block_time"),
    )
