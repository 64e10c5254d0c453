"""What the registry holds (`AnchorRecord`) and what sending an anchor returns (`AnchorReceipt`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnchorRecord:
    """Tree head `root` of `operator`'s log at `size` leaves, as stored in block `block_number`.

    `timestamp` is that block's timestamp: the event log had reached `size` leaves no later.
    """

    operator: str
    index: int
    root: bytes
    size: int
    timestamp: int
    block_number: int


@dataclass(frozen=True)
class AnchorReceipt:
    """An anchor this client sent: the record, its transaction and the gas it used.

    The chain has no cheap lookup from a transaction back to its anchor, so whoever needs
    `tx_hash` later keeps it from here (the node's ledger does).
    """

    record: AnchorRecord
    tx_hash: bytes
    gas_used: int
